/**
 * Where a worker thread's compiled entry file is, for a module one folder below src/ (or
 * dist/): `file` is its path under dist/, e.g. `postgres/pg-sync-thread.js`.
 * - `../<file>` from the caller: the same file from dist/<folder>/ and from the CLI bundle's
 *   chunks in dist/bin/ (scripts/bundle-cli.mjs), which do not contain thread entries;
 * - `../../dist/<file>`: under vitest the caller is a TypeScript source in src/<folder>/, and
 *   the thread runs the compiled file.
 * Undefined when neither exists (the project was not built); the caller says what is missing.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export function findThreadEntry(callerUrl: string, file: string): URL | undefined {
  for (const candidate of [new URL(`../${file}`, callerUrl), new URL(`../../dist/${file}`, callerUrl)]) {
    if (fs.existsSync(fileURLToPath(candidate))) return candidate;
  }
  return undefined;
}
