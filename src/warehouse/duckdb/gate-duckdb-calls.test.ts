import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { createEngineCallGate, type EngineCallScope } from '../engine-call-gate.js';
import { gateDuckDbCalls } from './gate-duckdb-calls.js';

const LONG_SQL = 'SELECT count(*) FROM range(100000) a, range(100000) b, range(100000) c WHERE a.range + b.range + c.range < 0';

describe('gateDuckDbCalls', () => {
  it('passes every async engine call of the instance and what comes from it through the scope', async () => {
    const calls: string[] = [];
    const counting: EngineCallScope = { run: (call) => (calls.push('call'), call()) };
    const instance = gateDuckDbCalls(await DuckDBInstance.create(':memory:'), counting);
    const connection = await instance.connect();
    expect(connection).toBeInstanceOf(DuckDBConnection);
    const extracted = await connection.extractStatements('SELECT 42 AS answer');
    const prepared = await extracted.prepare(0);
    const result = await prepared.stream();
    expect(result.columnNames()).toEqual(['answer']); // synchronous: not a call through the gate
    const chunk = await result.fetchChunk();
    expect(chunk?.getRows()).toEqual([[42]]);
    // connect, extractStatements, prepare, stream, fetchChunk
    expect(calls).toHaveLength(5);
    prepared.destroySync();
    connection.closeSync();
    instance.closeSync();
  });

  it('makes a call wait while the run is at its limit, and interrupt() reaches the running query at once', async () => {
    const gate = createEngineCallGate({ maxInFlight: 4, maxPerRun: 1 });
    const instance = gateDuckDbCalls(await DuckDBInstance.create(':memory:'), gate.scope('run-a'));
    const raw = await DuckDBInstance.create(':memory:');
    const busy = await instance.connect();
    const other = await raw.connect(); // connected before the slot is taken
    const long = busy.run(LONG_SQL).then(
      () => 'finished',
      () => 'interrupted',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gate.load()).toEqual({ inFlight: 1, waiting: 0 });
    // the same run's next call waits behind the long one …
    let connected = false;
    const next = instance.connect().then((c) => ((connected = true), c));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connected).toBe(false);
    expect(gate.load()).toEqual({ inFlight: 1, waiting: 1 });
    // … another run's calls do not
    const otherRun = gateDuckDbCalls(other, gate.scope('run-b'));
    expect((await otherRun.runAndReadAll('SELECT 1 AS one')).getRows()).toEqual([[1]]);
    busy.interrupt();
    expect(await long).toBe('interrupted');
    (await next).closeSync();
    expect(connected).toBe(true);
    expect(gate.load()).toEqual({ inFlight: 0, waiting: 0 });
    busy.closeSync();
    other.closeSync();
    instance.closeSync();
    raw.closeSync();
  });

  it('a call waiting at the gate when its connection is interrupted never starts (DuckDB would forget the interrupt and run the whole query)', async () => {
    const gate = createEngineCallGate({ maxInFlight: 4, maxPerRun: 1 });
    const instance = gateDuckDbCalls(await DuckDBInstance.create(':memory:'), gate.scope('run-a'));
    const holder = await instance.connect();
    const victim = await instance.connect();
    const prepared = await victim.prepare(LONG_SQL);
    const busy = holder.run(LONG_SQL).then(
      () => 'finished',
      () => 'interrupted',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stream = prepared.stream(); // waits: the run's one slot is taken
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(gate.load()).toEqual({ inFlight: 1, waiting: 1 });
    victim.interrupt(); // nothing of the victim executes yet
    holder.interrupt();
    const started = Date.now();
    await expect(stream).rejects.toThrow(/^INTERRUPT Error/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await busy).toBe('interrupted');
    prepared.destroySync();
    for (const c of [holder, victim]) c.closeSync();
    instance.closeSync();
  });
});
