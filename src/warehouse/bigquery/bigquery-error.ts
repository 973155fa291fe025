/**
 * BigQuery, IAM Credentials and OAuth errors converted at the adapter boundary.
 * - BigQuery's own errors become WarehouseError (exit 7) carrying BigQuery's `reason` and
 *   message: `BigQuery invalidQuery: Unrecognized name: foo at [1:8]`.
 * - Credential and permission failures (a role missing, the key refused, impersonation denied)
 *   are for the operator: exit 7 with audience `operator` and a hint naming the role that is
 *   missing and the account that needs it.
 * Errors are told apart by the vendor's structured fields (HTTP status, `reason`, the URL the
 * failed request went to), never by our own message text.
 */
import { isHoopqError, WarehouseError, type HoopqError, type HoopqErrorOptions } from '../../errors.js';

/** A warehouse failure only the operator can fix (IAM, credentials, endpoints). */
export class WarehouseAccessError extends WarehouseError {
  override readonly audience = 'operator' as const;
}

export interface BigQueryErrorContext {
  /** The project jobs run in. */
  project: string;
  /** The gateway's own account (the base credential). */
  baseAccount: string;
  /** The policy's service account, which every BigQuery call runs as. */
  impersonated: string;
}

interface VendorError {
  message?: string;
  code?: number | string;
  status?: number;
  errors?: Array<{ reason?: string; message?: string }>;
  response?: { status?: number; data?: unknown };
  config?: { url?: unknown };
}

export function toBigQueryError(err: unknown, ctx: BigQueryErrorContext): HoopqError {
  if (isHoopqError(err)) return err;
  const e = (err ?? {}) as VendorError;
  const url = String(e.config?.url ?? '');
  if (url.includes(':generateAccessToken')) return impersonationError(e, ctx, err);
  if (e.response && typeof (e.response.data as { error?: unknown })?.error === 'string') return baseCredentialError(e, ctx, err);
  const status = typeof e.code === 'number' ? e.code : (e.response?.status ?? e.status);
  const reason = e.errors?.[0]?.reason;
  const message = firstLine(e.errors?.[0]?.message ?? e.message ?? String(err));
  if (reason || typeof status === 'number') return fromBigQuery(reason ?? httpReason(status), message, status, ctx, err);
  if (typeof e.code === 'string' && /^E[A-Z]+/.test(e.code)) {
    return new WarehouseAccessError('warehouse.unreachable', `cannot reach Google: ${message}`, {
      rule: 'warehouse.network',
      hint: 'check the network, and api_endpoint / iam_endpoint in hoopq.yaml when they are set',
      cause: err,
    });
  }
  return new WarehouseError('warehouse.error', `BigQuery failed: ${message}`, { rule: 'warehouse', cause: err });
}

/** A failed job's `status.errorResult` (or an error row of `errors`). */
export function fromJobError(errorResult: { reason?: string; message?: string }, ctx: BigQueryErrorContext): HoopqError {
  return fromBigQuery(errorResult.reason ?? 'jobFailed', firstLine(errorResult.message ?? 'the job failed'), undefined, ctx, undefined);
}

function fromBigQuery(reason: string, message: string, status: number | undefined, ctx: BigQueryErrorContext, cause: unknown): HoopqError {
  const text = `BigQuery ${reason}: ${message}`;
  // BigQuery points into the SQL it ran ("Unrecognized name: nme at [1:8]"): marked for hideRewriteExcerpt
  const excerpt = / at \[\d+:\d+\]$/.exec(message)?.[0];
  const base: HoopqErrorOptions = { rule: `bigquery.${reason}`, cause, details: { reason, ...(status ? { http_status: status } : {}), ...(excerpt ? { sql_excerpt: excerpt } : {}) } };
  // BigQuery's text of a failed query can quote values (`Bad int64 value: …`): it travels as
  // engineMessage, shown only redacted by the pipeline's sanitizeError
  const quoting: HoopqErrorOptions = { ...base, engineMessage: { prefix: `BigQuery ${reason}: `, text: message } };
  const withheld = `BigQuery ${reason}: the message is withheld (it may quote data)`;
  switch (reason) {
    case 'accessDenied':
    case 'unauthorized':
    case 'authError':
    case 'required':
      return new WarehouseAccessError('warehouse.access_denied', text, { ...base, hint: accessHint(message, ctx) });
    case 'invalidQuery':
    case 'invalid':
      return new WarehouseError('warehouse.invalid_query', withheld, { ...quoting, hint: "the message is BigQuery's own, without the values it quoted; correct the SQL and try again" });
    case 'notFound':
      return new WarehouseError('warehouse.not_found', text, { ...base, hint: 'check the project, dataset and table names, and the location of the dataset' });
    case 'bytesBilledLimitExceeded':
      return new WarehouseError('warehouse.bytes_exceeded', text, {
        ...base,
        hint: 'the job stopped at the policy\'s max_bytes_billed; filter on partition or clustering columns, select fewer columns, or read a smaller table',
      });
    case 'stopped':
      return new WarehouseError('warehouse.cancelled', text, { ...base, hint: 'the job was cancelled; run the query again if it is still needed' });
    case 'timeout':
      return new WarehouseError('warehouse.timeout', text, { ...base, hint: "the job ran past the policy's timeout; make the query cheaper" });
    case 'quotaExceeded':
    case 'rateLimitExceeded':
      return new WarehouseError('warehouse.quota', text, { ...base, hint: 'BigQuery quota reached; retry later' });
    default:
      return new WarehouseError('warehouse.bigquery_error', withheld, { ...quoting, hint: "the message is BigQuery's own, without the values it quoted" });
  }
}

function accessHint(message: string, ctx: BigQueryErrorContext): string {
  const sa = ctx.impersonated;
  if (/bigquery\.jobs\.create/.test(message)) {
    return `grant roles/bigquery.jobUser on project ${ctx.project} to serviceAccount:${sa} (the policy's impersonate account)`;
  }
  const table = /(?:Table|Dataset) ([\w.:-]+?):([\w-]+)/.exec(message);
  if (table) {
    return `if policy should read it, grant roles/bigquery.dataViewer on dataset ${table[1]}:${table[2]} to serviceAccount:${sa}; otherwise this is the least-privilege account refusing a table the policy does not need`;
  }
  return `check the IAM roles of serviceAccount:${sa}: roles/bigquery.jobUser on project ${ctx.project} and roles/bigquery.dataViewer on each dataset the policy reads`;
}

function impersonationError(e: VendorError, ctx: BigQueryErrorContext, cause: unknown): HoopqError {
  const data = e.response?.data as { error?: { status?: string; message?: string } } | undefined;
  const status = data?.error?.status ?? String(e.response?.status ?? '');
  const detail = firstLine(data?.error?.message ?? e.message ?? '');
  if (status === 'PERMISSION_DENIED' || e.response?.status === 403) {
    return new WarehouseAccessError('warehouse.impersonation_denied', `BigQuery credentials: ${ctx.baseAccount} may not impersonate ${ctx.impersonated} (${detail})`, {
      rule: 'bigquery.impersonation',
      hint: `grant roles/iam.serviceAccountTokenCreator on service account ${ctx.impersonated} to ${ctx.baseAccount}, and enable the IAM Service Account Credentials API`,
      details: { status },
      cause,
    });
  }
  return new WarehouseAccessError('warehouse.impersonation_failed', `BigQuery credentials: impersonating ${ctx.impersonated} failed (${status || 'error'}: ${detail})`, {
    rule: 'bigquery.impersonation',
    hint: `check that ${ctx.impersonated} exists and is enabled, and iam_endpoint in hoopq.yaml when it is set`,
    details: { status },
    cause,
  });
}

function baseCredentialError(e: VendorError, ctx: BigQueryErrorContext, cause: unknown): HoopqError {
  const data = e.response?.data as { error?: string; error_description?: string };
  return new WarehouseAccessError('warehouse.credentials_rejected', `BigQuery credentials: Google refused the gateway's own credential (${data.error}: ${data.error_description ?? ''})`, {
    rule: 'bigquery.credentials',
    hint: `${ctx.baseAccount} could not get a token: check that its key is valid and not disabled or deleted (warehouse.credentials / Application Default Credentials)`,
    details: { error: data.error },
    cause,
  });
}

function httpReason(status: number | undefined): string {
  switch (status) {
    case 400:
      return 'invalid';
    case 401:
      return 'unauthorized';
    case 403:
      return 'accessDenied';
    case 404:
      return 'notFound';
    default:
      return `http${status ?? ''}`;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}
