/**
 * One error hierarchy for hoopq. Every failure that reaches a user is a HoopqError with a
 * stable `code`, the contract's exit code, an HTTP status for gateway mode, whom it is for
 * (the agent can fix it by changing its request; the operator must fix config/credentials)
 * and a `hint` that says what is allowed instead. Only the CLI's top-level catch turns these
 * into process exits; only the gateway's error handler turns them into HTTP statuses.
 * Match errors by class or `code`, never by message text.
 */
import type { SqlLiterals } from './analysis/query-analysis.js';

export type Audience = 'agent' | 'operator';

export interface HoopqErrorOptions {
  hint?: string;
  rule?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
  /**
   * The engine's own message (DuckDB, BigQuery), which may quote data: values that failed a
   * cast, the SQL as hoopq rewrote it. Never shown as it is: `message` must be safe without
   * it, and sanitizeError (src/pipeline/sanitize-error.ts) shows a redacted form and seals
   * the original for the operator.
   */
  engineMessage?: EngineMessage;
}

export interface EngineMessage {
  /** Put before the redacted text, e.g. `BigQuery invalidQuery: ` (DuckDB's own text starts with its error class). */
  prefix: string;
  text: string;
}

export abstract class HoopqError extends Error {
  abstract readonly exitCode: number;
  abstract readonly httpStatus: number;
  abstract readonly audience: Audience;
  readonly code: string;
  readonly hint: string | undefined;
  /** The policy or engine rule that refused, e.g. `tables.deny`, `statements`, `token.expired`. */
  readonly rule: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  /** See HoopqErrorOptions.engineMessage; cleared once sanitizeError has replaced it. */
  engineMessage: EngineMessage | undefined;

  constructor(code: string, message: string, options: HoopqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.rule = options.rule;
    this.details = options.details;
    this.engineMessage = options.engineMessage;
  }

  /** The stderr/JSON shape of the contract: {"code", "message", "hint"}. */
  toJSON(): { code: string; message: string; hint: string | null; rule?: string; exit: number } {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint ?? null,
      ...(this.rule ? { rule: this.rule } : {}),
      exit: this.exitCode,
    };
  }
}

/** Exit 1: a bug. */
export class InternalError extends HoopqError {
  readonly exitCode = 1;
  readonly httpStatus = 500;
  readonly audience = 'operator' as const;
}

/** Exit 2: bad flags or arguments. */
export class UsageError extends HoopqError {
  readonly exitCode = 2;
  readonly httpStatus = 400;
  readonly audience = 'agent' as const;
}

/** Exit 3: configuration or policy file invalid (also key/permission problems of the deployment). */
export class ConfigError extends HoopqError {
  readonly exitCode = 3;
  readonly httpStatus = 500;
  readonly audience = 'operator' as const;
}

/** Exit 4: token missing, malformed, expired, revoked, or signed by an unknown key. */
export class AuthError extends HoopqError {
  readonly exitCode = 4;
  readonly httpStatus = 401;
  readonly audience = 'agent' as const;
}

/** Exit 5: denied by policy (a table, a statement kind, a limit, a missing justification). */
export class PolicyDeniedError extends HoopqError {
  readonly exitCode = 5;
  readonly httpStatus = 403;
  readonly audience = 'agent' as const;
}

/** Exit 6: the SQL cannot be analysed (or rewritten for masks) with certainty. */
export class AnalysisError extends HoopqError {
  readonly exitCode = 6;
  readonly httpStatus = 422;
  readonly audience = 'agent' as const;
  /** The engine-checked literal spans of the SQL, when the refusal came after they were checked (audit redaction). */
  sqlLiterals: SqlLiterals | undefined;
}

/** Exit 7: the warehouse failed: SQL error, timeout, cancellation. */
export class WarehouseError extends HoopqError {
  readonly exitCode = 7;
  readonly httpStatus = 502;
  readonly audience: Audience = 'agent';
}

/** Exit 8: the audit record could not be written durably, so nothing ran. */
export class AuditWriteError extends HoopqError {
  readonly exitCode = 8;
  readonly httpStatus = 503;
  readonly audience = 'operator' as const;
}

/** Exit 9: the audit log failed verification. */
export class AuditVerifyError extends HoopqError {
  readonly exitCode = 9;
  readonly httpStatus = 500;
  readonly audience = 'operator' as const;
}

/**
 * Exit 10 (hoopq's extension of the contract's codes): `hoopq policy test` ran, and at least
 * one case did not get the decision its test file expects. Not a bug (1) and not an invalid
 * file (3): the policy does not do what its tests say.
 */
export class PolicyTestFailedError extends HoopqError {
  readonly exitCode = 10;
  readonly httpStatus = 422;
  readonly audience = 'operator' as const;
}

/**
 * Exit 11 (hoopq's extension): the query is held until an operator approves it; nothing ran.
 * `details.pending` is the answer an agent acts on ({status: "pending", request, notified,
 * expires_at, rules}); the CLI prints it on stdout, the gateway answers 202 with it.
 */
export class ApprovalPendingError extends HoopqError {
  readonly exitCode = 11;
  readonly httpStatus = 202;
  readonly audience = 'agent' as const;

  override toJSON(): ReturnType<HoopqError['toJSON']> & { pending?: unknown } {
    return { ...super.toJSON(), pending: this.details?.pending };
  }
}

/**
 * Exit 12 (hoopq's extension of the contract's codes): the query was given to the
 * warehouse, but its outcome record could not be written durably. Unlike exit 8 it may have
 * run — a write may have happened — so it must not be retried blindly. Its intent record is
 * in the log, and the outcome is written later by recovery (recover-outcomes.ts).
 */
export class OutcomeUnrecordedError extends HoopqError {
  readonly exitCode = 12;
  readonly httpStatus = 500;
  readonly audience = 'operator' as const;
}

export function isHoopqError(err: unknown): err is HoopqError {
  return err instanceof HoopqError;
}

/**
 * The contract's one-line refusal, as a person and an agent read it: what was refused, the
 * rule, and what is allowed instead. Every entry point (CLI stderr, MCP tool results, …)
 * prints this same text, so an agent sees one message whichever way it came in.
 */
export function formatRefusal(error: HoopqError): string {
  const line = error.hint ? `hoopq: ${error.message}. ${capitaliseSentence(error.hint)}` : `hoopq: ${error.message}`;
  return line.replace(/\s*\n\s*/g, ' ');
}

function capitaliseSentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}

/**
 * An operating-system failure (a busy port, a permission, a full or read-only disk, a missing
 * file) as the user error it is, never "a bug in hoopq": exit 2 when the user's own argument
 * named the thing (an address to listen on), else exit 3 (the deployment must be fixed).
 * Returns undefined for anything that is not a system error.
 */
export function systemErrorToHoopq(err: unknown): HoopqError | undefined {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (isHoopqError(err) || typeof e?.code !== 'string' || !/^E[A-Z]+$/.test(e.code) || typeof e.syscall !== 'string') return undefined;
  const where = e.path ?? (e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : undefined);
  const what = `${e.syscall}${where ? ` ${where}` : ''}`;
  const known: Record<string, () => HoopqError> = {
    EADDRINUSE: () =>
      new UsageError('os.address_in_use', `cannot listen on ${where ?? 'that address'}: the address is already in use`, {
        hint: 'stop the process that holds it, or pass --listen HOST:PORT with another port (port 0 picks a free one)',
        cause: err,
      }),
    EADDRNOTAVAIL: () =>
      new UsageError('os.address_not_available', `cannot listen on ${where ?? 'that address'}: no network interface of this machine has that address`, {
        hint: 'pass --listen with an address of this machine, e.g. 127.0.0.1:8470',
        cause: err,
      }),
    EACCES: () => permissionDenied(what, err),
    EPERM: () => permissionDenied(what, err),
    ENOSPC: () => new ConfigError('os.disk_full', `no space left on the device (${what})`, { hint: 'free disk space, then run the command again', cause: err }),
    EDQUOT: () => new ConfigError('os.disk_full', `disk quota exceeded (${what})`, { hint: 'free disk space or raise the quota, then run the command again', cause: err }),
    EROFS: () => new ConfigError('os.read_only', `the file system is read-only (${what})`, { hint: 'give hoopq a writable location for its state, keys and audit log', cause: err }),
    EMFILE: () => new ConfigError('os.too_many_files', `too many open files (${what})`, { hint: 'raise the open-file limit (ulimit -n) for this process', cause: err }),
    ENFILE: () => new ConfigError('os.too_many_files', `too many open files on this machine (${what})`, { hint: 'raise the system-wide open-file limit', cause: err }),
    ENOENT: () => new ConfigError('os.not_found', `no such file or folder: ${where ?? what}`, { hint: 'check the path in hoopq.yaml or on the command line', cause: err }),
    EISDIR: () => new ConfigError('os.is_a_folder', `${where ?? what} is a folder where a file was expected`, { hint: 'check the path in hoopq.yaml or on the command line', cause: err }),
    ENOTDIR: () => new ConfigError('os.not_a_folder', `a part of ${where ?? what} is not a folder`, { hint: 'check the path in hoopq.yaml or on the command line', cause: err }),
  };
  const make = known[e.code];
  return make ? make() : new ConfigError(`os.${e.code.toLowerCase()}`, `the operating system refused ${what} (${e.code})`, { hint: 'check the machine (disk, permissions, limits) and run the command again', cause: err });
}

function permissionDenied(what: string, cause: unknown): HoopqError {
  return new ConfigError('os.permission_denied', `permission denied: ${what}`, {
    hint: 'check the owner and mode of that file or folder, or run hoopq as the user that owns the deployment (ports below 1024 need privileges)',
    cause,
  });
}

/** Any thrown value as a HoopqError: itself, an operating-system error by its code, else a bug (exit 1). */
export function toHoopqError(err: unknown): HoopqError {
  if (isHoopqError(err)) return err;
  return (
    systemErrorToHoopq(err) ??
    new InternalError('internal', `internal error (a bug in hoopq): ${(err as Error)?.message ?? String(err)}`, { hint: 'please report it with the command you ran', cause: err })
  );
}
