/**
 * Turns any failure into the contract's stderr shape: one actionable line (what was refused,
 * the rule, what is allowed instead), or one JSON object {code, message, hint} when the
 * caller asked for machine output. Returns the exit code; the caller exits.
 */
import { InternalError, formatRefusal, toHoopqError } from '../errors.js';

export function reportError(err: unknown, stderr: NodeJS.WritableStream, machine: boolean): number {
  const error = toHoopqError(err);
  if (machine) {
    stderr.write(JSON.stringify(error.toJSON()) + '\n');
  } else {
    stderr.write(formatRefusal(error) + '\n');
    if (error instanceof InternalError && process.env.HOOPQ_DEBUG && err instanceof Error) stderr.write(String(err.stack) + '\n');
  }
  return error.exitCode;
}
