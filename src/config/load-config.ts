/**
 * Loads hoopq.yaml: strict schema (config-schema.ts: unknown keys are errors, with
 * file:line:col; each warehouse kind states what it needs), then normalisation (relative
 * paths resolved against the config file's folder).
 */
import { dirname, resolve } from 'node:path';
import type { HoopqConfig } from './config.js';
import { configSchema } from './config-schema.js';
import { parseBytes } from './units.js';
import { readYamlFile, validateYaml } from './yaml-file.js';

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
        ? {
            kind: w.kind,
            path: at(w.path),
            defaultProject: w.default_project,
            defaultDataset: w.default_dataset,
            ...(w.max_query_memory !== undefined ? { maxQueryMemoryBytes: parseBytes(w.max_query_memory) } : {}),
            ...(w.query_threads !== undefined ? { queryThreads: w.query_threads } : {}),
          }
        : {
            kind: w.kind,
            project: w.project,
            location: w.location,
            credentials: w.credentials ? at(w.credentials) : undefined,
            apiEndpoint: w.api_endpoint,
            iamEndpoint: w.iam_endpoint,
            defaultProject: w.default_project,
            defaultDataset: w.default_dataset,
          },
    policiesDir: at(raw.policies),
    audit: isUrl ? { kind: 'gateway', url: raw.audit } : { kind: 'file', path: at(raw.audit) },
    keysDir,
    statePath: raw.state ? at(raw.state) : resolve(keysDir, '..', 'state.db'),
    gateway: raw.gateway,
    checkpointEvery: raw.audit_checkpoint_every ?? 100,
    ...(raw.oidc?.audience ? { oidcAudience: raw.oidc.audience } : {}),
  };
}
