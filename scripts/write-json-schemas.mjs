#!/usr/bin/env node
// npm run schemas: writes schema/*.schema.json (shipped in the package, referenced from the
// example files' `# yaml-language-server: $schema=…` lines) from the zod schemas that
// validate policies, policy tests and hoopq.yaml (src/policy/editor-schemas.ts). A test
// (src/policy/editor-schemas.test.ts) fails when the committed files differ from the output.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { EDITOR_SCHEMAS, editorJsonSchemaText } = await import(pathToFileURL(join(root, 'dist', 'policy', 'editor-schemas.js')).href);
mkdirSync(join(root, 'schema'), { recursive: true });
for (const [name, { file }] of Object.entries(EDITOR_SCHEMAS)) {
  writeFileSync(join(root, 'schema', file), editorJsonSchemaText(name));
  console.log(`schema/${file}`);
}
