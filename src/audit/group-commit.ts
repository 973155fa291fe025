/**
 * Group commit for a durable audit sink (the JSONL file, the PostgreSQL log): the appends of
 * one turn of the event loop (concurrent queries of one process) wait for one commit and
 * share it; those that arrive while a group is being committed join the next.
 *
 * Input: checked record contents. Output: each append's stored record, once the commit that
 * covers it is durable. Invariants: groups are committed one at a time, at most MAX_GROUP
 * records each; `commit` resolves the appends it made durable (rejecting any single record
 * it could not write); if it throws, every append of its group is rejected with that error,
 * so no caller runs on a record that may not be durable.
 */
import type { AuditRecord, AuditRecordBody } from './audit-record.js';
import { auditWriteError, recordContent } from './sink-checkpointing.js';

/** One append waiting for the group commit that makes it durable. */
export interface PendingAppend {
  content: Record<string, unknown>;
  resolve(record: AuditRecord): void;
  reject(err: unknown): void;
}

/** Records per commit at most: bounds one write's size and the time a lock is held. */
export const MAX_GROUP = 512;

/**
 * `take()` hands out the next group; a sink that takes it once its lock is held lets the
 * appends that came while it waited join too.
 */
export type CommitGroup = (take: () => PendingAppend[]) => Promise<void>;

export class GroupCommitQueue {
  private readonly pending: PendingAppend[] = [];
  private draining: Promise<void> | undefined;
  private closed = false;

  /** `where`: the log as messages name it (a path, or a database without a password). */
  constructor(
    private readonly where: string,
    private readonly commit: CommitGroup,
  ) {}

  /** Checks the body (recordContent) and queues it; rejects once the sink is closed. */
  append(body: AuditRecordBody): Promise<AuditRecord> {
    if (this.closed) return Promise.reject(auditWriteError(this.where, 'the sink is closed', 'audit.sink_closed'));
    let content: Record<string, unknown>;
    try {
      content = recordContent(body, this.where);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.pending.push({ content, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Refuses further appends and waits for the queued ones; false when it was closed already. */
  async close(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    await this.draining;
    return true;
  }

  /** Commits groups until nobody waits; `draining` is cleared in the same tick the queue is seen empty. */
  private async drain(): Promise<void> {
    // let the appends of this turn of the event loop (concurrent queries) join the first group
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      let group: PendingAppend[] = [];
      const take = () => (group = this.pending.splice(0, MAX_GROUP));
      try {
        await this.commit(take);
      } catch (err) {
        if (group.length === 0) take(); // the commit failed before it took its group (e.g. no lock)
        for (const waiter of group) waiter.reject(err);
      }
    }
    this.draining = undefined;
  }
}
