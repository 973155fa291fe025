/**
 * Loads hoopq.yaml: strict schema (unknown keys are errors, with file:line:col), then
 * normalisation (relative paths resolved against the config file's folder), then the named
 * cross-field rules (duckdb needs `path`, bigquery needs `project`).
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { HoopqConfig } from './config.js';
import { fail, readYamlFile, validateYaml } from './yaml-file.js';
import { parseBytes, parseDuration } from './units.js';

const warehouseSchema = z
  .object({
    kind: z.enum(['duckdb', 'bigquery']),
    path: z.string().min(1).optional(),
    project: z.string().min(1).optional(),
    location: z.string().min(1).optional(),
    credentials: z.string().min(1).optional(),
    api_endpoint: z.string().url().optional(),
    iam_endpoint: z.string().url().optional(),
    default_max_bytes_billed: z.union([z.string(), z.number()]).optional(),
    default_job_timeout: z.union([z.string(), z.number()]).optional(),
    default_project: z.string().min(1).optional(),
    default_dataset: z.string().min(1).optional(),
  })
  .strict();

const configSchema = z
  .object({
    warehouse: warehouseSchema,
    policies: z.string().min(1).default('./policies'),
    audit: z.string().min(1).default('./audit.jsonl'),
    keys: z.string().min(1).default('./.hoopq/keys'),
    state: z.string().min(1).optional(),
    gateway: z.string().url().optional(),
    audit_checkpoint_every: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();

export function loadConfig(path: string): HoopqConfig {
  const file = readYamlFile(path, 'configuration');
  const raw = validateYaml(file, configSchema, 'configuration');
  const dir = dirname(resolve(path));
  const at = (p: string) => resolve(dir, p);
  const w = raw.warehouse;
  if (w.kind === 'duckdb' && !w.path) {
    fail(file, ['warehouse'], 'configuration', 'a duckdb warehouse needs `path` (the database file)');
  }
  if (w.kind === 'bigquery' && !w.project) {
    fail(file, ['warehouse'], 'configuration', 'a bigquery warehouse needs `project` (the project jobs run in)');
  }
  for (const key of ['default_max_bytes_billed', 'default_job_timeout'] as const) {
    if (w[key] !== undefined && w.kind !== 'bigquery') fail(file, ['warehouse', key], 'configuration', `${key} applies to bigquery warehouses only`);
  }
  const defaultMaxBytesBilled = w.default_max_bytes_billed === undefined ? undefined : parseBytes(w.default_max_bytes_billed);
  if (w.default_max_bytes_billed !== undefined && defaultMaxBytesBilled === undefined) {
    fail(file, ['warehouse', 'default_max_bytes_billed'], 'configuration', `"${w.default_max_bytes_billed}" is not a size`, 'write a size such as 1TiB, 500GB or 1000000');
  }
  const defaultJobTimeoutMs = w.default_job_timeout === undefined ? undefined : parseDuration(w.default_job_timeout);
  if (w.default_job_timeout !== undefined && defaultJobTimeoutMs === undefined) {
    fail(file, ['warehouse', 'default_job_timeout'], 'configuration', `"${w.default_job_timeout}" is not a duration`, 'write a duration such as 30m, 1h or 6h');
  }
  const isUrl = /^https?:\/\//.test(raw.audit);
  const keysDir = at(raw.keys);
  return {
    file: resolve(path),
    dir,
    warehouse: {
      kind: w.kind,
      path: w.path ? at(w.path) : undefined,
      project: w.project,
      location: w.location,
      credentials: w.credentials ? at(w.credentials) : undefined,
      apiEndpoint: w.api_endpoint,
      iamEndpoint: w.iam_endpoint,
      ...(defaultMaxBytesBilled !== undefined ? { defaultMaxBytesBilled } : {}),
      ...(defaultJobTimeoutMs !== undefined ? { defaultJobTimeoutMs } : {}),
      defaultProject: w.default_project,
      defaultDataset: w.default_dataset,
    },
    policiesDir: at(raw.policies),
    audit: isUrl ? { kind: 'gateway', url: raw.audit } : { kind: 'file', path: at(raw.audit) },
    keysDir,
    statePath: raw.state ? at(raw.state) : resolve(keysDir, '..', 'state.db'),
    gateway: raw.gateway,
    checkpointEvery: raw.audit_checkpoint_every ?? 100,
  };
}
