/**
 * Reads a YAML file with positions, and validates it against a strict zod schema so that
 * every error names the file, line and column of the offending node. Used for both
 * hoopq.yaml and policy files; unknown keys are errors (schemas are `.strict()`).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

export interface YamlFile {
  path: string;
  bytes: Buffer;
  doc: Document;
  lines: LineCounter;
}

export function readYamlFile(path: string, what: string): YamlFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('config.unreadable', `${path}: cannot read ${what} (${code ?? String(err)})`, {
      hint: code === 'ENOENT' ? `create it, or point --config / HOOPQ_CONFIG at an existing file` : undefined,
      cause: err,
    });
  }
  const lines = new LineCounter();
  const doc = parseDocument(bytes.toString('utf8'), { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new ConfigError('config.yaml_syntax', `${path}:${pos.line}:${pos.col}: ${what} is not valid YAML: ${e.message.split('\n')[0]}`);
  }
  return { path, bytes, doc, lines };
}

/**
 * "file:line:col" of the node at `path` in the document, or of its nearest existing parent.
 * With `atKey`, points at the mapping key itself (for unknown keys) rather than its value.
 */
export function locate(file: YamlFile, path: readonly PropertyKey[], atKey = false): string {
  const at = (offset: number) => {
    const pos = file.lines.linePos(offset);
    return `${file.path}:${pos.line}:${pos.col}`;
  };
  if (atKey && path.length > 0) {
    const parent = path.length === 1 ? file.doc.contents : file.doc.getIn(path.slice(0, -1) as unknown[], true);
    const key = path[path.length - 1];
    if (isMap(parent)) {
      for (const item of parent.items) {
        if (isScalar(item.key) && item.key.value === key && item.key.range) return at(item.key.range[0]);
      }
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? file.doc.contents : file.doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return at(node.range[0]);
  }
  return `${file.path}:1:1`;
}

export function validateYaml<T>(file: YamlFile, schema: z.ZodType<T>, what: string): T {
  const data = file.doc.toJS() ?? {};
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let path = issue.path as PropertyKey[];
  let message = issue.message;
  let atKey = false;
  if (issue.code === 'unrecognized_keys') {
    const key = (issue as { keys: string[] }).keys[0]!;
    path = [...path, key];
    message = `unknown key "${key}"`;
    atKey = true;
  } else if (issue.code === 'invalid_key') {
    // a map key with the wrong shape (a column glob): name the key and say what it must be
    const inner = (issue as { issues?: Array<{ message: string }> }).issues?.[0]?.message ?? issue.message;
    message = `"${String(path[path.length - 1])}" ${inner}`;
    atKey = true;
  } else if (issue.code === 'invalid_format' && (issue as { format?: string }).format === 'regex') {
    const value = valueAt(data, path);
    if (typeof value === 'string') message = `"${value}" ${message}`;
  }
  const where = locate(file, path, atKey);
  const field = path.length > 0 ? ` (${path.join('.')})` : '';
  throw new ConfigError('config.invalid', `${where}: invalid ${what}${field}: ${message}`, {
    hint: issue.code === 'unrecognized_keys' ? `remove or correct the key; see docs/reference.md ("${what === 'policy' ? 'Policy keys' : 'Configuration keys'}") for the allowed keys` : undefined,
  });
}

export function fail(file: YamlFile, path: readonly PropertyKey[], what: string, message: string, hint?: string): never {
  throw new ConfigError('config.invalid', `${locate(file, path)}: invalid ${what} (${path.join('.')}): ${message}`, { hint });
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
