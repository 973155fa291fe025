/**
 * BigQuery REST v2 calls through @google-cloud/bigquery's authenticated transport (its
 * endpoint handling, retries and the impersonated credential), as promises that an
 * AbortSignal can abandon, with every error converted at this one boundary.
 * Raw JSON in and out: hoopq builds the job resource itself (no JOB_CREATION_OPTIONAL, no
 * jobs.query) and converts rows itself, so the library's own conversions never run.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import { toBigQueryError, type BigQueryErrorContext } from './bigquery-error.js';

export interface RestRequest {
  method?: 'GET' | 'POST';
  /** Path below `projects/{project}`, e.g. `/jobs`. */
  uri: string;
  /** Another project than the job project (tables.get on a table in another project). */
  projectId?: string;
  qs?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
}

export class BigQueryRest {
  constructor(
    private readonly client: BigQuery,
    readonly errorContext: BigQueryErrorContext,
  ) {}

  /**
   * Resolves with the response body. When `signal` aborts first, rejects with the signal's
   * reason at once (the HTTP exchange is left to finish on its own; its answer is ignored).
   */
  call<T>(request: RestRequest, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const qs = request.qs ? Object.fromEntries(Object.entries(request.qs).filter(([, v]) => v !== undefined)) : undefined;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.client.request(
        { method: request.method ?? 'GET', uri: request.uri, ...(request.projectId ? { projectId: request.projectId } : {}), ...(qs ? { qs } : {}), ...(request.json !== undefined ? { json: request.json } : {}) },
        (err: Error | null, body?: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(toBigQueryError(err, this.errorContext));
          else resolve(body as T);
        },
      );
    });
  }
}
