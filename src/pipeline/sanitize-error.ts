/**
 * sanitizeError: the one stage every error passes before it reaches a client (CLI stderr, an
 * HTTP body or end frame, an MCP result), an operator's log line or the audit record's
 * `reason`. Errors are results too: an engine's message can quote the data a SELECT would
 * have shown masked (`Could not convert string 'alice@…'`), values computed from the
 * caller's literals (`reverse('9876-54-321')`), and the SQL as hoopq rewrote it.
 *
 * Input: whatever was thrown, and what is known of the request — its SQL (names in it may be
 * quoted back, literals never) and a sealer for the operator's copy.
 * Output: a HoopqError of the same class, code, rule, hint and exit code whose message is
 * safe, and the original text sealed when the message had to change (the audit record keeps
 * it as `reason_sealed`; `hoopq audit show ID --unseal` opens it).
 * Invariants:
 * - an engine's message (`engineMessage`) is shown only through redactEngineMessage: a
 *   whitelist of its template words, type names and the names the caller wrote;
 * - anything that is not a HoopqError is a bug: `internal error`, its text redacted the same way;
 * - every message is then scrubbed of the SQL's literals and passed through the content
 *   detectors that cannot mistake hoopq's own words (times, ids, addresses) for data;
 * - idempotent: a sanitised error passes through unchanged.
 */
import { formatRefusal, InternalError, isHoopqError, systemErrorToHoopq, type HoopqError } from '../errors.js';
import { DETECTOR_BY_NAME } from '../masking/detectors/index.js';
import { redactEngineMessage, wordsOfSql } from '../masking/redact-engine-message.js';
import { scrubLiterals } from '../masking/redact-sql-literals.js';

export interface ErrorScope {
  /** The SQL as the caller sent it. */
  sql?: string;
  /** Its literals (redactSqlLiterals), when already known. */
  literals?: readonly string[];
  /** Seals the original text for the operator (the audit SQL key); without it nothing is kept. */
  seal?: (text: string) => string;
}

export interface SanitizedError {
  error: HoopqError;
  /** The original message, sealed, when the shown one differs from it. */
  sealed: string | null;
}

// Shapes that never occur in hoopq's own words; phone, IP and secret shapes do (times, ports,
// digests), and an engine's text has already lost every digit run and `@` on the whitelist.
const BACKSTOP_DETECTORS = [DETECTOR_BY_NAME.email, DETECTOR_BY_NAME.iban, DETECTOR_BY_NAME.credit_card, DETECTOR_BY_NAME.us_ssn];

export function sanitizeError(err: unknown, scope: ErrorScope = {}): SanitizedError {
  // an OS error (ENOSPC, EACCES …) is the user's to fix, with its exit code; anything else not ours is a bug
  const error = isHoopqError(err) ? err : (systemErrorToHoopq(err) ?? internalError(err));
  let original: string | null = null;
  if (error.engineMessage) {
    const { prefix, text } = error.engineMessage;
    original = prefix + text;
    error.message = prefix + redactEngineMessage(text, wordsOfSql(scope.sql));
    error.engineMessage = undefined;
    // the engine's quote of the SQL it ran goes with its text
    if (error.details) delete error.details.sql_excerpt;
    // the vendor's error holds the same text; it is sealed above, and nothing may print it
    delete (error as { cause?: unknown }).cause;
  }
  const literals = scope.literals ?? [];
  let message = scrubLiterals(error.message, literals);
  for (const detector of BACKSTOP_DETECTORS) message = detector.redact(message).text;
  if (message !== error.message) {
    original ??= error.message;
    error.message = message;
  }
  return { error, sealed: original !== null ? sealOrNull(original, scope.seal) : null };
}

function sealOrNull(text: string, seal: ErrorScope['seal']): string | null {
  try {
    return seal ? seal(text) : null;
  } catch {
    return null; // no key to seal with: the original is dropped, never shown instead
  }
}

/** A line for the operator's log: the sanitised refusal and, for a bug, where it happened (never its text). */
export function describeForLog(err: unknown): string {
  const { error } = sanitizeError(err);
  const frames = err instanceof Error && (!isHoopqError(err) || err instanceof InternalError) ? stackFrames(err) : '';
  return `${formatRefusal(error)} [${error.code}]${frames}`;
}

function internalError(err: unknown): InternalError {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const error = new InternalError('internal', 'internal error (a bug in hoopq)', {
    hint: 'please report it with the command you ran',
    engineMessage: { prefix: 'internal error (a bug in hoopq): ', text },
  });
  if (err instanceof Error && err.stack) error.stack = `${error.name}: ${error.message}${stackFrames(err)}`;
  return error;
}

function stackFrames(err: Error): string {
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  return frames.length > 0 ? '\n' + frames.join('\n') : '';
}
