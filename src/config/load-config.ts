/**
 * Loads hoopq.yaml: strict schema (config-schema.ts: unknown keys are errors, with
 * file:line:col; each warehouse kind states what it needs), then normalisation (relative
 * paths resolved against the config file's folder).
 */
import { dirname, resolve } from 'node:path';
import type { HoopqConfig } from './config.js';
import { configSchema } from './config-schema.js';
import { checkWebhookUrl } from '../approval/approvals-config.js';
import { consoleOrigin } from '../console/console-config.js';
import { parseBytes, parseDuration } from './units.js';
import { describePostgresUrl, isPostgresUrl, postgresUrl } from './postgres-url.js';
import { fail, readYamlFile, validateYaml, type YamlFile } from './yaml-file.js';

export function loadConfig(path: string): HoopqConfig {
  const file = readYamlFile(path, 'configuration');
  const raw = validateYaml(file, configSchema, 'configuration');
  const dir = dirname(resolve(path));
  const at = (p: string) => resolve(dir, p);
  const w = raw.warehouse;
  const isUrl = /^https?:\/\//.test(raw.audit);
  // `postgres:` names one database for both; state: or audit: beside it must name the same one
  const both = raw.postgres === undefined ? undefined : typeof raw.postgres === 'string' ? raw.postgres : raw.postgres.url;
  if (both !== undefined) {
    const where = typeof raw.postgres === 'string' ? ['postgres'] : ['postgres', 'url'];
    if (!isPostgresUrl(both)) fail(file, where, 'configuration', 'is not a postgres:// URL', 'write e.g. postgres://hoopq@db.internal:5432/hoopq');
    for (const key of ['state', 'audit'] as const) {
      if (file.doc.has(key) && raw[key] !== both) {
        fail(file, [key], 'configuration', `conflicts with postgres: (which puts the ${key === 'state' ? 'state store' : 'audit log'} in ${describePostgresUrl(both)})`, `remove ${key}: or the postgres: section`);
      }
    }
  }
  const auditText = both ?? raw.audit;
  const stateText = both ?? raw.state;
  const auditPg = isPostgresUrl(auditText) ? postgresUrl(auditText, (m, h) => fail(file, both ? ['postgres'] : ['audit'], 'configuration', m, h)) : undefined;
  const statePg = stateText && isPostgresUrl(stateText) ? postgresUrl(stateText, (m, h) => fail(file, both ? ['postgres'] : ['state'], 'configuration', m, h)) : undefined;
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
            ...bigQueryDefaults(file, w.default_max_bytes_billed, w.default_job_timeout),
            defaultProject: w.default_project,
            defaultDataset: w.default_dataset,
          },
    policiesDir: at(raw.policies),
    audit: auditPg ? { kind: 'postgres', url: auditPg } : isUrl ? { kind: 'gateway', url: raw.audit } : { kind: 'file', path: at(raw.audit) },
    keysDir,
    statePath: raw.state && !statePg ? at(raw.state) : resolve(keysDir, '..', 'state.db'),
    ...(statePg ? { statePostgres: statePg } : {}),
    gateway: raw.gateway,
    checkpointEvery: raw.audit_checkpoint_every ?? 100,
    approvals: {
      webhooks: (raw.approvals?.webhooks ?? []).map((w, i) => ({
        ...w,
        url: checkWebhookUrl(w.url, (message, hint) => fail(file, ['approvals', 'webhooks', i, 'url'], 'configuration', message, hint)),
      })),
    },
    operators: {
      fourEyes: raw.operators?.four_eyes ?? true,
      ...(raw.operators?.oidc
        ? {
            oidc: {
              issuer: raw.operators.oidc.issuer,
              clientId: raw.operators.oidc.client_id,
              clientSecretFile: raw.operators.oidc.client_secret_file ? at(raw.operators.oidc.client_secret_file) : undefined,
              nameClaim: raw.operators.oidc.name_claim,
              allow: raw.operators.oidc.allow,
            },
          }
        : {}),
    },
    ...(raw.console
      ? {
          console: {
            url: raw.console.url === undefined ? undefined : consoleOrigin(raw.console.url, (message, hint) => fail(file, ['console', 'url'], 'configuration', message, hint)),
            sessionTtlMs: parseDuration(raw.console.session_ttl) ?? fail(file, ['console', 'session_ttl'], 'configuration', `"${raw.console.session_ttl}" is not a duration`, 'write e.g. 8h'),
          },
        }
      : {}),
    ...(raw.oidc?.audience ? { oidcAudience: raw.oidc.audience } : {}),
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
