/**
 * Docs that run: the harness every docs test uses. It takes the fenced blocks of a document
 * as written, and runs shell text in bash with `-e` (a failing line fails the test), from a
 * folder of the test's, with no HOOPQ_* variable the test did not set.
 *
 * What a line may claim, and the harness checks:
 *   `CMD   # exit N…`   CMD must exit with N (the README's refusals: exit 5, 6, …).
 * What a test may change, and only by naming the exact line: `substitute` maps a line of the
 * document to the line run instead (for a step the test environment has already done, e.g.
 * `npm ci` in the checkout that runs the suite). Every substitution must match a line, so a
 * document and its test cannot drift apart silently.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOOPQ, ROOT } from '../cli/cli-harness.js';

export interface DocBlock {
  lang: string;
  text: string;
  /** 1-based line of the block's first line in the document. */
  line: number;
}

export function readDoc(relativePath: string): string {
  return readFileSync(join(ROOT, relativePath), 'utf8');
}

/** The fenced blocks of `markdown` in `lang` (```sh, ```yaml, …), in order. */
export function docBlocks(markdown: string, lang: string): DocBlock[] {
  const out: DocBlock[] = [];
  for (const m of markdown.matchAll(/^```([a-z]*)\n([\s\S]*?)^```$/gm)) {
    if (m[1] !== lang) continue;
    out.push({ lang, text: m[2]!, line: markdown.slice(0, m.index).split('\n').length + 1 });
  }
  return out;
}

export interface ScriptOptions {
  /** Document line (trimmed, comment included) -> the line run instead. Each must be used. */
  substitute?: Record<string, string>;
}

/**
 * Shell text as bash runs it: `# exit N` claims checked; substitutions applied. Returns the
 * script and the substitutions it used.
 */
export function prepareScript(text: string, options: ScriptOptions = {}): { script: string; used: Set<string> } {
  const used = new Set<string>();
  const lines = text.split('\n').map((line) => {
    const trimmed = line.trim();
    if (options.substitute && Object.hasOwn(options.substitute, trimmed)) {
      used.add(trimmed);
      return options.substitute[trimmed]!;
    }
    const claim = /^(.*?)\s+#\s*exit (\d+)\b/.exec(line);
    if (!claim || claim[1]!.trim() === '' || /\\$/.test(claim[1]!)) return line;
    const command = claim[1]!;
    const expected = Number(claim[2]);
    const quoted = JSON.stringify(command.trim());
    return `set +e; ${command}; rc=$?; set -e; [ "$rc" -eq ${expected} ] || { echo "docs: expected exit ${expected}, got $rc: "${quoted.replace(/\$/g, '\\$')} >&2; exit 1; }`;
  });
  return { script: lines.join('\n'), used };
}

/** Fails when a substitution matched no line of the document. */
export function checkSubstitutionsUsed(substitute: Record<string, string>, used: Set<string>): void {
  const unused = Object.keys(substitute).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`the document no longer has these lines the test substitutes: ${JSON.stringify(unused)}`);
}

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * bash -e -o pipefail on `script`, in `cwd`, with exactly `env` (build it with docsEnv). A
 * background job the script starts (a gateway) is stopped when the script ends, however it ends.
 */
export function runBash(script: string, cwd: string, env: Record<string, string>, timeoutMs = 300_000): ShellResult {
  const r = spawnSync('bash', bashArgs(script), { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** runBash without blocking this process: for scripts that call servers the test itself runs (fake issuers). */
export function runBashAsync(script: string, cwd: string, env: Record<string, string>, timeoutMs = 300_000): Promise<ShellResult> {
  return new Promise((resolve) => {
    const child = spawn('bash', bashArgs(script), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function bashArgs(script: string): string[] {
  const stopJobs = `trap 'jobs -p | xargs -r kill 2>/dev/null; wait' EXIT\n`;
  return ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', stopJobs + script];
}

/** The test process's environment without HOOPQ_* variables, with `bin` first on PATH. */
export function docsEnv(bin: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOOPQ_') && !k.startsWith('npm_') && v !== undefined) env[k] = v;
  if (bin) env.PATH = `${bin}:${env.PATH}`;
  return { ...env, ...extra };
}

/** A folder with `hoopq` running this checkout's build (for docs that assume hoopq on PATH). */
export function checkoutHoopqOnPath(work: string): string {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'hoopq'), `#!/bin/sh\nexec "${process.execPath}" "${HOOPQ}" "$@"\n`);
  chmodSync(join(bin, 'hoopq'), 0o755);
  return bin;
}
