/**
 * Loads policies: strict schema (unknown keys are errors, reported with file:line:col), then
 * normalisation (units, defaults), then named cross-field rules (name equals file name,
 * globs have the right number of segments). The digest is of the file's bytes as read.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { STATEMENT_KINDS } from '../analysis/query-analysis.js';
import { parseBytes, parseDuration } from '../config/units.js';
import { ConfigError } from '../errors.js';
import { fail, readYamlFile, validateYaml } from '../config/yaml-file.js';
import { DETECTORS, MASK_METHODS, type Policy } from './policy.js';

const globList = z.array(z.string().min(1)).default([]);

const policySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "-" and "." only'),
    description: z.string().optional(),
    statements: z.array(z.enum(STATEMENT_KINDS)).default(['select']),
    tables: z
      .object({ read: globList, write: globList, deny: globList })
      .strict()
      .default({ read: [], write: [], deny: [] }),
    columns: z.record(z.string().min(1), z.enum(MASK_METHODS)).default({}),
    detect: z.array(z.enum(DETECTORS)).default([]),
    limits: z
      .object({
        max_rows: z.number().int().positive().optional(),
        max_queries: z.number().int().positive().optional(),
        max_bytes_billed: z.union([z.string(), z.number()]).optional(),
        timeout: z.union([z.string(), z.number()]).optional(),
      })
      .strict()
      .default({}),
    require_justification: z.boolean().default(false),
    identity: z
      .array(
        z
          .object({
            issuer: z.string().url(),
            claims: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
            audience: z.union([z.string(), z.array(z.string())]).optional(),
          })
          .strict(),
      )
      .default([]),
    impersonate: z.string().email().optional(),
    allow_external_query: z.boolean().default(false),
  })
  .strict();

export function loadPolicy(file: string): Policy {
  const yaml = readYamlFile(file, 'policy');
  const raw = validateYaml(yaml, policySchema, 'policy');
  const stem = basename(file).replace(/\.ya?ml$/, '');
  if (raw.name !== stem) {
    fail(yaml, ['name'], 'policy', `name "${raw.name}" must equal the file name "${stem}"`, `rename the file to ${raw.name}.yaml or set name: ${stem}`);
  }
  for (const list of ['read', 'write', 'deny'] as const) {
    raw.tables[list].forEach((g, i) => checkGlob(g, 3, () => fail(yaml, ['tables', list, i], 'policy', `"${g}" must have three dot-separated parts, project.dataset.table`)));
  }
  for (const g of Object.keys(raw.columns)) {
    checkGlob(g, 4, () => fail(yaml, ['columns', g], 'policy', `"${g}" must have four dot-separated parts, project.dataset.table.column`));
  }
  const limits: Policy['limits'] = {};
  if (raw.limits.max_rows !== undefined) limits.maxRows = raw.limits.max_rows;
  if (raw.limits.max_queries !== undefined) limits.maxQueries = raw.limits.max_queries;
  if (raw.limits.max_bytes_billed !== undefined) {
    const b = parseBytes(raw.limits.max_bytes_billed);
    if (b === undefined) fail(yaml, ['limits', 'max_bytes_billed'], 'policy', `"${raw.limits.max_bytes_billed}" is not a size`, 'write a size such as 10GiB, 500MB or 1000000');
    limits.maxBytesBilled = b;
  }
  if (raw.limits.timeout !== undefined) {
    const t = parseDuration(raw.limits.timeout);
    if (t === undefined) fail(yaml, ['limits', 'timeout'], 'policy', `"${raw.limits.timeout}" is not a duration`, 'write a duration such as 500ms, 60s, 5m or 1h');
    limits.timeoutMs = t;
  }
  return {
    name: raw.name,
    sha256: createHash('sha256').update(yaml.bytes).digest('hex'),
    file: resolve(file),
    statements: [...new Set(raw.statements)],
    tables: raw.tables,
    columns: raw.columns,
    detect: [...new Set(raw.detect)],
    limits,
    requireJustification: raw.require_justification,
    identity: raw.identity.map((r) => ({
      issuer: r.issuer,
      claims: Object.fromEntries(Object.entries(r.claims).map(([k, v]) => [k, String(v)])),
      ...(r.audience !== undefined ? { audience: Array.isArray(r.audience) ? r.audience : [r.audience] } : {}),
    })),
    ...(raw.impersonate ? { impersonate: raw.impersonate } : {}),
    allowExternalQuery: raw.allow_external_query,
  };
}

function checkGlob(glob: string, segments: number, onBad: () => never): void {
  const parts = glob.split('.');
  if (parts.length !== segments || parts.some((p) => p === '')) onBad();
}

/** The policy named `name` in `dir`. Unknown policy -> ConfigError unless `onMissing` says otherwise. */
export function findPolicyFile(dir: string, name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return undefined;
  for (const ext of ['.yaml', '.yml']) {
    const f = join(dir, name + ext);
    if (listPolicyFiles(dir).includes(f)) return f;
  }
  return undefined;
}

export function listPolicyFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(dir, f));
  } catch (err) {
    throw new ConfigError('config.policies_unreadable', `cannot read the policies folder ${dir} (${(err as NodeJS.ErrnoException).code ?? err})`, {
      hint: 'set `policies:` in hoopq.yaml to a folder of policy files',
    });
  }
}
