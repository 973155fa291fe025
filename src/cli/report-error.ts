/**
 * Turns any failure into the contract's stderr shape: one actionable line (what was refused,
 * the rule, what is allowed instead), or one JSON object {code, message, hint} when the
 * caller asked for machine output. Returns the exit code; the caller exits.
 */
import { InternalError, formatRefusal } from '../errors.js';
import { describeForLog, sanitizeError } from '../pipeline/sanitize-error.js';

export function reportError(err: unknown, stderr: NodeJS.WritableStream, machine: boolean): number {
  // what the pipeline threw is sanitised already; anything else (a bug) is made safe here
  const { error } = sanitizeError(err);
  if (machine) {
    stderr.write(JSON.stringify(error.toJSON()) + '\n');
  } else {
    stderr.write(formatRefusal(error) + '\n');
    if (error instanceof InternalError && process.env.HOOPQ_DEBUG) stderr.write(describeForLog(error) + '\n');
  }
  return error.exitCode;
}
