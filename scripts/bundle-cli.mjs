#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, from tsc) into dist/bin/, which bin/hoopq runs.
// Why: a `hoopq query` loads ~500 ES modules (zod, yaml, jose, DuckDB's API, hoopq's own), and
// Node 20's ESM loader spends most of a short command resolving and linking them; one bundle
// with lazily loaded chunks per command cut a trivial audited query from ~0.69 s to ~0.49 s
// (docs/benchmarks.md, query-e2e). Code splitting keeps the commands' on-demand loading: the
// MCP, gateway and BigQuery code is still only read by the commands that use it.
// Kept external (loaded from node_modules at run time): native addons (better-sqlite3, DuckDB's
// bindings), and the Google and MCP client libraries, which read their own package files and
// load optional pieces dynamically, and are only needed off the DuckDB path anyway.
// dist/bin/ sits two levels below the repository, as dist/cli/ does, so the few files found
// relative to the code (package.json, policies/) resolve the same way from either.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bin');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  external: [
    'better-sqlite3',
    '@duckdb/node-bindings*',
    '@google-cloud/*',
    'google-auth-library',
    'gaxios',
    '@modelcontextprotocol/sdk',
    '@modelcontextprotocol/sdk/*',
    'sql-parser-cst',
  ],
  // bundled CommonJS packages (DuckDB's API, yaml) call require(); give ESM chunks one
  banner: { js: "import { createRequire as __hoopqCreateRequire } from 'node:module'; const require = __hoopqCreateRequire(import.meta.url);" },
});
