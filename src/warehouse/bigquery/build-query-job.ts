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
import { toBigQueryParameters } from './bigquery-query-parameters.js';
import { sanitizeBigQueryLabels } from './sanitize-bigquery-labels.js';

export interface QueryJobTarget {
  /** The project the job runs (and is billed) in. */
  project: string;
  location?: string;
}

export interface QueryJobResource {
  jobReference: { projectId: string; jobId?: string; location?: string };
  configuration: Record<string, unknown>;
}

export function buildQueryJob(sql: string, options: Omit<ExecuteOptions, 'signal'>, target: QueryJobTarget, dryRun: boolean): QueryJobResource {
  const names = options.names ?? {};
  const labels = sanitizeBigQueryLabels(options.labels);
  const query: Record<string, unknown> = {
    query: sql,
    useLegacySql: false,
    ...(options.maxBytesBilled !== undefined ? { maximumBytesBilled: String(Math.floor(options.maxBytesBilled)) } : {}),
    ...(names.defaultDataset ? { defaultDataset: { projectId: names.defaultProject ?? target.project, datasetId: names.defaultDataset } } : {}),
    ...toBigQueryParameters(options.params),
  };
  return {
    jobReference: {
      projectId: target.project,
      ...(dryRun ? {} : { jobId: newJobId() }),
      ...(target.location ? { location: target.location } : {}),
    },
    configuration: {
      query,
      ...(dryRun ? { dryRun: true } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(!dryRun && options.timeoutMs !== undefined ? { jobTimeoutMs: String(Math.max(1, Math.ceil(options.timeoutMs))) } : {}),
    },
  };
}

/** `hoopq_` + a random UUID: job ids allow letters, digits, `_` and `-`, up to 1024 characters. */
function newJobId(): string {
  return `hoopq_${randomUUID().replace(/-/g, '_')}`;
}
