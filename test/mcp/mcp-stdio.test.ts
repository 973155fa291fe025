/**
 * Black-box: MCP conversations with `hoopq mcp` over stdio through the SDK's own Client
 * (StdioClientTransport spawning the built binary), on a quickstart demo. Raw personal data
 * is read straight from the demo's DuckDB file, so the tests know exactly what must never
 * appear in a tool result.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { duckdbJsonRows } from '../fixtures/duckdb-json-rows.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOPQ, createDemo, hoopq, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let token: string;
let client: Client;
const raw = { emails: [] as string[], ssns: [] as string[], phones: [] as string[], altEmails: [] as string[] };
const J = 'black-box MCP test';

interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text: string }>;
}

const duckdbRows = (sql: string) => duckdbJsonRows(join(demo.dir, 'demo.duckdb'), sql);

/** An MCP client of `hoopq mcp` under this token (none when undefined). */
async function connect(tokenValue: string | undefined): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [HOOPQ, 'mcp'],
    env: { ...getDefaultEnvironment(), ...(tokenValue !== undefined ? { HOOPQ_TOKEN: tokenValue } : {}), HOOPQ_CONFIG: demo.config },
    cwd: demo.dir,
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const c = new Client({ name: 'hoopq-test', version: '1.0.0' });
  await c.connect(transport);
  return { client: c, stderr: () => err };
}

async function call(name: string, args: Record<string, unknown>, c: Client = client): Promise<ToolResult> {
  return (await c.callTool({ name, arguments: args })) as ToolResult;
}

function allText(r: ToolResult): string {
  return r.content.map((c) => c.text).join('\n');
}

/** The line `hoopq query` prints on stderr for the same SQL under the same token. */
function cliRefusal(sql: string, justification: string | null = J): string {
  const r = demo.run(['query', sql], { env: { HOOPQ_TOKEN: token, ...(justification ? { HOOPQ_JUSTIFICATION: justification } : {}) } });
  expect(r.code).not.toBe(0);
  return r.stderr.trim();
}

beforeAll(async () => {
  demo = createDemo();
  token = demo.mint('analyst-agent', 'mcp-bb');
  for (const r of await duckdbRows('SELECT email, ssn, phone, notes FROM crm.customers')) {
    raw.emails.push(String(r.email));
    raw.ssns.push(String(r.ssn));
    raw.phones.push(String(r.phone));
    for (const m of String(r.notes).matchAll(/[\w.]+@mail\.example\.org/g)) raw.altEmails.push(m[0]);
  }
  const session = await connect(token);
  client = session.client;
}, 60_000);

afterAll(async () => {
  await client?.close();
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
});

function expectNoRawPersonalData(text: string): void {
  for (const v of [...raw.emails, ...raw.altEmails, ...raw.ssns, ...raw.phones]) {
    expect(text.includes(v), `raw value ${v.slice(0, 3)}… leaked`).toBe(false);
  }
  // digits-only forms of SSNs and phones
  for (const v of [...raw.ssns, ...raw.phones]) expect(text.includes(v.replace(/\D/g, ''))).toBe(false);
}

describe('hoopq mcp over stdio', () => {
  it('initializes and lists the four tools with input schemas and policy-aware descriptions', async () => {
    expect(client.getServerVersion()?.name).toBe('hoopq');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['describe_table', 'explain', 'list_tables', 'query']);
    const query = tools.find((t) => t.name === 'query')!;
    expect(Object.keys(query.inputSchema.properties ?? {}).sort()).toEqual(['justification', 'sql']);
    // the policy requires a justification, so the schema does: a client knows before it calls
    expect(query.inputSchema.required).toEqual(['sql', 'justification']);
    expect(query.description).toContain('analyst-agent');
    expect(query.description).toContain('demo.crm.customers');
    expect(query.description).toContain('demo.crm.payment_cards');
    expect(query.description).toContain('demo.crm.customers.email -> hash');
    expect(query.description).toContain('Every query needs a justification');
    expect(tools.find((t) => t.name === 'describe_table')!.inputSchema.required).toEqual(['table']);
    expect(tools.find((t) => t.name === 'explain')!.inputSchema.required).toEqual(['sql']);
    expect(client.getInstructions()).toContain('policy "analyst-agent"');
  });

  it('query: an allowed query returns exactly DuckDB\'s rows, as JSON', async () => {
    const sql = 'SELECT event_type, count(*) AS n, sum(amount) AS total FROM analytics.events GROUP BY event_type ORDER BY event_type';
    const r = await call('query', { sql, justification: J });
    expect(r.isError).toBeFalsy();
    expect(JSON.parse(r.content[0]!.text)).toEqual(await duckdbRows(sql));
    expect(r.content[1]!.text).toMatch(/^6 rows\. .*Audit record [0-9a-f-]{36}\.$/);
  });

  it('query: masked columns and free text never carry raw personal data; the note says what was masked and cut', async () => {
    const r = await call('query', { sql: 'SELECT id, name, email, ssn, phone, notes FROM customers ORDER BY id', justification: J });
    expect(r.isError).toBeFalsy();
    const text = allText(r);
    expectNoRawPersonalData(text);
    const rows = JSON.parse(r.content[0]!.text) as Array<Record<string, string>>;
    expect(rows).toHaveLength(100);
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.email!) && row.ssn === '[REDACTED]' && /^\*+\d{4}$/.test(row.phone!))).toBe(true);
    const note = r.content[1]!.text;
    expect(note).toContain('demo.crm.customers.email=hash');
    expect(note).toContain('demo.crm.customers.ssn=redact');
    expect(note).toContain('demo.crm.customers.phone=partial');
    expect(note).toContain('Result cut at 100 rows');
    expect(note).toMatch(/Personal data found in text and replaced: .*email \d+/);
  });

  it('query: progress notifications while it runs when the call carries a progress token; increasing, rows so far', async () => {
    const seen: Array<{ progress: number; message?: string }> = [];
    const r = (await client.callTool({ name: 'query', arguments: { sql: 'SELECT id FROM analytics.events ORDER BY id LIMIT 50', justification: J } }, undefined, {
      onprogress: (p) => seen.push(p),
    })) as ToolResult;
    expect(r.isError).toBeFalsy();
    expect(seen[0], JSON.stringify(seen)).toEqual({ progress: 0, message: 'running' });
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.progress).toBeGreaterThan(seen[i - 1]!.progress);
      expect(seen[i]!.progress).toBeLessThanOrEqual(50);
    }
  });

  it('logging: the server has the capability; messages respect the level the client set', async () => {
    expect(client.getServerCapabilities()?.logging).toBeDefined();
    const logs: Array<{ level: string; data: unknown }> = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    await client.setLoggingLevel('info');
    expect((await call('query', { sql: 'SELECT 1 AS x', justification: J })).isError).toBeFalsy();
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', data: 'query checked and running under policy analyst-agent' }));
    logs.length = 0;
    await client.setLoggingLevel('warning');
    expect((await call('query', { sql: 'SELECT 1 AS x', justification: J })).isError).toBeFalsy();
    expect(logs).toEqual([]);
  });

  it('query: masks hold inside expressions and predicates', async () => {
    const r = await call('query', { sql: `SELECT upper(email) AS e, reverse(ssn) AS s, phone || '' AS p FROM customers WHERE id < 30`, justification: J });
    expect(r.isError).toBeFalsy();
    expectNoRawPersonalData(allText(r));
    const hit = await call('query', { sql: `SELECT count(*) AS n FROM customers WHERE ssn = '${raw.ssns[0]}' OR email = '${raw.emails[0]}'`, justification: J });
    expect(Number(JSON.parse(hit.content[0]!.text)[0].n)).toBe(0); // BIGINT comes back as a string, as bq's json
  });

  it('query: a denied table is an isError result with the CLI\'s exact message, naming what to read instead', async () => {
    const sql = 'SELECT * FROM crm.payment_cards';
    const r = await call('query', { sql, justification: J });
    expect(r.isError).toBe(true);
    expect(r.content).toHaveLength(1);
    expect(r.content[0]!.text).toBe(cliRefusal(sql));
    expect(r.content[0]!.text).toContain('is denied by policy analyst-agent (rule tables.deny "demo.crm.payment_cards")');
    expect(r.content[0]!.text).toContain('You may read instead: demo.crm.customers (masked: ');
  });

  it('query: a missing or empty justification is refused by the schema, naming the rule', async () => {
    const sql = 'SELECT count(*) FROM analytics.events';
    const before = demo.auditRecords().length;
    for (const args of [{ sql }, { sql, justification: '' }]) {
      const r = await call('query', args);
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toContain('a justification is required by policy analyst-agent (rule require_justification)');
    }
    expect(demo.auditRecords().length).toBe(before); // refused before anything ran
  });

  it.each([
    ["SELECT * FROM read_csv('/etc/passwd')"],
    ["SELECT * FROM '/etc/passwd'"],
    ["SELECT content FROM read_text('/etc/hostname')"],
    ["COPY (SELECT 1) TO '/tmp/hoopq-mcp-x.csv'"],
  ])('query: file access is refused: %s', async (sql) => {
    const r = await call('query', { sql, justification: J });
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toMatch(/^hoopq: refused/);
    expect(r.content[0]!.text).not.toContain('root:');
    expect(r.content[0]!.text).toBe(cliRefusal(sql));
  });

  it('explain: a DELETE is explained as denied by the statements rule, and nothing runs', async () => {
    const before = demo.warehouseSha256();
    const r = await call('explain', { sql: 'DELETE FROM analytics.events WHERE id < 10' });
    expect(r.isError).toBeFalsy();
    const e = JSON.parse(r.content[0]!.text);
    expect(e).toMatchObject({ statements: ['delete'], decision: 'deny', rule: 'statements', policy: { name: 'analyst-agent' } });
    expect(e.hint).toContain('allowed statement kinds: select');
    expect(e.tables.write).toEqual(['demo.analytics.events']);
    expect(demo.warehouseSha256()).toBe(before);
  });

  it('explain: an allowed query shows the masks that would apply', async () => {
    const r = await call('explain', { sql: 'SELECT email FROM customers', justification: J });
    const e = JSON.parse(r.content[0]!.text);
    expect(e.decision).toBe('allow');
    expect(e.masks).toMatchObject({ 'demo.crm.customers.email': 'hash' });
  });

  it('list_tables: only what the policy lets the run read, masks marked; payment cards and views over them are not listed', async () => {
    const r = await call('list_tables', {});
    expect(r.isError).toBeFalsy();
    const listing = JSON.parse(r.content[0]!.text);
    const names = listing.tables.map((t: { table: string }) => t.table);
    expect(names).toContain('demo.crm.customers');
    expect(names).toContain('demo.analytics.events');
    expect(names).not.toContain('demo.crm.payment_cards');
    expect(names).not.toContain('demo.analytics.card_spend');
    expect(names.some((n: string) => n.startsWith('demo.scratch.'))).toBe(false);
    expect(listing.tables.find((t: { table: string }) => t.table === 'demo.crm.customers').masked).toMatchObject({
      'demo.crm.customers.email': 'hash',
      'demo.crm.customers.ssn': 'redact',
      'demo.crm.customers.phone': 'partial',
    });
    const crm = JSON.parse((await call('list_tables', { dataset: 'demo:crm' })).content[0]!.text);
    expect(crm.tables.map((t: { table: string }) => t.table).sort()).toEqual(['demo.crm.customer_directory', 'demo.crm.customers']);
  });

  it('describe_table: columns with their masks; a denied table is refused like a query of it', async () => {
    const d = JSON.parse((await call('describe_table', { table: 'crm.customers' })).content[0]!.text);
    expect(d.table).toBe('demo.crm.customers');
    const mask = Object.fromEntries(d.columns.map((c: { name: string; mask: string | null }) => [c.name, c.mask]));
    expect(mask).toMatchObject({ id: null, name: null, email: 'hash', ssn: 'redact', phone: 'partial', notes: null });
    expect(d.detect).toContain('email');
    const colon = JSON.parse((await call('describe_table', { table: 'demo:crm.customers' })).content[0]!.text);
    expect(colon.columns).toEqual(d.columns);
    const denied = await call('describe_table', { table: 'demo:crm.payment_cards' });
    expect(denied.isError).toBe(true);
    expect(denied.content[0]!.text).toContain('(rule tables.deny "demo.crm.payment_cards")');
    expect(denied.content[0]!.text).not.toContain('card_number');
    const view = await call('describe_table', { table: 'analytics.card_spend' });
    expect(view.isError).toBe(true);
    expect(view.content[0]!.text).toContain('demo.crm.payment_cards');
  });

  it('every call is in the audit log, which verifies', async () => {
    const records = demo.auditRecords();
    const mcp = records.filter((r) => r.via === 'mcp');
    expect(mcp.some((r) => r.event === 'query' && r.decision === 'allow' && r.masked.columns['demo.crm.customers.email'] === 'hash')).toBe(true);
    expect(mcp.some((r) => r.event === 'query' && r.decision === 'deny' && r.rule === 'tables.deny')).toBe(true);
    expect(mcp.some((r) => r.event === 'catalog.list' && r.decision === 'allow')).toBe(true);
    expect(mcp.some((r) => r.event === 'catalog.describe' && r.decision === 'deny')).toBe(true);
    const log = JSON.stringify(records);
    for (const v of [...raw.emails, ...raw.ssns]) expect(log.includes(v)).toBe(false);
    expect(log.includes(token)).toBe(false);
    expect(demo.run(['audit', 'verify']).code).toBe(0);
  });
});

describe('hoopq mcp start-up and revocation', () => {
  it.each([
    ['no token', undefined],
    ['an empty HOOPQ_TOKEN', ''],
    ['a forged token', 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln'],
  ])('%s: still served; every tool call is answered with the refusal the CLI prints', async (_what, bad) => {
    const cli = hoopq(['query', 'SELECT 1'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...(bad !== undefined ? { HOOPQ_TOKEN: bad } : {}) } });
    expect(cli.code).toBe(4);
    const { client: c, stderr } = await connect(bad);
    try {
      expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual(['describe_table', 'explain', 'list_tables', 'query']);
      for (const [name, args] of [['query', { sql: 'SELECT 1' }], ['list_tables', {}], ['describe_table', { table: 'crm.customers' }], ['explain', { sql: 'SELECT 1' }]] as const) {
        const r = await call(name, args, c);
        expect(r.isError, name).toBe(true);
        expect(r.content[0]!.text).toBe(cli.stderr.trim());
      }
      expect(stderr()).toContain(cli.stderr.trim());
    } finally {
      await c.close();
    }
  });

  it('a refused session exits 4 once the client has gone; the answers came first', () => {
    const messages = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query', arguments: { sql: 'SELECT 1' } } },
    ];
    const r = hoopq(['mcp'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config }, input: messages.map((m) => JSON.stringify(m)).join('\n') + '\n' });
    expect(r.code).toBe(4);
    const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; result: { isError?: boolean; content?: Array<{ text: string }> } });
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[1]!.result.isError).toBe(true);
    expect(answers[1]!.result.content![0]!.text).toMatch(/^hoopq: run token refused: no run token was given/);
  });

  it('a run revoked mid-session is refused on the next call', async () => {
    const own = demo.mint('analyst-agent', 'mcp-revoked');
    const session = await connect(own);
    try {
      const ok = await call('query', { sql: 'SELECT 1 AS x', justification: J }, session.client);
      expect(ok.isError).toBeFalsy();
      expect(demo.run(['token', 'revoke', '--run', 'mcp-revoked']).code).toBe(0);
      const r = await call('query', { sql: 'SELECT 1 AS x', justification: J }, session.client);
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toMatch(/^hoopq: .*revoked/);
      expect((await call('list_tables', {}, session.client)).isError).toBe(true);
    } finally {
      await session.client.close();
    }
  });
});
