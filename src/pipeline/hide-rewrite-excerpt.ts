/**
 * An engine's SQL error may quote or point into the SQL it ran (DuckDB's `LINE 1: … ^`,
 * BigQuery's `at [1:8]`). When that SQL is hoopq's rewrite for column masks, the quote shows
 * text the caller never wrote (`SELECT nme FROM (SELECT * REPLACE (sha256(…`) and positions
 * that do not match theirs: the excerpt is left out, and the hint says where the SQL that ran
 * can be seen. The warehouse adapter marks the excerpt (`details.sql_excerpt`), so nothing
 * here reads an engine's message format.
 * Input: an error from running a query whose statements were rewritten. Output: the same
 * error (class, code, rule, exit code) with the excerpt left out of its message.
 */
import type { HoopqError, HoopqErrorOptions } from '../errors.js';

export function hideRewriteExcerpt(err: HoopqError): HoopqError {
  const excerpt = err.details?.sql_excerpt;
  if (typeof excerpt !== 'string' || excerpt === '') return err;
  // the excerpt is in the message, or in the engine's own text (withheld until sanitizeError shows it redacted)
  const inMessage = err.message.includes(excerpt);
  const engine = err.engineMessage;
  const inEngine = engine !== undefined && engine.text.includes(excerpt);
  if (!inMessage && !inEngine) return err;
  const { sql_excerpt: _left, ...details } = err.details ?? {};
  const why = 'where the engine pointed is in the SQL as rewritten for column masks, so it is not quoted (hoopq explain shows that SQL)';
  const Same = err.constructor as new (code: string, message: string, options: HoopqErrorOptions) => HoopqError;
  return new Same(err.code, inMessage ? err.message.replace(excerpt, '').trimEnd() : err.message, {
    hint: err.hint ? `${err.hint}; ${why}` : why,
    rule: err.rule,
    details,
    cause: err.cause,
    ...(engine ? { engineMessage: inEngine ? { prefix: engine.prefix, text: engine.text.replace(excerpt, '').trimEnd() } : engine } : {}),
  });
}
