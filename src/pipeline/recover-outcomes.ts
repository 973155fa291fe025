/**
 * recoverOutcomes: writes the outcome records that queries could not write themselves.
 *
 * Every query that runs spends its budget unit while its intent record is written (it runs
 * only once both are durable), and the unit stays listed in the state store
 * (`pending_outcomes`) until its outcome record is durable too. A unit still listed means
 * the outcome is not in the log: the outcome append failed (exit 12, the process then keeps
 * the outcome it could not write in the row), or the process died while the query ran. Recovery appends, for each such unit whose process
 * is gone (or, for the caller's own process, whose outcome it kept):
 * - the kept outcome, exactly as it would have been written, marked `recovered`;
 * - otherwise an outcome record with decision `error`, code `audit.outcome_lost`: the query
 *   may have run, and what it returned is unknown.
 * Before appending it reads the log back to the intent: an outcome already there (the
 * process died after writing it, before settling its unit) is not written twice, and a unit
 * whose intent is not in the log at all (the process died before the intent was durable, so
 * the query never ran) is given back to its run instead (StateStore.refundQuery).
 *
 * Input: the state store and the sink (which reads its log back, where it can: a file or
 * PostgreSQL; a gateway's sink cannot, and its outcome is written without the read-back).
 * Output: how many outcomes were written. Invariants: never two outcomes for one intent
 * from recovery; units of processes still alive on this host, and units of other hosts, are
 * left alone (docs/audit.md "Outcomes written later").
 */
import os from 'node:os';
import type { AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import type { PendingOutcome, StateStore } from '../identity/state-store.js';
import { newAuditBody } from './audit-body.js';

export async function recoverOutcomes(state: StateStore, sink: AuditSink, now: () => Date = () => new Date()): Promise<number> {
  const host = os.hostname();
  let written = 0;
  for (const pending of state.pendingOutcomes()) {
    if (pending.host !== host) continue;
    // this process's own units are queries still running, unless it kept their outcome
    if (pending.pid === process.pid ? pending.outcome === null : isAlive(pending.pid)) continue;
    const found = sink.findOutcomeOfIntent ? await sink.findOutcomeOfIntent(pending.intent) : 'intent-only';
    if (found === 'no-intent' && pending.outcome === null) {
      // spent beside an intent that never became durable: the process died before the query
      // could run (nothing runs before both are durable), so the unit is given back
      state.refundQuery(pending.intent);
      continue;
    }
    if (found !== 'outcome') {
      await sink.append(recoveredOutcome(pending, now()));
      written += 1;
    }
    state.forgetPending(pending.intent);
  }
  return written;
}

function recoveredOutcome(pending: PendingOutcome, now: Date): AuditRecordBody {
  const recovered = { at: now.toISOString(), pid: pending.pid, host: pending.host };
  if (pending.outcome !== null) {
    try {
      const kept = JSON.parse(pending.outcome) as AuditRecordBody;
      const { seq: _seq, prev: _prev, hash: _hash, ...body } = kept as AuditRecordBody & { seq?: unknown; prev?: unknown; hash?: unknown };
      if (body.intent === pending.intent && typeof body.id === 'string') return { ...body, recovered: { ...recovered, kept: true } };
    } catch {
      // a kept outcome that does not parse is as good as none
    }
  }
  return newAuditBody('query', now, {
    run: pending.run,
    intent: pending.intent,
    decision: 'error',
    reason: `the process running this query (pid ${pending.pid} on ${pending.host}) ended before its outcome was recorded; the query may have run and what it returned is unknown`,
    code: 'audit.outcome_lost',
    rule: 'audit.durable',
    exit_code: null,
    recovered: { ...recovered, kept: false },
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
