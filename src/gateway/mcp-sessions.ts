/**
 * The gateway's open MCP sessions (POST/DELETE /v1/mcp), each bound to the run token that
 * opened it. Input: sessions as they are initialised. Output: lookup by session id, and the
 * guarantee that every session is eventually closed — by DELETE, by idling out, or by
 * gateway shutdown.
 * Invariants:
 * - at most `maxSessions` exist (opening counts as existing, so concurrent initialises cannot
 *   overshoot); one more is refused, never an old one evicted (that would cut a live agent);
 * - a session idles out `idleMs` after its last request ended, never while one is running;
 * - the token is kept only inside the session's pipeline calls; the registry holds a SHA-256
 *   of it, compared in constant time, so nothing here can print it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface McpSessionEntry {
  id: string;
  run: string;
  tokenDigest: Buffer;
  transport: Pick<StreamableHTTPServerTransport, 'handleRequest' | 'onmessage'>;
  /** Cancels running calls, waits for their audit records, closes the transport. */
  close(): Promise<void>;
  /** Whether the tool call with this JSON-RPC id has not returned yet (createMcpServer). */
  isCallRunning(requestId: string | number): boolean;
}

interface Tracked {
  entry: McpSessionEntry;
  active: number;
  timer?: NodeJS.Timeout;
}

export function digestToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function isSameTokenDigest(a: Buffer, token: string | undefined): boolean {
  return token !== undefined && timingSafeEqual(a, digestToken(token));
}

export class McpSessions {
  private readonly sessions = new Map<string, Tracked>();
  private opening = 0;
  private closed = false;

  constructor(
    readonly maxSessions: number,
    readonly idleMs: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Room for one more session? Reserves it when there is; `release` gives it back. */
  reserve(): (() => void) | undefined {
    if (this.closed || this.sessions.size + this.opening >= this.maxSessions) return undefined;
    this.opening += 1;
    let released = false;
    return () => {
      if (!released) this.opening -= 1;
      released = true;
    };
  }

  /** Adds an initialised session (after its reservation); its idle clock starts now. */
  add(entry: McpSessionEntry): void {
    if (this.closed) {
      void entry.close();
      return;
    }
    const tracked: Tracked = { entry, active: 0 };
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

  /** Gateway shutdown: closes every session and refuses new ones. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id)));
  }
}
