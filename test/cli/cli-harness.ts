/**
 * Black-box harness: spawns the built `bin/hoopq` (never imports hoopq's modules), against a
 * demo made by `hoopq quickstart` in a temporary folder.
 */
import { spawnSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const HOOPQ = join(ROOT, 'bin', 'hoopq');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface Demo {
  dir: string;
  config: string;
  run(args: string[], options?: RunOptions): CliResult;
  runAsync(args: string[], options?: RunOptions): Promise<CliResult>;
  mint(policy: string, run: string, extra?: string[]): string;
  auditRecords(): Array<Record<string, any>>;
  warehouseSha256(): string;
  files(): string[];
}

export function hoopq(args: string[], options: RunOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [HOOPQ, ...args], {
    encoding: 'utf8',
    input: options.input ?? '',
    cwd: options.cwd ?? ROOT,
    env: { ...cleanEnv(), ...options.env },
    maxBuffer: 1 << 28,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function hoopqAsync(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [HOOPQ, ...args], { cwd: options.cwd ?? ROOT, env: { ...cleanEnv(), ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(options.input ?? '');
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
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
  return {
    dir,
    config,
    run: (args, options = {}) => hoopq(args, { ...options, cwd: options.cwd ?? dir, env: { ...baseEnv, ...options.env } }),
    runAsync: (args, options = {}) => hoopqAsync(args, { ...options, cwd: options.cwd ?? dir, env: { ...baseEnv, ...options.env } }),
    mint(policy, run, extra = []) {
      const r = hoopq(['token', 'mint', '--policy', policy, '--run', run, ...extra], { cwd: dir, env: baseEnv });
      if (r.code !== 0) throw new Error(`mint failed (${r.code}): ${r.stderr}`);
      return r.stdout.trim();
    },
    auditRecords() {
      const f = join(dir, 'audit.jsonl');
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    warehouseSha256() {
      return createHash('sha256').update(readFileSync(join(dir, 'demo.duckdb'))).digest('hex');
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
