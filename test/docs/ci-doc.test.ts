/**
 * Docs that run: the GitHub Actions workflow and the GitLab CI job of docs/ci.md, executed as
 * written against a real `hoopq gateway` process, with hoopq installed from the `npm pack`
 * tarball as the recipes install it. What stands in for the CI provider, and nothing else:
 * - a fake OIDC issuer (test/fakes/oidc-issuer.ts) instead of GitHub's and GitLab's, and
 *   GitHub's ID-token request endpoint served next to it; the policy's `identity` rules are
 *   the document's, with the issuer URL replaced by the fake's;
 * - the runner: `run:` steps in order in bash -e (GitHub's default shell), `${{ … }}`
 *   expressions of the contexts the workflow uses, step outputs through $GITHUB_OUTPUT,
 *   `if: always()`; GitLab's before_script + script in one shell, after_script in a fresh one;
 * - `HOOPQ_GATEWAY` pointed at the test's gateway, `HOOPQ_PACKAGE_URL` at the tarball;
 * - `./run-agent.sh`, the job's own agent: one query, and proof it cannot reach the OIDC
 *   request variables.
 * Then: the run is revoked by the final step, and later queries with its token exit 4.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createDemo, startGatewayProcess, stopProcess, type Demo, type GatewayProcess } from '../cli/cli-harness.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../fakes/oidc-issuer.js';
import { docBlocks, docsEnv, readDoc, runBashAsync as runBash, type ShellResult } from './doc-harness.js';
import { checkNativeInstall, nativeInstallStep, npmEnv, packCheckout, type PackedHoopq } from './package-install.js';

const work = mkdtempSync(join(tmpdir(), 'hoopq-ci-docs-'));
let demo: Demo;
let gateway: GatewayProcess;
let issuer: FakeOidcIssuer;
let idTokenEndpoint: { url: string; bearer: string; close(): Promise<void> };
/** The claims GitHub would put in the job's ID token (set by the GitHub test). */
let githubClaims: Record<string, unknown> = {};
let packed: PackedHoopq;
const ciDoc = readDoc('docs/ci.md');
const yamlBlocks = docBlocks(ciDoc, 'yaml').map((b) => b.text);
const githubWorkflow = parseYaml(yamlBlocks.find((b) => b.includes('jobs:'))!);
const gitlabJob = parseYaml(yamlBlocks.find((b) => b.includes('id_tokens:'))!);
const githubRule = yamlBlocks.find((b) => b.startsWith('identity:') && b.includes('token.actions.githubusercontent.com'))!;
const gitlabRule = yamlBlocks.find((b) => b.startsWith('identity:') && b.includes('https://gitlab.com'))!;

beforeAll(async () => {
  issuer = await startFakeOidcIssuer();
  idTokenEndpoint = await startIdTokenEndpoint(issuer, () => githubClaims);
  demo = createDemo();
  // the policy: the document's identity rules, the fake issuer standing in for the CI provider's
  const rules = (text: string, real: string) => parseYaml(text.replaceAll(real, issuer.issuer)).identity;
  writeFileSync(
    join(demo.dir, 'policies', 'nightly-agent.yaml'),
    JSON.stringify({
      name: 'nightly-agent',
      statements: ['select'],
      tables: { read: ['demo.analytics.*'] },
      identity: [...rules(githubRule, 'https://token.actions.githubusercontent.com'), ...rules(gitlabRule, 'https://gitlab.com')],
    }),
  );
  gateway = await startGatewayProcess(demo.dir, demo.config);
  packed = packCheckout(work);
}, 120_000);

afterAll(async () => {
  if (gateway) await stopProcess(gateway.process);
  await idTokenEndpoint?.close();
  await issuer?.close();
  rmSync(work, { recursive: true, force: true });
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
});

/** A runner machine: its own folder, an empty npm prefix on PATH (no hoopq until the job installs it). */
function newRunner(name: string): { dir: string; prefix: string; env: Record<string, string> } {
  const dir = join(work, name);
  const prefix = join(dir, 'npm-global');
  mkdirSync(join(dir, 'workspace'), { recursive: true });
  mkdirSync(prefix);
  const agent = join(dir, 'workspace', 'run-agent.sh');
  // the job's agent: holds HOOPQ_TOKEN only; records what it saw for the test to check
  writeFileSync(
    agent,
    [
      '#!/bin/sh',
      'set -e',
      'env | grep -c "^ACTIONS_ID_TOKEN_REQUEST_" > agent-saw-oidc-variables || true',
      'hoopq query --format json --justification "nightly agent" "SELECT count(*) AS n FROM analytics.events" > agent-result.json',
      '',
    ].join('\n'),
  );
  chmodSync(agent, 0o755);
  return { dir, prefix, env: docsEnv(join(prefix, 'bin'), npmEnv(prefix)) };
}

/** The token a job obtained, and what later queries with it get. */
function queryAfterJob(token: string, runner: { env: Record<string, string> }): Promise<ShellResult> {
  return runBash('hoopq query "SELECT 1"', work, { ...runner.env, HOOPQ_GATEWAY: gateway.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'after the job' });
}

function auditRecords(): Array<Record<string, any>> {
  return readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('docs/ci.md', () => {
  it('GitHub Actions: exchange, the agent step, revocation in the final step; later queries exit 4', async () => {
    const runner = newRunner('github');
    const job = githubWorkflow.jobs.agent;
    expect(githubWorkflow.permissions['id-token']).toBe('write');
    const github = { run_id: '91001', run_attempt: '2' };
    const outputs: Record<string, Record<string, string>> = {};
    const vars = { HOOPQ_PACKAGE_URL: packed.tarball };
    const expr = (text: string) =>
      text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, e: string) => {
        const [scope, ...path] = e.split('.');
        if (scope === 'github') return (github as Record<string, string>)[path[0]!] ?? fail(e);
        if (scope === 'vars') return (vars as Record<string, string>)[path[0]!] ?? fail(e);
        if (scope === 'steps' && path[1] === 'outputs') return outputs[path[0]!]?.[path[2]!] ?? '';
        return fail(e);
      });
    const githubOutput = join(runner.dir, 'github-output');
    const jobEnv = { ...job.env, HOOPQ_GATEWAY: gateway.url };
    const base = {
      ...runner.env,
      ...jobEnv,
      RUNNER_TEMP: join(runner.dir, 'tmp'),
      ACTIONS_ID_TOKEN_REQUEST_URL: `${idTokenEndpoint.url}?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: idTokenEndpoint.bearer,
      GITHUB_RUN_ID: github.run_id,
      GITHUB_RUN_ATTEMPT: github.run_attempt,
    };
    mkdirSync(base.RUNNER_TEMP);
    githubClaims = { repository: 'acme/ml', workflow_ref: 'acme/ml/.github/workflows/nightly-agent.yml@refs/heads/main', ...github };
    let failed = false;
    const ran: string[] = [];
    for (const step of job.steps as Array<Record<string, any>>) {
      if (step.uses) continue; // actions/checkout, actions/setup-node: the runner already has the workspace and Node
      if (failed && !/always\(\)/.test(String(step.if ?? ''))) continue;
      writeFileSync(githubOutput, '');
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(String(v))]));
      const script = expr(String(step.run));
      const r = await runBash(script, join(runner.dir, 'workspace'), { ...base, ...stepEnv, GITHUB_OUTPUT: githubOutput });
      ran.push(step.name ?? script.split('\n')[0]);
      if (r.code !== 0) {
        failed = true;
        throw new Error(`step "${step.name ?? script}" exited ${r.code}:\n${r.stderr}`);
      }
      if (step.id) outputs[step.id] = Object.fromEntries(readFileSync(githubOutput, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      if (/npm install -g/.test(script)) {
        expect(spawnSync('sh', ['-c', nativeInstallStep(runner.prefix)]).status).toBe(0);
        checkNativeInstall(runner.prefix);
      }
    }
    expect(ran).toHaveLength(4);
    const token = outputs.hoopq!.token!;
    expect(token.split('.')).toHaveLength(3);
    expect(readFileSync(join(runner.dir, 'workspace', 'agent-saw-oidc-variables'), 'utf8').trim()).toBe('0');
    expect(String(JSON.parse(readFileSync(join(runner.dir, 'workspace', 'agent-result.json'), 'utf8'))[0].n)).toMatch(/^[1-9]\d*$/);
    const run = `${github.run_id}-${github.run_attempt}`;
    const log = auditRecords();
    expect(log.find((r) => r.event === 'token.exchange' && r.run === run)).toMatchObject({ decision: 'allow', via: 'gateway' });
    expect(log.find((r) => r.event === 'query' && r.run === run)).toMatchObject({ decision: 'allow', via: 'gateway' });
    expect(log.find((r) => r.event === 'token.revoke' && r.run === run)).toMatchObject({ reason: 'job finished', revoked_by: { run } });
    expect(JSON.stringify(log)).not.toContain(token);
    const after = await queryAfterJob(token, runner);
    expect(after.code, after.stderr).toBe(4);
  }, 400_000);

  it('GitLab CI: before_script and script in one shell, after_script revokes; later queries exit 4', async () => {
    const runner = newRunner('gitlab');
    const job = gitlabJob['nightly-agent'];
    const pipeline = '3131';
    const builds = join(runner.dir, 'builds');
    mkdirSync(builds);
    const aud = job.id_tokens.HOOPQ_OIDC_TOKEN.aud;
    const oidc = await issuer.issueGitLabToken({ project_path: 'acme/ml', ref_type: 'branch', ref: 'main', ref_protected: 'true', pipeline_id: pipeline }, { aud });
    const env = {
      ...runner.env,
      ...job.variables,
      HOOPQ_GATEWAY: gateway.url,
      HOOPQ_PACKAGE_URL: packed.tarball,
      HOOPQ_OIDC_TOKEN: oidc,
      CI_BUILDS_DIR: builds,
      CI_PIPELINE_ID: pipeline,
    };
    const workspace = join(runner.dir, 'workspace');
    const install = await runBash((job.before_script as string[]).join('\n'), workspace, env);
    expect(install.code, install.stderr).toBe(0);
    expect(spawnSync('sh', ['-c', nativeInstallStep(runner.prefix)]).status).toBe(0);
    checkNativeInstall(runner.prefix);
    // GitLab runs before_script and script in one shell; here the install ran first to place the native build
    const script = await runBash((job.script as string[]).join('\n'), workspace, env);
    expect(script.code, script.stderr).toBe(0);
    const token = readFileSync(join(builds, '.hoopq-token'), 'utf8').trim();
    const afterScript = await runBash((job.after_script as string[]).join('\n'), workspace, { ...env, HOOPQ_OIDC_TOKEN: '' });
    expect(afterScript.code, afterScript.stderr).toBe(0);
    expect(String(JSON.parse(readFileSync(join(workspace, 'agent-result.json'), 'utf8'))[0].n)).toMatch(/^[1-9]\d*$/);
    const log = auditRecords();
    expect(log.find((r) => r.event === 'token.exchange' && r.run === pipeline)).toMatchObject({ decision: 'allow', via: 'gateway' });
    expect(log.find((r) => r.event === 'token.revoke' && r.run === pipeline)).toMatchObject({ reason: 'job finished', revoked_by: { run: pipeline } });
    const after = await queryAfterJob(token, runner);
    expect(after.code, after.stderr).toBe(4);
  }, 400_000);
});

function fail(expression: string): never {
  throw new Error(`the workflow uses an expression this test does not provide: \${{ ${expression} }}`);
}

/**
 * GitHub's ID-token request endpoint ($ACTIONS_ID_TOKEN_REQUEST_URL): with the request bearer,
 * `GET …&audience=A` answers `{"value": <ID token for audience A>}`, signed by the fake issuer.
 */
async function startIdTokenEndpoint(fake: FakeOidcIssuer, claims: () => Record<string, unknown>): Promise<{ url: string; bearer: string; close(): Promise<void> }> {
  const bearer = `req-${Math.random().toString(36).slice(2)}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.headers.authorization !== `bearer ${bearer}` || url.pathname !== '/token') {
      res.writeHead(401).end();
      return;
    }
    void fake.issueGitHubToken(claims(), { aud: url.searchParams.get('audience') ?? undefined }).then((value) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ value }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/token`, bearer, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
