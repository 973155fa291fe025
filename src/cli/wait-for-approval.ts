/**
 * `hoopq query --wait`: when a query is held for approval, wait for the decision and then
 * send the same query again (same SQL, parameters, token), which runs it under the approval —
 * or, when it was denied, records and reports the denial (exit 5).
 * Input: the attempt (direct or through a gateway), how to read the request's status, how
 * long to wait. Output: whatever the attempt finally gives. Without --wait, or when the wait
 * ends first, the pending answer is printed on stdout as one JSON object and the query exits
 * 11, so an agent can poll by running the same command again.
 */
import { ApprovalPendingError, PolicyDeniedError } from '../errors.js';

export interface WaitOptions {
  /** undefined: do not wait; a number: at most this many ms (Infinity: until the request expires). */
  waitMs: number | undefined;
  /** The request's status: pending | approved | denied | expired. */
  statusOf(requestId: string): Promise<string>;
  notice(line: string): void;
  stdout: NodeJS.WritableStream;
  pollMs?: number;
}

export async function withApprovalWait<T>(attempt: () => Promise<T>, options: WaitOptions): Promise<T> {
  const deadline = options.waitMs === undefined ? undefined : Date.now() + options.waitMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ApprovalPendingError)) throw err;
      const pending = (err.details?.pending ?? {}) as { request?: string; expires_at?: string; notified?: string[] };
      if (deadline === undefined || !pending.request) {
        options.stdout.write(JSON.stringify(pending) + '\n');
        throw err;
      }
      options.notice(`hoopq: waiting for an operator to approve ${pending.request} (notified: ${pending.notified?.join(', ') || 'nobody'}; expires ${pending.expires_at})`);
      const status = await pollUntilDecided(pending.request, Math.min(deadline, Date.parse(pending.expires_at ?? '') || deadline), options);
      if (status === 'pending') {
        options.stdout.write(JSON.stringify(pending) + '\n');
        throw err;
      }
      if (status === 'expired') {
        throw new PolicyDeniedError('approval.expired', `refused: request ${pending.request} expired at ${pending.expires_at} without a decision; nothing ran`, {
          rule: 'approval',
          hint: 'run the query again to ask again, or ask the operator directly',
        });
      }
      // approved: the same query again runs under the approval; denied: it is refused and recorded as such
      options.notice(`hoopq: ${pending.request} was ${status}`);
    }
  }
}

async function pollUntilDecided(id: string, until: number, options: WaitOptions): Promise<string> {
  const pollMs = options.pollMs ?? 500;
  for (;;) {
    const status = await options.statusOf(id);
    if (status !== 'pending') return status;
    const left = until - Date.now();
    if (left <= 0) return 'pending';
    await new Promise((r) => setTimeout(r, Math.min(pollMs, left)));
  }
}
