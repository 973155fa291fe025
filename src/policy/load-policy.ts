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
    routines: z.object({ allow: globList, deny: globList }).strict().default({ allow: [], deny: [] }),
    destinations: globList,
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
    raw.tables[list].forEach((g, i) =>
      checkTableGlob(g, () =>
        fail(yaml, ['tables', list, i], 'policy', `"${g}" must have three dot-separated parts, project.dataset.table (or four for metadata: project.dataset_or_region.INFORMATION_SCHEMA.VIEW)`),
      ),
    );
  }
  for (const g of Object.keys(raw.columns)) {
    checkGlob(g, 4, () => fail(yaml, ['columns', g], 'policy', `"${g}" must have at least four dot-separated parts, project.dataset.table.column (more address a field of a STRUCT column)`), true);
  }
  for (const list of ['allow', 'deny'] as const) {
    raw.routines[list].forEach((g, i) => checkGlob(g, 3, () => fail(yaml, ['routines', list, i], 'policy', `"${g}" must have three dot-separated parts, project.dataset.routine`)));
  }
  raw.destinations.forEach((d, i) => {
    const problem = destinationProblem(d);
    if (problem) fail(yaml, ['destinations', i], 'policy', `"${d}" ${problem}`, 'write a URI such as gs://bucket/exports/* or a connection id such as my-project.us.my-connection');
  });
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
    routines: raw.routines,
    destinations: raw.destinations,
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

function checkGlob(glob: string, segments: number, onBad: () => never, orMore = false): void {
  const parts = glob.split('.');
  if ((orMore ? parts.length < segments : parts.length !== segments) || parts.some((p) => p === '')) onBad();
}

/** Three parts, or four with INFORMATION_SCHEMA third (BigQuery metadata views, by dataset or region). */
function checkTableGlob(glob: string, onBad: () => never): void {
  const parts = glob.split('.');
  if (parts.length === 4 && parts[2]!.toUpperCase() === 'INFORMATION_SCHEMA') return checkGlob(glob, 4, onBad);
  checkGlob(glob, 3, onBad);
}

function destinationProblem(d: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(d)) {
    if (/[\u0000-\u001f\s]/.test(d)) return 'has a space or control character';
    return undefined;
  }
  const parts = d.split('.');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) return 'is neither a URI (scheme://…) nor a connection id (project.location.connection)';
  return undefined;
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
