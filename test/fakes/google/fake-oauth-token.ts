/**
 * Fake OAuth 2.0 token endpoint (`POST https://oauth2.googleapis.com/token`): the JWT-bearer
 * grant of a service-account key (RFC 7523; the assertion's RS256 signature is checked
 * against the key the test registered) and the refresh-token grant of an `authorized_user`
 * credential. Answers `{access_token, expires_in, token_type}` or `{error, error_description}`.
 */
import { verify, type KeyObject } from 'node:crypto';
import type { FakeResponse, FakeTokens, RecordedRequest } from './fake-google-types.js';

export interface FakeOAuthState {
  /** service-account email -> its public key */
  serviceAccounts: Map<string, KeyObject>;
  /** refresh token -> user email */
  users: Map<string, string>;
}

export function newOAuthState(): FakeOAuthState {
  return { serviceAccounts: new Map(), users: new Map() };
}

export function handleOAuthToken(req: RecordedRequest, state: FakeOAuthState, tokens: FakeTokens): FakeResponse | null {
  if (req.method !== 'POST' || req.path !== '/token') return null;
  const form = new URLSearchParams(req.rawBody);
  const grant = form.get('grant_type');
  if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    const assertion = form.get('assertion') ?? '';
    const [head, payload, signature] = assertion.split('.');
    let claims: { iss?: string; scope?: string; exp?: number };
    try {
      claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    } catch {
      return invalidGrant('Invalid JWT.');
    }
    const key = claims.iss ? state.serviceAccounts.get(claims.iss) : undefined;
    const ok = key && signature && verify('RSA-SHA256', Buffer.from(`${head}.${payload}`), key, Buffer.from(signature, 'base64url'));
    if (!ok) return invalidGrant('Invalid JWT Signature.');
    if (!claims.exp || claims.exp * 1000 < Date.now()) return invalidGrant('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    const issued = tokens.issue(claims.iss!, 'base', (claims.scope ?? '').split(' ').filter(Boolean), 3599);
    return { status: 200, body: { access_token: issued.token, expires_in: 3599, token_type: 'Bearer' } };
  }
  if (grant === 'refresh_token') {
    const user = state.users.get(form.get('refresh_token') ?? '');
    if (!user) return invalidGrant('Bad Request');
    const issued = tokens.issue(user, 'base', ['https://www.googleapis.com/auth/cloud-platform'], 3599);
    return { status: 200, body: { access_token: issued.token, expires_in: 3599, token_type: 'Bearer', scope: issued.scopes.join(' ') } };
  }
  return { status: 400, body: { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grant}` } };
}

function invalidGrant(description: string): FakeResponse {
  return { status: 400, body: { error: 'invalid_grant', error_description: description } };
}
