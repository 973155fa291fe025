/**
 * QueryJobs as BigQuery's REST resources: the Job (`jobs.insert`, `jobs.get`, `jobs.list`),
 * a results page (`jobs.getQueryResults`, `jobs.query`) and page tokens.
 * Every job also carries `hoopq: {record, run, truncated, notices}` — the audit record that
 * holds it and what the pipeline said about the result (a cut at max_rows) — a field client
 * libraries ignore. A failed job carries `status.errorResult` in BigQuery's ErrorProto.
 */
import { createHash } from 'node:crypto';
import { bigQueryErrorOf } from './bigquery-api-error.js';
import { encodeRow, type TimestampFormat } from './bigquery-result-schema.js';
import { invalid } from './parse-query-configuration.js';
import type { QueryJob } from './query-jobs.js';

/** At most this many rows, and about this many bytes, in one page. */
export const PAGE_MAX_ROWS = 10_000;
const PAGE_MAX_BYTES = 8 * 1024 * 1024;

export function jobResource(job: QueryJob): Record<string, unknown> {
  const { reference } = job.spec;
  const location = reference.location ?? 'US';
  const failure = job.state === 'DONE' && job.error ? bigQueryErrorOf(job.error).proto : undefined;
  const bytes = job.outcome?.bytesProcessed;
  return {
    kind: 'bigquery#job',
    etag: etagOf(`${reference.jobId}:${job.state}:${job.endTime ?? ''}`),
    id: `${reference.projectId}:${location}.${reference.jobId}`,
    jobReference: { projectId: reference.projectId, jobId: reference.jobId, location },
    user_email: job.spec.subject ?? undefined,
    configuration: { jobType: 'QUERY', query: job.spec.configuration, ...(Object.keys(job.spec.labels).length > 0 ? { labels: job.spec.labels } : {}) },
    status: { state: job.state, ...(failure ? { errorResult: failure, errors: [failure] } : {}) },
    statistics: {
      creationTime: String(job.creationTime),
      ...(job.startTime !== undefined ? { startTime: String(job.startTime) } : {}),
      ...(job.endTime !== undefined ? { endTime: String(job.endTime) } : {}),
      ...(bytes !== undefined ? { totalBytesProcessed: String(bytes) } : {}),
      query: {
        ...(bytes !== undefined ? { totalBytesProcessed: String(bytes), totalBytesBilled: String(bytes) } : {}),
        cacheHit: false,
        ...(job.fields ? { schema: { fields: job.fields } } : {}),
      },
    },
    hoopq: {
      record: job.outcome?.recordId ?? null,
      run: job.spec.run,
      warehouse_job_id: job.outcome?.jobId ?? null,
      truncated: job.outcome?.truncated ?? false,
      notices: job.notices,
    },
  };
}

export interface PageRequest {
  maxResults?: number;
  startIndex?: number;
  pageToken?: string;
  timestamps: TimestampFormat;
}

/** One page of a finished job's rows, as getQueryResults / jobs.query answer it. */
export function resultPage(job: QueryJob, page: PageRequest): Record<string, unknown> {
  const fields = job.fields ?? [];
  const total = job.rows.length;
  const start = page.pageToken !== undefined ? offsetOf(page.pageToken, job) : (page.startIndex ?? 0);
  // maxResults 0 asks only whether the job is done (the Python client's first call)
  const limit = Math.min(page.maxResults ?? PAGE_MAX_ROWS, PAGE_MAX_ROWS);
  const rows: unknown[] = [];
  let bytes = 0;
  let next = start;
  while (next < total && rows.length < limit) {
    const row = encodeRow(job.rows[next]!, fields, page.timestamps);
    bytes += JSON.stringify(row).length;
    if (rows.length > 0 && bytes > PAGE_MAX_BYTES) break;
    rows.push(row);
    next += 1;
  }
  const bytesProcessed = job.outcome?.bytesProcessed;
  return {
    schema: { fields },
    totalRows: String(total),
    ...(rows.length > 0 ? { rows } : {}),
    ...(next < total && limit > 0 ? { pageToken: tokenOf(job, next) } : {}),
    ...(bytesProcessed !== undefined ? { totalBytesProcessed: String(bytesProcessed) } : {}),
    jobComplete: true,
    cacheHit: false,
  };
}

/** A page token names its job and offset; a token of another job is refused. */
function tokenOf(job: QueryJob, offset: number): string {
  return Buffer.from(JSON.stringify({ j: job.spec.reference.jobId, o: offset })).toString('base64url');
}

/** The job a page token belongs to (tabledata.list finds its listing by it). */
export function jobIdOfPageToken(token: string): string {
  const parsed = parseToken(token);
  if (typeof parsed?.j !== 'string') throw invalid('pageToken is not a page token');
  return parsed.j;
}

function parseToken(token: string): { j?: unknown; o?: unknown } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as { j?: unknown; o?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

function offsetOf(token: string, job: QueryJob): number {
  const parsed = parseToken(token);
  if (parsed && parsed.j === job.spec.reference.jobId && typeof parsed.o === 'number' && Number.isSafeInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  throw invalid('pageToken is not a page token of this job');
}

export function etagOf(text: string): string {
  return createHash('sha256').update(text).digest('base64').slice(0, 16);
}
