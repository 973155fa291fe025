/**
 * Black-box: the smuggling attacks of test/cli/smuggling-suite.ts as MCP `query` tool calls
 * to `hoopq mcp` over stdio (the SDK's own client): a refusal is a tool result with
 * isError, an allowed one returns only what the policy allows, and no card number or raw
 * e-mail / SSN appears in any result.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOPQ, createDemo, type Demo } from '../cli/cli-harness.js';
import { READER_ATTACKS, leakIn, readSecrets, type Secrets } from '../cli/smuggling-suite.js';

let demo: Demo;
let client: Client;
let secrets: Secrets;

beforeAll(async () => {
  demo = createDemo();
  secrets = await readSecrets(demo.dir);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [HOOPQ, 'mcp'],
    env: { ...getDefaultEnvironment(), HOOPQ_TOKEN: demo.mint('analyst-agent', 'smuggle-mcp'), HOOPQ_CONFIG: demo.config },
    cwd: demo.dir,
    stderr: 'pipe',
  });
  client = new Client({ name: 'hoopq-smuggling-test', version: '1.0.0' });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

describe('statement smuggling over MCP', () => {
  it.each(READER_ATTACKS)('%s', async (_what, sql, codes) => {
    const result = (await client.callTool({ name: 'query', arguments: { sql, justification: 'smuggling test' } })) as { isError?: boolean; content: Array<{ text: string }> };
    const text = result.content.map((c) => c.text).join('\n');
    expect(Boolean(result.isError), text).toBe(!codes.includes(0));
    expect(leakIn(text, secrets)).toBeUndefined();
  });

  it('the repro\'s refusal is recorded with the table DuckDB reads', () => {
    const refused = demo.auditRecords().find((r) => r.run === 'smuggle-mcp' && r.decision === 'deny' && (r.tables?.read ?? []).includes('demo.crm.payment_cards'));
    expect(refused).toBeDefined();
    expect(demo.run(['audit', 'verify']).code).toBe(0);
  });
});
