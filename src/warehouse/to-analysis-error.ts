/** Analysis fails closed: whatever escapes a dialect's analyser unconverted is a refusal (exit 6). */
import { AnalysisError, isHoopqError } from '../errors.js';

export function toAnalysisError(err: unknown, hint: string): Error {
  if (isHoopqError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AnalysisError('analysis.failed', `the SQL could not be analysed: ${message}`, { rule: 'analysis', hint, cause: err });
}
