/**
 * Fake IAM Service Account Credentials API:
 * `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken` with body
 * `{delegates, scope[], lifetime: "Ns"}`, answering `{accessToken, expireTime}`. Enforces what
 * Google enforces: a live caller token with cloud-platform (or iam) scope, the caller holding
 * roles/iam.serviceAccountTokenCreator on the target, at least one scope, lifetime <= 3600 s.
 */
import { googleError, type FakeResponse, type FakeTokens, type RecordedRequest } from './fake-google-types.js';

export interface FakeIamState {
  /** target service account -> principals holding Token Creator on it */
  tokenCreators: Map<string, Set<string>>;
}

const PATH = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/;
const CALLER_SCOPES = ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/iam'];

export function handleIamCredentials(req: RecordedRequest, state: FakeIamState, tokens: FakeTokens): FakeResponse | null {
  const m = PATH.exec(req.path);
  if (!m || req.method !== 'POST') return null;
  const target = decodeURIComponent(m[1]!);
  const caller = tokens.check(req.bearer);
  if (!caller) return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
  if (!caller.scopes.some((s) => CALLER_SCOPES.includes(s))) return googleError(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.');
  if (!state.tokenCreators.get(target)?.has(caller.principal)) {
    return googleError(403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
  }
  const body = req.body ?? {};
  const scopes: string[] = Array.isArray(body.scope) ? body.scope : [];
  if (scopes.length === 0) return googleError(400, 'INVALID_ARGUMENT', 'Scope required.');
  const lifetime = body.lifetime === undefined ? 3600 : /^(\d+)(\.\d+)?s$/.test(String(body.lifetime)) ? Number(String(body.lifetime).slice(0, -1)) : NaN;
  if (!Number.isFinite(lifetime) || lifetime <= 0 || lifetime > 3600) {
    return googleError(400, 'INVALID_ARGUMENT', 'The lifetime is invalid: must be a positive duration of at most 3600s.');
  }
  const issued = tokens.issue(target, 'impersonated', scopes, lifetime);
  return { status: 200, body: { accessToken: issued.token, expireTime: new Date(issued.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') } };
}
