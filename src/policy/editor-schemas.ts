/**
 * JSON Schemas for editors (yaml-language-server's `# yaml-language-server: $schema=…`),
 * generated from the very zod objects that validate the files, so an editor accepts exactly
 * what hoopq accepts (the shipped schema/*.json are this output; a test keeps them current).
 */
import { z } from 'zod';
import { configSchema } from '../config/config-schema.js';
import { policySchema } from './policy-schema.js';
import { policyTestFileSchema } from './policy-test-schema.js';

export const EDITOR_SCHEMAS = {
  policy: { file: 'policy.schema.json', title: 'hoopq policy', schema: policySchema },
  config: { file: 'hoopq.schema.json', title: 'hoopq configuration (hoopq.yaml)', schema: configSchema },
  test: { file: 'policy-test.schema.json', title: 'hoopq policy tests (NAME.test.yaml)', schema: policyTestFileSchema },
} as const;

export type EditorSchemaName = keyof typeof EDITOR_SCHEMAS;

export function isEditorSchemaName(name: string): name is EditorSchemaName {
  return Object.hasOwn(EDITOR_SCHEMAS, name);
}

/** The JSON Schema (draft 2020-12) of what a file may contain as written, before defaults. */
export function editorJsonSchema(name: EditorSchemaName): Record<string, unknown> {
  const { title, schema } = EDITOR_SCHEMAS[name];
  const generated = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, title, ...rest };
}

/** The schema as the shipped file holds it: two-space JSON and a final newline. */
export function editorJsonSchemaText(name: EditorSchemaName): string {
  return JSON.stringify(editorJsonSchema(name), null, 2) + '\n';
}
