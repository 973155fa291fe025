/**
 * The console's view of the audit log as it grows: tails the JSONL file (whoever appends to
 * it — the gateway's own sink or direct-mode processes under the append lock), keeps the most
 * recent records, which intents have no outcome yet (queries in flight), and tells
 * subscribers about each new record.
 * Input: the log's path. Output: recent records, in-flight queries, a subscription.
 * Invariants: read-only; only complete lines are read (a line still being written waits for
 * its newline); a line that is not JSON is skipped, never shown (`hoopq audit verify` is what
 * judges the log); on start it reads at most the last 8 MiB, so a large log starts fast.
 * A log kept in PostgreSQL has its own feed over the same bookkeeping (pg-audit-feed.ts).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { AuditRecord } from '../audit/audit-record.js';

const START_WINDOW = 8 << 20;
const KEEP = 2000;
const CHUNK = 1 << 20;

export type FeedListener = (record: AuditRecord) => void;

export class AuditFeed {
  private offset = 0;
  private partial = '';
  private readonly recent: AuditRecord[] = [];
  private readonly byId = new Map<string, AuditRecord>();
  private readonly inFlight = new Map<string, AuditRecord>();
  private readonly listeners = new Set<FeedListener>();
  private timer: NodeJS.Timeout | undefined;
  private skipFirstLine = false;

  constructor(private readonly path: string, private readonly pollMs = 200) {}

  start(): void {
    this.openWindow();
    this.poll();
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** Where the first poll starts: at most the last 8 MiB of the file. */
  protected openWindow(): void {
    try {
      const size = statSync(this.path).size;
      if (size > START_WINDOW) {
        this.offset = size - START_WINDOW;
        this.skipFirstLine = true;
      }
    } catch {
      this.offset = 0;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Newest first. */
  latest(limit: number): AuditRecord[] {
    return this.recent.slice(-limit).reverse();
  }

  get(id: string): AuditRecord | undefined {
    return this.byId.get(id);
  }

  /** Records of the recent window that share an approval request or an intent with `record`. */
  related(record: AuditRecord): AuditRecord[] {
    const approval = (record.approval as { id?: string } | undefined)?.id;
    const intent = record.intent ?? (record.event === 'query.intent' ? record.id : undefined);
    return this.recent.filter(
      (r) => r.id !== record.id && ((approval && (r.approval as { id?: string } | undefined)?.id === approval) || (intent && (r.id === intent || r.intent === intent))),
    );
  }

  /** Query intents without an outcome record yet: what is running now. */
  running(): AuditRecord[] {
    return [...this.inFlight.values()];
  }

  /** Reads what was appended since the last poll. */
  poll(): void {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return;
    }
    if (size < this.offset) {
      // the file was replaced or cut: start again from its beginning
      this.offset = 0;
      this.partial = '';
    }
    if (size === this.offset) return;
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(CHUNK);
      while (this.offset < size) {
        const n = readSync(fd, buffer, 0, Math.min(CHUNK, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.take(buffer.subarray(0, n).toString('utf8'));
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (this.skipFirstLine) {
        this.skipFirstLine = false;
        continue;
      }
      this.addLine(line);
    }
  }

  /** One complete line of the log: shown when it is a record, skipped otherwise. */
  protected addLine(line: string): void {
    if (line.trim() === '') return;
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      return;
    }
    if (!record || typeof record !== 'object' || typeof record.id !== 'string') return;
    this.add(record);
  }

  private add(record: AuditRecord): void {
    this.recent.push(record);
    this.byId.set(record.id, record);
    if (this.recent.length > KEEP) {
      const old = this.recent.shift()!;
      this.byId.delete(old.id);
      this.inFlight.delete(old.id);
    }
    if (record.event === 'query.intent') this.inFlight.set(record.id, record);
    if (typeof record.intent === 'string') this.inFlight.delete(record.intent);
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch {
        // one broken subscriber (a closed stream) must not stop the feed
      }
    }
  }
}
