/**
 * What the fake Google servers share: one recorded request shape, one response shape, and
 * the access tokens they issue (so that BigQuery can tell a base token from an impersonated
 * one, and tests can assert which token every call carried).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type FakeApi = 'oauth' | 'iam' | 'bigquery' | 'unknown';

export interface RecordedRequest {
  api: FakeApi;
  method: string;
  /** The Host header as received (127.0.0.1:port, or a Google host when reached through the proxy). */
  host: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The bearer token, if any (the raw value; tests only, never printed by hoopq). */
  bearer: string | undefined;
  body: any;
  rawBody: string;
  time: number;
}

export interface FakeResponse {
  status: number;
  body: unknown;
  /** Drop the connection instead of answering (the work is done, the answer is lost). */
  drop?: boolean;
}

export interface IssuedToken {
  token: string;
  principal: string;
  kind: 'base' | 'impersonated';
  scopes: string[];
  expiresAt: number;
  /** impersonated tokens: the lifetime requested, in seconds. */
  lifetimeSeconds?: number;
}

export class FakeTokens {
  readonly issued = new Map<string, IssuedToken>();

  issue(principal: string, kind: IssuedToken['kind'], scopes: string[], lifetimeSeconds: number): IssuedToken {
    const token = `ya29.fake-${kind}-${randomBytes(12).toString('hex')}`;
    const issued: IssuedToken = { token, principal, kind, scopes, expiresAt: Date.now() + lifetimeSeconds * 1000, lifetimeSeconds };
    this.issued.set(token, issued);
    return issued;
  }

  /** The live token, or undefined when unknown or expired. */
  check(token: string | undefined): IssuedToken | undefined {
    const t = token ? this.issued.get(token) : undefined;
    return t && t.expiresAt > Date.now() ? t : undefined;
  }

  ofKind(kind: IssuedToken['kind']): IssuedToken[] {
    return [...this.issued.values()].filter((t) => t.kind === kind);
  }
}

/** Google's JSON error envelope (https://cloud.google.com/apis/design/errors). */
export function googleError(code: number, status: string, message: string, reason?: string): FakeResponse {
  return {
    status: code,
    body: { error: { code, message, ...(reason ? { errors: [{ message, domain: 'global', reason }] } : {}), status } },
  };
}
