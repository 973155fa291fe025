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
