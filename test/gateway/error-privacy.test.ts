/**
 * Black-box: errors are results too. SQL whose engine error quotes personal data (a cast of
 * aggregated free-text notes, a value computed from a literal) through every face — the CLI
 * in direct mode, the remote CLI, raw HTTP, MCP over HTTP — must leave no e-mail, phone, SSN
 * or card number in stderr, HTTP bodies, MCP results, the gateway's log or the audit log,
 * and must not show hoopq's rewrite; the class and code survive, and the operator can still
 * open the original text (`audit show --unseal`). Raw values are read from the demo's DuckDB
 * file, so the test knows exactly what must never appear.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hoopqAsync, readDemoRows, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
let token: string;
const raw: string[] = [];
const J = { HOOPQ_JUSTIFICATION: 'errors are results too' };

/** Shapes of personal data (the demo's SSNs, e-mails, phones), and every raw value by name. */
const SHAPES = [/\b\d{3}-\d{2}-\d{4}\b/, /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z.]{2,}/, /\+1-\d{3}-555-\d{4}/];

function expectNoPersonalData(where: string, text: string): void {
  for (const shape of SHAPES) expect(shape.exec(text)?.[0], `${where}: ${shape}`).toBeUndefined();
  for (const v of raw) expect(text.includes(v), `${where}: a raw value (${v.slice(0, 4)}…) leaked`).toBe(false);
}


const CASES = [
  {
    name: 'the notes that contain an e-mail, aggregated and cast to INTEGER',
    sql: "SELECT CAST(string_agg(notes, ', ') AS INTEGER) FROM crm.customers WHERE notes LIKE '%@%'",
    message: /Conversion Error: Could not convert string '…' to INT32 when casting from source column string_agg\(notes\)/,
  },
  {
    name: 'the notes that contain a phone number, aggregated and cast',
    sql: "SELECT CAST(string_agg(notes, ' ') AS DOUBLE) FROM crm.customers WHERE notes LIKE 'Called%'",
    message: /Conversion Error/,
  },
  {
    name: 'a value computed from a literal (reverse of a reversed SSN)',
    sql: "SELECT CAST(reverse('9876-54-321') AS DATE)",
    message: /Conversion Error: invalid date field format: "…"/,
  },
  { name: 'a masked column cast (the error would show the mask rewrite)', sql: 'SELECT CAST(email AS INTEGER) FROM crm.customers', message: /Conversion Error/ },
  { name: 'error() of free text', sql: 'SELECT error(notes) FROM crm.customers WHERE id = 5', message: /Invalid Input Error/ },
];

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  token = demo.mint('analyst-agent', 'errors-are-results');
  for (const r of await readDemoRows(demo.dir, 'SELECT email, phone, ssn, notes FROM demo.crm.customers')) {
    raw.push(String(r.email), String(r.phone), String(r.ssn));
    const alt = /[\w.]+@mail\.example\.org/.exec(String(r.notes));
    if (alt) raw.push(alt[0]);
  }
  for (const r of await readDemoRows(demo.dir, 'SELECT card_number FROM demo.crm.payment_cards')) raw.push(String(r.card_number));
  raw.push('123-45-6789');
}, 60_000);

afterAll(async () => {
  await demo.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

describe('an engine error that quotes data reaches nobody as it is', () => {
  for (const c of CASES) {
    it(`${c.name}: CLI (direct and remote), HTTP and MCP`, async () => {
      // (async: a blocking spawn would stall this process's keep-alive sockets; see mcp-http.test.ts)
      const env = { HOOPQ_TOKEN: token, ...J };
      const [direct, remote, json] = await Promise.all([
        hoopqAsync(['query', c.sql], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...env } }),
        demo.runAsync(['query', c.sql], { env }),
        demo.runAsync(['query', '--format', 'json', c.sql], { env }),
      ]);
      for (const [where, r] of [['direct', direct], ['remote', remote], ['remote json', json]] as const) {
        expect(r.code, where).toBe(7);
        expect(r.stdout, where).toBe('');
        expectNoPersonalData(`${where} stderr`, r.stderr);
        const message = where === 'remote json' ? JSON.parse(r.stderr).message : r.stderr;
        expect(message, where).toMatch(c.message);
        expect(message, where).not.toMatch(/LINE \d|REPLACE|sha256\(|\^/); // never hoopq's rewrite
      }
      expect(remote.stderr).toBe(direct.stderr); // one message, whichever way it came in

      const http = await fetch(url + '/v1/query', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ sql: c.sql, justification: J.HOOPQ_JUSTIFICATION, format: 'json' }),
      });
      expect(http.status).toBe(502);
      const body = await http.text();
      expectNoPersonalData('HTTP body', body);
      expect(JSON.parse(body).error).toMatchObject({ exit: 7, code: 'warehouse.sql_error', rule: 'warehouse.sql' });

      const transport = new StreamableHTTPClientTransport(new URL('/v1/mcp', url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
      const client = new Client({ name: 'errors-are-results', version: '1' });
      await client.connect(transport);
      try {
        const result = (await client.callTool({ name: 'query', arguments: { sql: c.sql, justification: J.HOOPQ_JUSTIFICATION } })) as { isError?: boolean; content: Array<{ text: string }> };
        expect(result.isError).toBe(true);
        const text = result.content.map((x) => x.text).join('\n');
        expectNoPersonalData('MCP result', text);
        expect(text).toMatch(c.message);
      } finally {
        await client.close();
      }
    });
  }

  it('nothing of it is in the audit log or the gateway\'s log; the operator can open the original', () => {
    const log = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8');
    expectNoPersonalData('audit log', log);
    expectNoPersonalData('gateway log', demo.gateway!.stderr());
    const refused = demo.auditRecords().filter((r) => r.event === 'query' && r.code === 'warehouse.sql_error');
    // each case, four times over (direct, remote pretty, remote json, HTTP) plus MCP
    expect(refused.length).toBeGreaterThanOrEqual(CASES.length * 5);
    for (const r of refused) {
      expect(r.reason_sealed, r.id).toMatch(/^v1:/);
      expect(r.reason).not.toMatch(/LINE \d|REPLACE/);
    }
    const reversed = refused.find((r) => /reverse/.test(String(r.sql)))!;
    const shown = demo.admin(['audit', 'show', reversed.id, '--unseal']);
    expect(shown.code).toBe(0);
    const opened = JSON.parse(shown.stdout).unsealed;
    expect(opened.reason).toContain('123-45-6789'); // the engine's own words, for the operator only
    expect(opened.sql).toBe("SELECT CAST(reverse('9876-54-321') AS DATE)");
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  });
});
