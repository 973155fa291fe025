/**
 * The MCP conformance suite (@modelcontextprotocol/conformance, a peer's suite, run as it is)
 * against the gateway's `/v1/mcp`, through its authentication: the suite has no option to
 * send a bearer token, so a pass-through proxy on 127.0.0.1 adds the run token and forwards
 * everything else unchanged — `Host` and `Origin` included, so the suite's DNS-rebinding
 * request reaches the gateway as it sent it. The suite needs Node 22 or newer: on Node 20 this
 * file says so and skips (CI runs it in its Node 24 pass, .ci/run).
 *
 * Scenarios that apply to a server with hoopq's capabilities (tools, no resources, prompts,
 * completion, logging, sampling or elicitation; JSON responses, no SSE streams) must pass;
 * NOT_APPLICABLE lists the others and why.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, ROOT, startGatewayProcess, stopProcess, type Demo, type GatewayProcess } from '../cli/cli-harness.js';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const SUITE = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

/** Server scenarios hoopq runs; each must pass every check. */
const APPLICABLE = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];

/** Server scenarios of the suite that cannot apply, and why (checked against `conformance list`). */
const NOT_APPLICABLE: Record<string, string> = {
  'logging-set-level': 'hoopq declares no logging capability (results and refusals are the tool results; the audit log is the record)',
  'completion-complete': 'no prompts or resource templates to complete',
  'tools-call-simple-text': 'needs the suite\'s own test tools (test_simple_text…); hoopq\'s tools are query, explain, list_tables, describe_table',
  'tools-call-image': 'needs the suite\'s test tool; hoopq returns no images',
  'tools-call-audio': 'needs the suite\'s test tool; hoopq returns no audio',
  'tools-call-embedded-resource': 'needs the suite\'s test tool; hoopq has no resources',
  'tools-call-mixed-content': 'needs the suite\'s test tool',
  'tools-call-with-logging': 'needs the suite\'s test tool and the logging capability',
  'tools-call-error': 'needs the suite\'s test tool (hoopq\'s refusals are isError results, tested in test/mcp)',
  'tools-call-with-progress': 'needs the suite\'s test tool',
  'tools-call-sampling': 'hoopq never asks the client to sample (an agent\'s model cannot widen its own policy)',
  'tools-call-elicitation': 'hoopq never elicits input from the client',
  'elicitation-sep1034-defaults': 'no elicitation',
  'elicitation-sep1330-enums': 'no elicitation',
  'json-schema-2020-12': 'needs the suite\'s json_schema_2020_12_tool',
  'server-sse-polling': 'needs the suite\'s test_reconnection tool; hoopq answers in JSON, never holds SSE streams open',
  'server-sse-multiple-streams': 'hoopq answers POSTs with JSON (enableJsonResponse), not SSE streams; GET is 405',
  'resources-list': 'no resources capability',
  'resources-read-text': 'no resources capability',
  'resources-read-binary': 'no resources capability',
  'resources-templates-read': 'no resources capability',
  'resources-subscribe': 'no resources capability',
  'resources-unsubscribe': 'no resources capability',
  'prompts-list': 'no prompts capability',
  'prompts-get-simple': 'no prompts capability',
  'prompts-get-with-args': 'no prompts capability',
  'prompts-get-embedded-resource': 'no prompts capability',
  'prompts-get-with-image': 'no prompts capability',
};

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

function runSuite(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SUITE, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Forwards every request to `target`, adding the bearer token; Host and Origin pass unchanged. */
function startAuthProxy(target: URL, token: string): Promise<Server> {
  const server = createServer((req, res) => {
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(NODE_MAJOR < 22)('MCP conformance suite against /v1/mcp (Node >= 22)', () => {
  let demo: Demo;
  let gw: GatewayProcess;
  let proxy: Server;
  let url: string;
  let work: string;

  beforeAll(async () => {
    demo = createDemo();
    gw = await startGatewayProcess(demo.dir, demo.config);
    proxy = await startAuthProxy(new URL(gw.url), demo.mint('analyst-agent', 'mcp-conformance'));
    url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1/mcp`;
    work = mkdtempSync(join(tmpdir(), 'hoopq-conformance-'));
  }, 120_000);

  afterAll(async () => {
    proxy?.close();
    if (gw) await stopProcess(gw.process);
    rmSync(work, { recursive: true, force: true });
    if (demo) rmSync(demo.dir, { recursive: true, force: true });
  });

  it('every server scenario of the suite is either run here or listed with the reason it cannot apply', async () => {
    const listed = await runSuite(['list', '--server'], work);
    expect(listed.code).toBe(0);
    const known = [...APPLICABLE, ...Object.keys(NOT_APPLICABLE)];
    const names = [...listed.out.matchAll(/^\s*-\s+([a-z0-9][a-z0-9-/]*[a-z0-9])\s/gm)].map((m) => m[1]!).filter((n) => !n.startsWith('auth'));
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !known.includes(n))).toEqual([]);
  }, 60_000);

  it.each(APPLICABLE)('%s passes every check', async (scenario) => {
    const out = join(work, scenario);
    const r = await runSuite(['server', '--url', url, '--scenario', scenario, '-o', out], work);
    const dirs = readdirSync(out);
    expect(dirs.length, r.out).toBeGreaterThan(0);
    const checks = JSON.parse(readFileSync(join(out, dirs[0]!, 'checks.json'), 'utf8')) as Check[];
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.filter((c) => c.status !== 'SUCCESS').map((c) => `${c.id}: ${c.status} ${c.errorMessage ?? ''}`)).toEqual([]);
  }, 120_000);
});

describe.skipIf(NODE_MAJOR >= 22)('MCP conformance suite', () => {
  it(`needs Node 22 or newer (this is ${process.versions.node}); CI runs it on Node 24`, () => {
    expect(NODE_MAJOR).toBeLessThan(22);
  });
});
