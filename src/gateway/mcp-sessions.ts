/**
 * The gateway's open MCP sessions (POST/DELETE /v1/mcp), each bound to the run token that
 * opened it. Input: sessions as they are initialised. Output: lookup by session id, and the
 * guarantee that every session is eventually closed — by DELETE, by idling out, or by
 * gateway shutdown.
 * Invariants:
 * - at most `maxSessions` exist, and at most `maxPerRun` of one run (opening counts as
 *   existing, so concurrent initialises cannot overshoot), so one run cannot hold them all;
 *   one more is refused, never an old one evicted (that would cut a live agent);
 * - a session ends with its token: when the run or token is revoked (closeWhere, called by
 *   the revoke route and by each session's revocation watcher) or the token expires;
 * - a session idles out `idleMs` after its last request ended, never while one is running;
 * - the token is kept only inside the session's pipeline calls; the registry holds a SHA-256
 *   of it, compared in constant time, so nothing here can print it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface McpSessionEntry {
  id: string;
  run: string;
  /** The run token's id (jti), policy and subject, for the operator's list. */
  tokenId?: string;
  policy?: string;
  subject?: string;
  /** Where it was opened from. */
  src?: { ip: string | null; port: number | null };
  tokenDigest: Buffer;
  transport: Pick<StreamableHTTPServerTransport, 'handleRequest' | 'onmessage'>;
  /** Cancels running calls, waits for their audit records, closes the transport. */
  close(): Promise<void>;
  /** Settles when the session starts closing, so a request still waiting on it can be answered. */
  whenClosed?: Promise<void>;
  /** Whether the tool call with this JSON-RPC id has not returned yet (createMcpServer). */
  isCallRunning(requestId: string | number): boolean;
}

interface Tracked {
  entry: McpSessionEntry;
  active: number;
  openedAt: number;
  lastUsedAt: number;
  timer?: NodeJS.Timeout;
}

/** What the operator's list shows of a session (never its token). */
export interface McpSessionInfo {
  id: string;
  run: string;
  token_id: string | null;
  policy: string | null;
  subject: string | null;
  opened_at: string;
  last_used_at: string;
  requests_running: number;
  src_endpoint: { ip: string | null; port: number | null } | null;
}

export function digestToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function isSameTokenDigest(a: Buffer, token: string | undefined): boolean {
  return token !== undefined && timingSafeEqual(a, digestToken(token));
}

export class McpSessions {
  private readonly sessions = new Map<string, Tracked>();
  private readonly openingByRun = new Map<string, number>();
  private opening = 0;
  private closed = false;

  constructor(
    readonly maxSessions: number,
    readonly idleMs: number,
    readonly maxPerRun: number = maxSessions,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions of `run` open or opening. */
  countOf(run: string): number {
    let n = this.openingByRun.get(run) ?? 0;
    for (const t of this.sessions.values()) if (t.entry.run === run) n += 1;
    return n;
  }

  /**
   * Room for one more session (of `run`)? Reserves it when there is; `release` gives it back.
   * Undefined when the gateway is full ('gateway') or the run has its share ('run').
   */
  reserve(run = ''): (() => void) | undefined {
    return this.whyFull(run) === undefined ? this.hold(run) : undefined;
  }

  /** Why one more session of `run` cannot open now, if it cannot. */
  whyFull(run: string): 'closed' | 'gateway' | 'run' | undefined {
    if (this.closed) return 'closed';
    if (this.sessions.size + this.opening >= this.maxSessions) return 'gateway';
    if (this.countOf(run) >= this.maxPerRun) return 'run';
    return undefined;
  }

  private hold(run: string): () => void {
    this.opening += 1;
    this.openingByRun.set(run, (this.openingByRun.get(run) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.opening -= 1;
      const n = (this.openingByRun.get(run) ?? 1) - 1;
      if (n === 0) this.openingByRun.delete(run);
      else this.openingByRun.set(run, n);
    };
  }

  /** Adds an initialised session (after its reservation); its idle clock starts now. */
  add(entry: McpSessionEntry): void {
    if (this.closed) {
      void entry.close();
      return;
    }
    const tracked: Tracked = { entry, active: 0, openedAt: Date.now(), lastUsedAt: Date.now() };
    this.sessions.set(entry.id, tracked);
    this.startIdleClock(entry.id, tracked);
  }

  find(id: string): McpSessionEntry | undefined {
    return this.sessions.get(id)?.entry;
  }

  /** Marks a request on the session as running; the returned function marks it done. */
  begin(id: string): () => void {
    const tracked = this.sessions.get(id);
    if (!tracked) return () => {};
    tracked.active += 1;
    tracked.lastUsedAt = Date.now();
    clearTimeout(tracked.timer);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      tracked.active -= 1;
      if (tracked.active === 0 && this.sessions.get(id) === tracked) this.startIdleClock(id, tracked);
    };
  }

  private startIdleClock(id: string, tracked: Tracked): void {
    clearTimeout(tracked.timer);
    tracked.timer = setTimeout(() => void this.close(id), this.idleMs);
    tracked.timer.unref();
  }

  /** Forgets the session and closes it; safe to call twice or for an unknown id. */
  async close(id: string): Promise<void> {
    const tracked = this.sessions.get(id);
    if (!tracked) return;
    this.sessions.delete(id);
    clearTimeout(tracked.timer);
    await tracked.entry.close().catch(() => undefined);
  }

  /** The open sessions, oldest first, as the operator sees them. */
  list(): McpSessionInfo[] {
    return [...this.sessions.values()]
      .sort((a, b) => a.openedAt - b.openedAt)
      .map(({ entry, active, openedAt, lastUsedAt }) => ({
        id: entry.id,
        run: entry.run,
        token_id: entry.tokenId ?? null,
        policy: entry.policy ?? null,
        subject: entry.subject ?? null,
        opened_at: new Date(openedAt).toISOString(),
        last_used_at: new Date(lastUsedAt).toISOString(),
        requests_running: active,
        src_endpoint: entry.src ?? null,
      }));
  }

  /** Closes every session `match` picks (a revoked run or token, an operator's choice); resolves with their ids once closed. */
  async closeWhere(match: (entry: McpSessionEntry) => boolean): Promise<string[]> {
    const ids = [...this.sessions.values()].filter((t) => match(t.entry)).map((t) => t.entry.id);
    await Promise.all(ids.map((id) => this.close(id)));
    return ids;
  }

  /** Gateway shutdown: closes every session and refuses new ones. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id)));
  }
}
