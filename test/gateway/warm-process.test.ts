/**
 * Black-box: the long-lived processes keep their engine, policies, keys and state open
 * between queries (issue 15), and being warm changes nothing they decide: a policy edited on
 * disk, a run revoked from another process and a key rotated from another process are all
 * seen on the next query, by `hoopq mcp` (stdio) and by `hoopq gateway`. Concurrent queries'
 * audit records share fsyncs (group commit), and the gateway's metrics show it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOPQ, createDemoInMode, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
const POLICY = (tables: string) => `name: warm\nstatements: [select]\ntables:\n  read: [${tables}]\nrequire_justification: false\n`;

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  writeFileSync(join(demo.dir, 'policies', 'warm.yaml'), POLICY('"demo.analytics.*", "demo.crm.customers"'));
});

afterAll(async () => {
  await demo.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

async function mcpClient(token: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [HOOPQ, 'mcp'],
    env: { ...getDefaultEnvironment(), HOOPQ_TOKEN: token, HOOPQ_CONFIG: demo.config },
    cwd: demo.dir,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'warm-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function mcpQuery(client: Client, sql: string): Promise<{ isError: boolean; text: string }> {
  const r = (await client.callTool({ name: 'query', arguments: { sql } })) as { isError?: boolean; content: Array<{ text: string }> };
  return { isError: Boolean(r.isError), text: r.content.map((c) => c.text).join('\n') };
}

/**
 * One request on a fresh connection: a keep-alive socket the gateway closes after 5 s idle
 * can race a reused request (undici's "other side closed") while the CLI steps run.
 */
function httpRequest(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function httpQuery(token: string, sql: string): Promise<{ ok: boolean; code?: string }> {
  const res = await httpRequest('POST', '/v1/query', JSON.stringify({ sql, format: 'json' }), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
  const b = res.bytes;
  if (res.type.includes('application/json')) return { ok: false, code: (JSON.parse(b.toString()) as { error: { code: string } }).error.code };
  let at = 0;
  let end: { ok: boolean; error?: { code: string } } | undefined;
  while (at < b.length) {
    const len = b.readUInt32BE(at + 1);
    if (b[at] === 0x45) end = JSON.parse(b.subarray(at + 5, at + 5 + len).toString());
    at += 5 + len;
  }
  return { ok: Boolean(end?.ok), code: end?.error?.code };
}

const CUSTOMERS = 'SELECT count(*) AS n FROM crm.customers';
// the reloading policy port looks at the folder at most every 500 ms
const RELOAD_MS = 700;

describe('a warm `hoopq mcp`', () => {
  it('sees a policy edited on disk on its next call, both ways', async () => {
    writeFileSync(join(demo.dir, 'policies', 'warm.yaml'), POLICY('"demo.analytics.*", "demo.crm.customers"'));
    const client = await mcpClient(demo.mint('warm', 'warm-mcp-policy'));
    try {
      expect((await mcpQuery(client, CUSTOMERS)).isError).toBe(false);
      writeFileSync(join(demo.dir, 'policies', 'warm.yaml'), POLICY('"demo.analytics.*"'));
      await sleep(RELOAD_MS);
      const denied = await mcpQuery(client, CUSTOMERS);
      expect(denied.isError).toBe(true);
      expect(denied.text).toContain('crm.customers');
      writeFileSync(join(demo.dir, 'policies', 'warm.yaml'), POLICY('"demo.analytics.*", "demo.crm.customers"'));
      await sleep(RELOAD_MS);
      const after = await mcpQuery(client, CUSTOMERS);
      expect(after.isError).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('refuses the next call once the run is revoked from another process', async () => {
    const client = await mcpClient(demo.mint('warm', 'warm-mcp-revoked'));
    try {
      expect((await mcpQuery(client, 'SELECT 1 AS one')).isError).toBe(false);
      expect(demo.admin(['token', 'revoke', '--run', 'warm-mcp-revoked']).code).toBe(0);
      const refused = await mcpQuery(client, 'SELECT 1 AS one');
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/run warm-mcp-revoked was revoked/);
    } finally {
      await client.close();
    }
  });
});

describe('a warm gateway', () => {
  it('sees a policy edited on disk, a revocation and a key rotation made by other processes', async () => {
    writeFileSync(join(demo.dir, 'policies', 'warm.yaml'), POLICY('"demo.analytics.*", "demo.crm.customers"'));
    await sleep(RELOAD_MS);
    const token = demo.mint('warm', 'warm-gw');
    expect(await httpQuery(token, CUSTOMERS)).toEqual({ ok: true, code: undefined });
    writeFileSync(join(demo.dir, 'policies', 'warm.yaml'), POLICY('"demo.analytics.*"'));
    await sleep(RELOAD_MS);
    expect(await httpQuery(token, CUSTOMERS)).toMatchObject({ ok: false });
    expect(await httpQuery(token, 'SELECT 1 AS one')).toEqual({ ok: true, code: undefined });

    // a key rotated by the operator's CLI: tokens signed with the new key verify at once
    expect(demo.admin(['keys', 'rotate']).code).toBe(0);
    const fresh = demo.mint('warm', 'warm-gw-rotated');
    expect(await httpQuery(fresh, 'SELECT 1 AS one')).toEqual({ ok: true, code: undefined });

    expect(demo.admin(['token', 'revoke', '--run', 'warm-gw-rotated']).code).toBe(0);
    expect(await httpQuery(fresh, 'SELECT 1 AS one')).toEqual({ ok: false, code: 'token.revoked' });
  });

  it('concurrent queries share audit fsyncs: the metrics show group commits of more than one record, and every query has its two records', async () => {
    // 16 runs, two queries each: a run runs at most 2 queries at once (fair share), so the
    // concurrency that group commit is about comes from several runs
    const tokens = Array.from({ length: 16 }, (_, i) => demo.mint('warm', `warm-gw-group-${i}`));
    const metrics = async () => {
      const text = (await httpRequest('GET', '/metrics')).bytes.toString();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      return { commits: value('hoopq_gateway_audit_group_commit_records_count'), records: value('hoopq_gateway_audit_group_commit_records_sum'), queue: value('hoopq_gateway_query_queue_depth') };
    };
    const before = await metrics();
    const recordsBefore = demo.auditRecords().length;
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => httpQuery(tokens[i % 16]!, 'SELECT 1 AS one')));
    expect(results.every((r) => r.ok)).toBe(true);
    const after = await metrics();
    const written = after.records - before.records;
    expect(written).toBe(64);
    expect(after.commits - before.commits).toBeLessThan(64);
    expect(after.queue).toBe(0);
    const records = demo.auditRecords().slice(recordsBefore);
    expect(records).toHaveLength(64);
    const intents = records.filter((r) => r.event === 'query.intent');
    expect(intents).toHaveLength(32);
    for (const intent of intents) {
      const outcome = records.find((r) => r.intent === intent.id);
      expect(outcome?.decision).toBe('allow');
      expect(outcome!.seq).toBeGreaterThan(intent.seq);
    }
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
    expect(readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8').endsWith('\n')).toBe(true);
  });
});
