/**
 * Black-box harness: spawns the built `bin/hoopq` (never imports hoopq's modules), against a
 * demo made by `hoopq quickstart` in a temporary folder.
 */
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const HOOPQ = join(ROOT, 'bin', 'hoopq');

export interface CliResult {
  code: number | null;
  /** The signal that ended the process (SIGKILL from a fault plan), if any. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Node options before the script, e.g. ['--import', hook] for the fault-injection test binary. */
  nodeArgs?: string[];
}

/** direct: the CLI runs the pipeline itself; gateway: the agent's CLI talks to `hoopq gateway`. */
export type Mode = 'direct' | 'gateway';

export interface Demo {
  dir: string;
  config: string;
  mode: Mode;
  /** The agent's side: in gateway mode from an empty folder with only HOOPQ_GATEWAY (plus the caller's env). */
  run(args: string[], options?: RunOptions): CliResult;
  runAsync(args: string[], options?: RunOptions): Promise<CliResult>;
  /** The operator's side (token mint, audit verify, policy validate): always in the demo folder with its config. */
  admin(args: string[], options?: RunOptions): CliResult;
  mint(policy: string, run: string, extra?: string[]): string;
  auditRecords(): Array<Record<string, any>>;
  warehouseSha256(): string;
  /** What the `hash` mask gives for a value's text under this deployment's key (HMAC-SHA256, computed with node's crypto). */
  keyedHash(text: string): string;
  files(): string[];
  /** Gateway mode: the gateway's URL and the agent's (empty) folder. */
  gateway?: { url: string; agentDir: string; process: ChildProcess; stderr(): string };
  /** Stops the gateway (gateway mode); nothing to do in direct mode. */
  close(): Promise<void>;
}

/** Rows straight from a demo's DuckDB file (read-only, around hoopq), for tests that must know the raw values. */
export async function readDemoRows(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(join(dir, 'demo.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/**
 * HMAC-SHA256 of `text` under the deployment's `hash` mask key (`hash.key` in its keys folder,
 * `hqhk_<base64url>`), computed here from the file so that tests check hoopq's masks independently.
 */
export function keyedHashUnder(keysDir: string, text: string): string {
  const line = readFileSync(join(keysDir, 'hash.key'), 'utf8').trim();
  return createHmac('sha256', Buffer.from(line.slice(line.indexOf('_') + 1), 'base64url')).update(text, 'utf8').digest('hex');
}

/**
 * Every spelling of a deployment's hash key a leak could take: the `hash.key` line, the key in
 * hex, and the two padded keys (K xor ipad, K xor opad) the engines receive, in hex either case
 * and base64. With `pieces`, also every 16-hex-character piece of the padded keys.
 */
export function hashKeyFormsUnder(keysDir: string, options: { pieces?: boolean } = {}): string[] {
  const line = readFileSync(join(keysDir, 'hash.key'), 'utf8').trim();
  const key = Buffer.from(line.slice(line.indexOf('_') + 1), 'base64url');
  const padded = Buffer.concat([key, Buffer.alloc(64 - key.length)]);
  const pads = [0x36, 0x5c].map((pad) => Buffer.from(padded.map((b) => b ^ pad)).toString('hex'));
  const forms = [line, key.toString('hex'), ...pads.flatMap((hex) => [hex, hex.toUpperCase(), Buffer.from(hex, 'hex').toString('base64')])];
  if (!options.pieces) return forms;
  return [...forms, ...pads.flatMap((hex) => Array.from({ length: hex.length - 15 }, (_, i) => hex.slice(i, i + 16)))];
}

export function hoopq(args: string[], options: RunOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), HOOPQ, ...args], {
    encoding: 'utf8',
    input: options.input ?? '',
    cwd: options.cwd ?? ROOT,
    env: { ...cleanEnv(), ...options.env },
    maxBuffer: 1 << 28,
    timeout: 120_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function hoopqAsync(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), HOOPQ, ...args], { cwd: options.cwd ?? ROOT, env: { ...cleanEnv(), ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(options.input ?? '');
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/** The parent's environment without any HOOPQ_* variable, so tests state exactly what they use. */
function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOOPQ_')) env[k] = v;
  return env;
}

export function createDemo(): Demo {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-cli-'));
  const setup = hoopq(['quickstart', dir, '--no-tour']);
  if (setup.code !== 0) throw new Error(`quickstart failed (${setup.code}): ${setup.stderr}`);
  const config = join(dir, 'hoopq.yaml');
  const baseEnv = { HOOPQ_CONFIG: config };
  const run = (args: string[], options: RunOptions = {}) => hoopq(args, { ...options, cwd: options.cwd ?? dir, env: { ...baseEnv, ...options.env } });
  return {
    dir,
    config,
    mode: 'direct',
    run,
    runAsync: (args, options = {}) => hoopqAsync(args, { ...options, cwd: options.cwd ?? dir, env: { ...baseEnv, ...options.env } }),
    admin: run,
    close: async () => {},
    mint(policy, run, extra = []) {
      const r = hoopq(['token', 'mint', '--policy', policy, '--run', run, ...extra], { cwd: dir, env: baseEnv });
      if (r.code !== 0) throw new Error(`mint failed (${r.code}): ${r.stderr}`);
      return r.stdout.trim();
    },
    auditRecords() {
      const f = join(dir, 'audit.jsonl');
      if (!existsSync(f)) return [];
      // read while a gateway may be appending: a last line without its newline is still being
      // written (hoopq's own readers do not count it as a record either)
      const text = readFileSync(f, 'utf8');
      return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    warehouseSha256() {
      return createHash('sha256').update(readFileSync(join(dir, 'demo.duckdb'))).digest('hex');
    },
    keyedHash(text: string) {
      return keyedHashUnder(join(dir, '.hoopq', 'keys'), text);
    },
    files() {
      return listFiles(dir);
    },
  };
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, `${prefix}${name}/`));
    else out.push(prefix + name);
  }
  return out.sort();
}

/** A demo in either mode; in gateway mode `hoopq gateway --listen 127.0.0.1:0` serves it. */
export async function createDemoInMode(mode: Mode, gatewayArgs: string[] = []): Promise<Demo> {
  const demo = createDemo();
  if (mode === 'direct') return demo;
  const gateway = await startGatewayProcess(demo.dir, demo.config, gatewayArgs);
  const agentDir = mkdtempSync(join(tmpdir(), 'hoopq-agent-'));
  // The agent holds nothing but the gateway's URL (and the token its test passes): no config, key or log.
  const agentEnv = { HOOPQ_GATEWAY: gateway.url };
  return {
    ...demo,
    mode,
    run: (args, options = {}) => hoopq(args, { ...options, cwd: options.cwd ?? agentDir, env: { ...agentEnv, ...options.env } }),
    runAsync: (args, options = {}) => hoopqAsync(args, { ...options, cwd: options.cwd ?? agentDir, env: { ...agentEnv, ...options.env } }),
    admin: demo.run,
    gateway: { url: gateway.url, agentDir, process: gateway.process, stderr: gateway.stderr },
    async close() {
      await stopProcess(gateway.process);
      rmSync(agentDir, { recursive: true, force: true });
    },
  };
}

export interface GatewayProcess {
  url: string;
  process: ChildProcess;
  stderr(): string;
}

/** Spawns `hoopq gateway` in `dir` and waits for the line that names its address. */
export function startGatewayProcess(dir: string, config: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [HOOPQ, 'gateway', '--listen', '127.0.0.1:0', ...extraArgs], {
    cwd: dir,
    env: { ...cleanEnv(), HOOPQ_CONFIG: config, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout!.resume();
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start: ${stderr}`));
    }, 30_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /gateway listening on (https?:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ url: m[1]!, process: child, stderr: () => stderr });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited ${code} before listening: ${stderr}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
export function stopProcess(child: ChildProcess, graceMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise(code);
    });
    child.kill('SIGTERM');
  });
}

/**
 * Docs that run: every ```sh block of a page of docs/, in order, in one `bash -e`, in `work`,
 * with `hoopq` on PATH as the built binary and no HOOPQ_* variable set.
 */
export function runDocShellBlocks(page: string, work: string, timeoutMs = 240_000): CliResult & { blocks: number } {
  const blocks = [...readFileSync(join(ROOT, 'docs', page), 'utf8').matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'hoopq'), `#!/bin/sh\nexec "${process.execPath}" "${HOOPQ}" "$@"\n`);
  chmodSync(join(bin, 'hoopq'), 0o755);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOOPQ_') && v !== undefined) env[k] = v;
  env.PATH = `${bin}:${env.PATH}`;
  const r = spawnSync('bash', ['-e', '-c', blocks.join('\n')], { cwd: work, env, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, blocks: blocks.length };
}
