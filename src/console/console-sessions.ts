/**
 * Console sessions, kept in the gateway's memory (a restart logs everyone out; nothing about a
 * session is written to disk). The browser holds only a random 256-bit session id in a cookie
 * that is HttpOnly, SameSite=Strict and Secure (Secure is left out only for plain HTTP on
 * loopback, where browsers would otherwise drop it); the server keeps the id's SHA-256.
 * Each session has its own CSRF token, which every form carries and every POST must match.
 * Logins in progress (OIDC state, nonce, PKCE verifier; the key form's token) are kept the
 * same way for 10 minutes under a second, SameSite=Lax cookie: the provider's redirect back
 * is a cross-site navigation, which a Strict cookie would not survive.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Operator } from '../operator/operator.js';

export interface ConsoleSession {
  operator: Operator;
  /** Signed in with a personal key: its SHA-256, checked against the operator store on every request. */
  keySha256?: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
  /** One message for the next page (a decision made, a refusal). */
  flash?: { kind: 'ok' | 'error'; text: string };
}

export interface PendingLogin {
  csrf: string;
  oidc?: { state: string; nonce: string; verifier: string };
  expiresAt: number;
}

const LOGIN_TTL_MS = 10 * 60_000;
const MAX_SESSIONS = 1000;
const MAX_LOGINS = 1000;

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly logins = new Map<string, PendingLogin>();
  readonly sessionCookie: string;
  readonly loginCookie: string;

  constructor(private readonly ttlMs: number, private readonly secure: boolean) {
    // __Host- binds the cookie to this exact origin; browsers accept it only with Secure
    this.sessionCookie = secure ? '__Host-hoopq_console' : 'hoopq_console';
    this.loginCookie = secure ? '__Host-hoopq_login' : 'hoopq_login';
  }

  create(operator: Operator, keySha256?: string, now = Date.now()): { id: string; session: ConsoleSession } {
    this.sweep(now);
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = random();
    const session: ConsoleSession = { operator, ...(keySha256 ? { keySha256 } : {}), csrf: random(), createdAt: now, expiresAt: now + this.ttlMs };
    this.sessions.set(digest(id), session);
    return { id, session };
  }

  find(req: IncomingMessage, now = Date.now()): ConsoleSession | undefined {
    const id = readCookie(req, this.sessionCookie);
    if (!id) return undefined;
    const session = this.sessions.get(digest(id));
    if (!session) return undefined;
    if (session.expiresAt <= now) {
      this.sessions.delete(digest(id));
      return undefined;
    }
    return session;
  }

  end(req: IncomingMessage): void {
    const id = readCookie(req, this.sessionCookie);
    if (id) this.sessions.delete(digest(id));
  }

  startLogin(oidc?: PendingLogin['oidc'], now = Date.now()): { id: string; login: PendingLogin } {
    this.sweep(now);
    if (this.logins.size >= MAX_LOGINS) this.logins.delete(this.logins.keys().next().value!);
    const id = random();
    const login: PendingLogin = { csrf: random(), ...(oidc ? { oidc } : {}), expiresAt: now + LOGIN_TTL_MS };
    this.logins.set(digest(id), login);
    return { id, login };
  }

  /** The login in progress for this browser; taken (used once) when `take`. */
  findLogin(req: IncomingMessage, take: boolean, now = Date.now()): PendingLogin | undefined {
    const id = readCookie(req, this.loginCookie);
    if (!id) return undefined;
    const key = digest(id);
    const login = this.logins.get(key);
    if (take) this.logins.delete(key);
    return login && login.expiresAt > now ? login : undefined;
  }

  sessionCookieHeader(id: string): string {
    return `${this.sessionCookie}=${id}; Path=/; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}; Max-Age=${Math.floor(this.ttlMs / 1000)}`;
  }

  clearSessionCookieHeader(): string {
    return `${this.sessionCookie}=; Path=/; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}; Max-Age=0`;
  }

  loginCookieHeader(id: string): string {
    return `${this.loginCookie}=${id}; Path=/; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}; Max-Age=${LOGIN_TTL_MS / 1000}`;
  }

  private sweep(now: number): void {
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
    for (const [k, l] of this.logins) if (l.expiresAt <= now) this.logins.delete(k);
  }
}

/** Constant-time comparison of a submitted token with the expected one. */
export function isSameToken(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

function random(): string {
  return randomBytes(32).toString('base64url');
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
