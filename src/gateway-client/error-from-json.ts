/**
 * The client's side of send-error.ts: the gateway's `{code, message, hint, rule?, exit}`
 * becomes the same HoopqError class the pipeline threw at the gateway, so the remote CLI's
 * top-level catch prints the same line and exits with the same code as direct mode.
 * Anything that does not have that shape is a broken or foreign peer: exit 7, fail closed.
 */
import {
  AnalysisError,
  ApprovalPendingError,
  AuditVerifyError,
  AuditWriteError,
  AuthError,
  ConfigError,
  HoopqError,
  InternalError,
  OutcomeUnrecordedError,
  PolicyDeniedError,
  UsageError,
  WarehouseError,
  type HoopqErrorOptions,
} from '../errors.js';

type ErrorClass = new (code: string, message: string, options?: HoopqErrorOptions) => HoopqError;

const CLASS_BY_EXIT: Readonly<Record<number, ErrorClass>> = {
  1: InternalError,
  2: UsageError,
  3: ConfigError,
  4: AuthError,
  5: PolicyDeniedError,
  6: AnalysisError,
  7: WarehouseError,
  8: AuditWriteError,
  9: AuditVerifyError,
  11: ApprovalPendingError,
  12: OutcomeUnrecordedError,
};

export function errorFromJson(json: unknown, origin: string): HoopqError {
  const e = json as { code?: unknown; message?: unknown; hint?: unknown; rule?: unknown; exit?: unknown; pending?: unknown } | null;
  const ok =
    e !== null &&
    typeof e === 'object' &&
    typeof e.code === 'string' &&
    typeof e.message === 'string' &&
    (e.hint === null || e.hint === undefined || typeof e.hint === 'string') &&
    (e.rule === undefined || typeof e.rule === 'string') &&
    typeof e.exit === 'number' &&
    Object.hasOwn(CLASS_BY_EXIT, e.exit);
  if (!ok) return badResponse(origin, 'an error without the expected shape');
  const Class = CLASS_BY_EXIT[e.exit as number]!;
  return new Class(e.code as string, e.message as string, {
    hint: (e.hint as string | null) ?? undefined,
    rule: e.rule as string | undefined,
    // a held query's answer (request id, expiry, who was notified) travels with its error
    ...(e.exit === 11 && e.pending && typeof e.pending === 'object' ? { details: { pending: e.pending } } : {}),
  });
}

export function badResponse(origin: string, what: string): WarehouseError {
  return new WarehouseError('gateway.bad_response', `the gateway at ${origin} sent ${what}`, {
    rule: 'gateway.protocol',
    hint: 'check that HOOPQ_GATEWAY points at a hoopq gateway of the same version',
  });
}
