/**
 * The jobs.insert resource for one query, built field by field so that every job carries
 * what the policy demands: GoogleSQL (`useLegacySql: false`, never the API's legacy default),
 * `maximumBytesBilled` from the policy, sanitised labels (run and audit record), `jobTimeoutMs`
 * from the policy's timeout, the default dataset the analysis resolved names against, typed
 * query parameters. Always a job (jobs.insert); never jobs.query, so never
 * JOB_CREATION_OPTIONAL: every query has a job id for the audit record and for jobs.cancel.
 */
import { randomUUID } from 'node:crypto';
import type { ExecuteOptions } from '../warehouse.js';
import { AnalysisError } from '../../errors.js';
import { toBigQueryParameters, type RestQueryParameter, type RestQueryParameters } from './bigquery-query-parameters.js';
import { sanitizeBigQueryLabels } from './sanitize-bigquery-labels.js';

export interface QueryJobTarget {
  /** The project the job runs (and is billed) in. */
  project: string;
  location?: string;
  /** Applied when the policy sets none, so no job is ever uncapped or unbounded in time. */
  defaults: { maxBytesBilled: number; jobTimeoutMs: number };
}

/** The caps a job gets when neither the policy nor the configuration names one. */
export const DEFAULT_MAX_BYTES_BILLED = 2 ** 40; // 1 TiB
export const DEFAULT_JOB_TIMEOUT_MS = 3_600_000; // 1 h

export interface QueryJobResource {
  jobReference: { projectId: string; jobId?: string; location?: string };
  configuration: Record<string, unknown>;
}

/** `hidden`: hoopq's own parameters (the hash key), appended to the caller's. */
export function buildQueryJob(sql: string, options: Omit<ExecuteOptions, 'signal'>, target: QueryJobTarget, dryRun: boolean, hidden: RestQueryParameter[] = []): QueryJobResource {
  const names = options.names ?? {};
  const labels = sanitizeBigQueryLabels(options.labels);
  const maxBytesBilled = options.maxBytesBilled ?? target.defaults.maxBytesBilled;
  const timeoutMs = options.timeoutMs ?? target.defaults.jobTimeoutMs;
  const query: Record<string, unknown> = {
    query: sql,
    useLegacySql: false,
    maximumBytesBilled: String(Math.floor(maxBytesBilled)),
    ...(names.defaultDataset ? { defaultDataset: { projectId: names.defaultProject ?? target.project, datasetId: names.defaultDataset } } : {}),
    ...withHiddenParameters(toBigQueryParameters(options.params), hidden),
  };
  return {
    jobReference: {
      projectId: target.project,
      ...(dryRun ? {} : { jobId: options.jobId ?? newJobId() }),
      ...(target.location ? { location: target.location } : {}),
    },
    configuration: {
      query,
      ...(dryRun ? { dryRun: true } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(!dryRun ? { jobTimeoutMs: String(Math.max(1, Math.ceil(timeoutMs))) } : {}),
    },
  };
}

function withHiddenParameters(given: RestQueryParameters, hidden: RestQueryParameter[]): RestQueryParameters {
  if (hidden.length === 0) return given;
  if (given.parameterMode === 'POSITIONAL') {
    throw new AnalysisError('masking.positional_parameters', 'refused: a query with positional (?) parameters cannot read hashed columns, whose mask takes named parameters', {
      rule: 'parameters',
      hint: 'name the parameters (@name, --parameter name:type:value)',
    });
  }
  return { parameterMode: 'NAMED', queryParameters: [...(given.queryParameters ?? []), ...hidden] };
}

/** `hoopq_` + a random UUID: job ids allow letters, digits, `_` and `-`, up to 1024 characters. */
export function newJobId(): string {
  return `hoopq_${randomUUID().replace(/-/g, '_')}`;
}
