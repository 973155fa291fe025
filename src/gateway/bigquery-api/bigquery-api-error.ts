/**
 * hoopq's errors in BigQuery's own shape, for the BigQuery-compatible API: what a Google
 * client library expects from `bigquery.googleapis.com` —
 * `{"error": {"code", "message", "errors": [{"reason", "message", "domain"}], "status"}}` —
 * with hoopq's message (what was refused, by which rule, what is allowed instead) as the
 * message, so the client's ApiError says why. Also the `ErrorProto` a failed job carries in
 * `status.errorResult`.
 * Invariant: every HoopqError maps to a status by its class and code, never its text; an
 * error that is not a HoopqError is answered as a generic internal error (nothing leaks).
 */
import { AnalysisError, AuditWriteError, AuthError, ConfigError, HoopqError, InternalError, PolicyDeniedError, UsageError, WarehouseError, isHoopqError } from '../../errors.js';

/** BigQuery's ErrorProto. */
export interface BigQueryErrorProto {
  reason: string;
  message: string;
  domain?: string;
  location?: string;
}

export interface BigQueryErrorShape {
  status: number;
  proto: BigQueryErrorProto;
}

const GRPC_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'INVALID_ARGUMENT',
  409: 'ALREADY_EXISTS',
  413: 'INVALID_ARGUMENT',
  415: 'INVALID_ARGUMENT',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Codes with a more precise BigQuery answer than their class gives. */
const BY_CODE: Readonly<Record<string, { status: number; reason: string }>> = {
  'bigquery_api.not_supported': { status: 501, reason: 'notImplemented' },
  'bigquery_api.not_found': { status: 404, reason: 'notFound' },
  'bigquery_api.duplicate_job': { status: 409, reason: 'duplicate' },
  'gateway.request_too_large': { status: 413, reason: 'invalid' },
  'gateway.unsupported_media_type': { status: 415, reason: 'invalid' },
  'gateway.draining': { status: 503, reason: 'backendError' },
  'gateway.busy': { status: 503, reason: 'backendError' },
  'analysis.unknown_table': { status: 404, reason: 'notFound' },
  'warehouse.not_found': { status: 404, reason: 'notFound' },
  'warehouse.timeout': { status: 400, reason: 'timeout' },
  'warehouse.cancelled': { status: 400, reason: 'stopped' },
  'warehouse.bytes_exceeded': { status: 400, reason: 'bytesBilledLimitExceeded' },
  'warehouse.quota': { status: 403, reason: 'quotaExceeded' },
  'policy.budget_spent': { status: 403, reason: 'quotaExceeded' },
  'token.revoked': { status: 401, reason: 'authError' },
  'bigquery_api.job_cancelled': { status: 400, reason: 'stopped' },
};

const JUSTIFICATION_HINT = 'say why you need this data: send the header X-Hoopq-Justification, or the job label hoopq_justification (docs/bigquery-api.md)';

/** An error that is not a HoopqError becomes this; its details go to the operator's log only. */
export function asHoopqError(err: unknown): HoopqError {
  return isHoopqError(err) ? err : new InternalError('internal', 'internal error in the gateway', { hint: "the operator finds the details in the gateway's log" });
}

export function bigQueryErrorOf(err: unknown): BigQueryErrorShape {
  const error = asHoopqError(err);
  const known = Object.hasOwn(BY_CODE, error.code) ? BY_CODE[error.code]! : undefined;
  const { status, reason } = known ?? byClass(error);
  const hintText = error.code === 'policy.justification_required' ? JUSTIFICATION_HINT : error.hint;
  const hint = hintText ? ` (${hintText})` : '';
  return { status, proto: { reason, message: `${error.message}${hint}`, domain: 'global', ...(error.rule ? { location: error.rule } : {}) } };
}

function byClass(error: HoopqError): { status: number; reason: string } {
  if (error instanceof PolicyDeniedError) return { status: 403, reason: 'accessDenied' };
  if (error instanceof AuthError) return { status: 401, reason: 'authError' };
  if (error instanceof AnalysisError) return { status: 400, reason: 'invalidQuery' };
  if (error instanceof UsageError) return { status: 400, reason: 'invalid' };
  // a warehouse that refused the SQL (syntax, unknown column, bad parameter) is an invalid query
  if (error instanceof WarehouseError) return { status: 400, reason: 'invalidQuery' };
  if (error instanceof AuditWriteError) return { status: 503, reason: 'backendError' };
  if (error instanceof ConfigError) return { status: 500, reason: 'internalError' };
  return { status: 500, reason: 'internalError' };
}

/** The response body Google's client libraries parse into an ApiError. */
export function bigQueryErrorBody(shape: BigQueryErrorShape): { error: { code: number; message: string; errors: BigQueryErrorProto[]; status: string } } {
  return {
    error: {
      code: shape.status,
      message: shape.proto.message,
      errors: [shape.proto],
      status: GRPC_STATUS[shape.status] ?? 'UNKNOWN',
    },
  };
}

/** A call this API does not offer: 501, naming what is supported. */
export function notSupported(what: string): UsageError {
  return new UsageError('bigquery_api.not_supported', `refused: hoopq's BigQuery API does not support ${what}`, {
    rule: 'bigquery_api.supported_calls',
    hint: 'supported: jobs.insert (queries), jobs.query, jobs.get, jobs.getQueryResults, jobs.cancel, jobs.list, datasets.list, datasets.get, tables.list, tables.get, tabledata.list (see docs/bigquery-api.md)',
  });
}

export function notFound(what: string): UsageError {
  return new UsageError('bigquery_api.not_found', `Not found: ${what}`, {
    rule: 'bigquery_api.jobs',
    hint: 'a run sees only the jobs it started, for an hour after they finish',
  });
}
