/**
 * Loads hoopq.yaml: strict schema (config-schema.ts: unknown keys are errors, with
 * file:line:col; each warehouse kind states what it needs), then normalisation (relative
 * paths resolved against the config file's folder).
 */
import { dirname, resolve } from 'node:path';
import type { HoopqConfig } from './config.js';
import { configSchema } from './config-schema.js';
import { fail, readYamlFile, validateYaml, type YamlFile } from './yaml-file.js';
import { parseBytes, parseDuration } from './units.js';

export function loadConfig(path: string): HoopqConfig {
  const file = readYamlFile(path, 'configuration');
  const raw = validateYaml(file, configSchema, 'configuration');
  const dir = dirname(resolve(path));
  const at = (p: string) => resolve(dir, p);
  const w = raw.warehouse;
  const isUrl = /^https?:\/\//.test(raw.audit);
  const keysDir = at(raw.keys);
  return {
    file: resolve(path),
    dir,
    warehouse:
      w.kind === 'duckdb'
        ? { kind: w.kind, path: at(w.path), defaultProject: w.default_project, defaultDataset: w.default_dataset }
        : {
            kind: w.kind,
            project: w.project,
            location: w.location,
            credentials: w.credentials ? at(w.credentials) : undefined,
            apiEndpoint: w.api_endpoint,
            iamEndpoint: w.iam_endpoint,
            ...bigQueryDefaults(file, w.default_max_bytes_billed, w.default_job_timeout),
            defaultProject: w.default_project,
            defaultDataset: w.default_dataset,
          },
    policiesDir: at(raw.policies),
    audit: isUrl ? { kind: 'gateway', url: raw.audit } : { kind: 'file', path: at(raw.audit) },
    keysDir,
    statePath: raw.state ? at(raw.state) : resolve(keysDir, '..', 'state.db'),
    gateway: raw.gateway,
    checkpointEvery: raw.audit_checkpoint_every ?? 100,
    auditWitness: raw.audit_witness ? at(raw.audit_witness) : undefined,
  };
}

/** The caps a BigQuery job gets when its policy sets none (sizes and durations as in policies). */
function bigQueryDefaults(file: YamlFile, bytes: string | number | undefined, timeout: string | number | undefined): { defaultMaxBytesBilled?: number; defaultJobTimeoutMs?: number } {
  const out: { defaultMaxBytesBilled?: number; defaultJobTimeoutMs?: number } = {};
  if (bytes !== undefined) {
    const b = parseBytes(bytes);
    if (b === undefined) fail(file, ['warehouse', 'default_max_bytes_billed'], 'configuration', `"${bytes}" is not a size`, 'write a size such as 1TiB, 500GB or 1000000');
    out.defaultMaxBytesBilled = b;
  }
  if (timeout !== undefined) {
    const t = parseDuration(timeout);
    if (t === undefined) fail(file, ['warehouse', 'default_job_timeout'], 'configuration', `"${timeout}" is not a duration`, 'write a duration such as 30m, 1h or 6h');
    out.defaultJobTimeoutMs = t;
  }
  return out;
}
