/**
 * The MCP server in-process, through the SDK's Client over a linked in-memory transport,
 * on a real demo warehouse with real tokens. The parts are built for the test (a memory
 * audit sink), not mocked. What the black-box stdio suite (test/mcp) cannot see easily:
 * the result cap in bytes, and that the rows shown are exactly what the audit digest covers.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import { mintRunToken } from '../identity/run-token.js';
import { verifyRunToken } from '../identity/run-token.js';
import { openStateStore, thisProcessUnit, type StateStore } from '../identity/state-store.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';
import { createPolicyCatalog } from '../policy/policy-catalog.js';
import { createDemoWarehouse } from '../quickstart/create-demo-warehouse.js';
import { openWarehouse } from '../warehouse/open-warehouse.js';
import { createMcpServer, openMcpSession, type HoopqMcpServer } from './create-mcp-server.js';
import { TEST_HASH_KEY } from '../../test/fixtures/test-hash-key.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-mcp-'));
const records: AuditRecordBody[] = [];
let state: StateStore;
let parts: PipelineParts;
let mcp: HoopqMcpServer;
let client: Client;

interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text: string }>;
}

beforeAll(async () => {
  const config: HoopqConfig = {
    file: join(dir, 'hoopq.yaml'),
    dir,
    warehouse: { kind: 'duckdb', path: join(dir, 'demo.duckdb'), defaultProject: 'demo', defaultDataset: 'crm' },
    policiesDir: resolve(import.meta.dirname, '../../policies'),
    audit: { kind: 'file', path: join(dir, 'unused.jsonl') },
    keysDir: join(dir, 'keys'),
    statePath: join(dir, 'state.sqlite'),
    checkpointEvery: 1000,
  };
  await createDemoWarehouse(config.warehouse.path!);
  state = openStateStore(config.statePath);
  const sink: AuditSink = {
    async append(body) {
      records.push(structuredClone(body));
      return { ...body, seq: records.length, prev: '', hash: '' } as AuditRecord;
    },
    async close() {},
  };
  parts = {
    config,
    policies: createPolicyCatalog(config.policiesDir),
    identity: {
      verify: (t) => verifyRunToken(t, { keysDir: config.keysDir, state }),
      consumeBudget: async (identity, limit, intent) => state.consumeQueryBudget(identity.run, limit, thisProcessUnit(intent)),
      checkBudget: async (identity, limit) => ({ ok: state.queriesStarted(identity.run) < limit, used: state.queriesStarted(identity.run), limit }),
      settleQuery: async (intent) => state.settleQuery(intent),
      refundQuery: async (intent) => {
        state.refundQuery(intent);
      },
      keepOutcome: async (intent, outcome) => state.keepOutcome(intent, JSON.stringify(outcome)),
      watchRevocation: (identity, onRevoked) => state.watchRevocation(identity, onRevoked),
    },
    openWarehouse: ({ writable }) => openWarehouse(config.warehouse, { writable, hashKey: TEST_HASH_KEY }),
    audit: async () => sink,
    now: () => new Date(),
  };
  const policy = parts.policies.get('analyst-agent')!;
  const { token } = await mintRunToken({ keysDir: config.keysDir, policy, run: 'mcp-unit', subject: 'test', state });
  mcp = createMcpServer(parts, await openMcpSession(parts, token), { version: '9.9.9' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await mcp.server.connect(serverSide);
  client = new Client({ name: 'unit', version: '1' });
  await client.connect(clientSide);
});

afterAll(async () => {
  await client?.close();
  await mcp?.shutdown();
  state?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function query(sql: string): Promise<ToolResult> {
  return (await client.callTool({ name: 'query', arguments: { sql, justification: 'unit test' } })) as ToolResult;
}

function outcomeOf(note: string): AuditRecordBody {
  const id = /Audit record ([0-9a-f-]{36})\./.exec(note)![1];
  return records.find((r) => r.id === id)!;
}

describe('createMcpServer', () => {
  it('shows exactly the bytes the audit digest covers when the result fits', async () => {
    const r = await query('SELECT id, city FROM customers ORDER BY id LIMIT 5');
    expect(r.isError).toBeFalsy();
    const record = outcomeOf(r.content[1]!.text);
    expect(record).toMatchObject({ event: 'query', decision: 'allow', rows: 5, via: 'mcp', tool: 'query' });
    expect(createHash('sha256').update(r.content[0]!.text).digest('hex')).toBe(record.result_sha256);
  });

  it('caps the result at 100 rows and 64 KiB of whole rows, and says what it left out', async () => {
    const r = await query("SELECT id, repeat('x', 2000) AS wide FROM analytics.events ORDER BY id");
    const text = r.content[0]!.text;
    const rows = JSON.parse(text) as Array<{ id: number }>;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(64 * 1024);
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.length).toBeLessThan(100);
    expect(rows.map((x) => x.id)).toEqual(rows.map((_, i) => i + 1));
    const note = r.content[1]!.text;
    expect(note).toMatch(new RegExp(`^100 rows\\. Only the first ${rows.length} are shown: a tool result is capped at 64 KiB`));
    expect(note).toContain('Result cut at 100 rows: a tool result carries at most 100');
    expect(outcomeOf(note)).toMatchObject({ rows: 100, truncated: true });
  });

  it('reports masks and detector counts as the audit record has them', async () => {
    const r = await query('SELECT email, notes FROM customers ORDER BY id LIMIT 20');
    const record = outcomeOf(r.content[1]!.text);
    // only the masks of columns the SQL reads: email, not the table's ssn and phone
    expect(r.content[1]!.text).toContain('Masked by policy analyst-agent: demo.crm.customers.email=hash. ');
    expect(r.content[1]!.text).not.toMatch(/ssn=|phone=/);
    expect(record.masked.columns).toMatchObject({ 'demo.crm.customers.ssn': 'redact' }); // the audit record keeps every planned mask
    const detected = Object.entries(record.masked.detected).filter(([, n]) => n > 0);
    expect(detected.length).toBeGreaterThan(0);
    for (const [d, n] of detected) expect(r.content[1]!.text).toContain(`${d} ${n}`);
  });

  it('turns a refusal into an isError result and records it', async () => {
    const before = records.length;
    const r = await query('SELECT * FROM payment_cards');
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toMatch(/^hoopq: refused: reading demo\.crm\.payment_cards is denied/);
    expect(records.slice(before).some((x) => x.decision === 'deny' && x.rule === 'tables.deny')).toBe(true);
  });

  it('rejects arguments that break the input schema without running anything', async () => {
    const before = records.length;
    const r = (await client.callTool({ name: 'query', arguments: { sql: '' } })) as ToolResult;
    expect(r.isError).toBe(true);
    expect(records.length).toBe(before);
  });

  it('list_tables and describe_table answer under the policy and are recorded', async () => {
    const list = (await client.callTool({ name: 'list_tables', arguments: {} })) as ToolResult;
    const tables = JSON.parse(list.content[0]!.text).tables as Array<{ table: string; kind: string }>;
    expect(tables.map((t) => t.table)).toEqual([
      'demo.analytics.daily_events',
      'demo.analytics.events',
      'demo.crm.customer_directory',
      'demo.crm.customers',
    ]);
    expect(tables.find((t) => t.table === 'demo.crm.customer_directory')!.kind).toBe('view');
    const described = (await client.callTool({ name: 'describe_table', arguments: { table: 'customer_directory' } })) as ToolResult;
    const d = JSON.parse(described.content[0]!.text);
    expect(d).toMatchObject({ table: 'demo.crm.customer_directory', kind: 'view', masked_at_source: { 'demo.crm.customers.email': 'hash' } });
    const missing = (await client.callTool({ name: 'describe_table', arguments: { table: 'analytics.evnts' } })) as ToolResult;
    expect(missing.isError).toBe(true);
    expect(missing.content[0]!.text).toBe(
      'hoopq: refused: demo.analytics.evnts does not exist. You may read instead: demo.analytics.events, demo.analytics.daily_events; ' +
        'check the name; list_tables (or hoopq ls) shows the tables you may read.',
    );
    const kinds = records.slice(-3).map((r) => [r.event, r.decision]);
    expect(kinds).toEqual([
      ['catalog.list', 'allow'],
      ['catalog.describe', 'allow'],
      ['catalog.describe', 'deny'],
    ]);
  });
});
