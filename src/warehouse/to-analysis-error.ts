/** Analysis fails closed: whatever escapes a dialect's analyser unconverted is a refusal (exit 6). */
import { AnalysisError, isHoopqError } from '../errors.js';

export function toAnalysisError(err: unknown, hint: string): Error {
  if (isHoopqError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  // the engine's text may quote the SQL: shown only redacted (see sanitizeError)
  return new AnalysisError('analysis.failed', 'the SQL could not be analysed', {
    rule: 'analysis',
    hint,
    cause: err,
    engineMessage: { prefix: 'the SQL could not be analysed: ', text: message },
  });
}
