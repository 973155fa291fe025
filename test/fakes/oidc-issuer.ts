/**
 * A fake OIDC issuer for tests: an HTTP server on 127.0.0.1 (random port) that serves
 * `/.well-known/openid-configuration` and `/.well-known/jwks` with an RS256 key, and issues
 * ID tokens shaped like GitHub Actions' and GitLab CI's. It can sign with a foreign key, set
 * aud/exp/nbf/iat/kid, rotate its key, issue unsigned (alg none) tokens, and lie in its
 * discovery document. It counts requests so tests can prove "never fetched".
 * It is also a login provider for the console (authorization code flow with PKCE): GET
 * /authorize shows a sign-in form (any login name; `NAME` signs in as NAME@example.com), POST
 * /authorize redirects back with a one-use code, POST /token trades the code (checking the
 * client, the redirect URI and the PKCE verifier) for an ID token carrying the nonce.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';

export interface IssueOptions {
  /** Default 'hoopq'. */
  aud?: string | string[];
  /** Seconds since epoch; default now + 300. */
  exp?: number;
  nbf?: number;
  /** Default now. */
  iat?: number;
  /** Override the header kid (e.g. one the JWKS does not contain). */
  kid?: string;
  /** 'current' (default), 'previous' (the key before the last rotation), 'foreign' (never published). */
  signWith?: 'current' | 'previous' | 'foreign';
  /** Produce `alg: none` with an empty signature. */
  unsigned?: boolean;
  /** Override the iss claim. */
  iss?: string;
  /** Claims to delete after defaults and overrides are applied. */
  omit?: string[];
  /** Seconds since epoch used for default iat/exp. */
  now?: number;
}

interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface FakeOidcIssuer {
  /** The issuer URL (also the `iss` claim): http://127.0.0.1:PORT */
  issuer: string;
  requests: { discovery: number; jwks: number; token: number };
  issue(claims: Record<string, unknown>, options?: IssueOptions): Promise<string>;
  issueGitHubToken(overrides?: Record<string, unknown>, options?: IssueOptions): Promise<string>;
  issueGitLabToken(overrides?: Record<string, unknown>, options?: IssueOptions): Promise<string>;
  /** New current key; the JWKS then publishes only the new key unless keepPrevious. */
  rotateKey(options?: { keepPrevious?: boolean }): Promise<string>;
  currentKid(): string;
  /** Make discovery claim a different issuer (mix-up attack). */
  setDiscoveryIssuer(iss: string | undefined): void;
  /** The next ID token /token issues gets these claims and options on top (a lying or broken provider); used once. */
  tamperNextLogin(tamper: { claims?: Record<string, unknown>; options?: IssueOptions }): void;
  close(): Promise<void>;
}

async function newKey(label: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `${label}-${Math.random().toString(36).slice(2, 10)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export async function startFakeOidcIssuer(): Promise<FakeOidcIssuer> {
  let current = await newKey('k1');
  let previous: IssuerKey | undefined;
  let published: IssuerKey[] = [current];
  const foreign = await newKey('foreign');
  let discoveryIssuer: string | undefined;
  const requests = { discovery: 0, jwks: 0, token: 0 };
  const codes = new Map<string, { clientId: string; redirectUri: string; nonce: string; challenge: string; login: string }>();
  let tamper: { claims?: Record<string, unknown>; options?: IssueOptions } | undefined;
  const readForm = (req: http.IncomingMessage) =>
    new Promise<URLSearchParams>((resolve) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => resolve(new URLSearchParams(body)));
    });
  const escape = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      requests.discovery += 1;
      send(200, {
        issuer: discoveryIssuer ?? issuer,
        jwks_uri: `${issuer}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'run_id', 'run_attempt'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
      });
    } else if (req.method === 'GET' && req.url?.startsWith('/authorize?')) {
      const q = new URL(req.url, issuer).searchParams;
      const hidden = ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'code_challenge_method']
        .map((k) => `<input type="hidden" name="${k}" value="${escape(q.get(k) ?? '')}">`)
        .join('');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Fake IdP</title><form method="post" action="/authorize">${hidden}<label for="login">Login</label><input id="login" name="login"><button type="submit">Sign in to the fake IdP</button></form>`);
    } else if (req.method === 'POST' && req.url === '/authorize') {
      void readForm(req).then((f) => {
        const code = randomBytes(16).toString('base64url');
        codes.set(code, { clientId: f.get('client_id') ?? '', redirectUri: f.get('redirect_uri') ?? '', nonce: f.get('nonce') ?? '', challenge: f.get('code_challenge') ?? '', login: f.get('login') ?? '' });
        const back = new URL(f.get('redirect_uri') ?? '');
        back.searchParams.set('code', code);
        back.searchParams.set('state', f.get('state') ?? '');
        res.writeHead(302, { location: back.toString() });
        res.end();
      });
    } else if (req.method === 'POST' && req.url === '/token') {
      requests.token += 1;
      void readForm(req).then(async (f) => {
        const grant = codes.get(f.get('code') ?? '');
        codes.delete(f.get('code') ?? '');
        const verifier = f.get('code_verifier') ?? '';
        if (!grant || grant.clientId !== f.get('client_id') || grant.redirectUri !== f.get('redirect_uri') || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
          return send(400, { error: 'invalid_grant' });
        }
        const email = grant.login.includes('@') ? grant.login : `${grant.login}@example.com`;
        const t = tamper ?? {};
        tamper = undefined;
        const idToken = await issue({ sub: grant.login, email, email_verified: true, nonce: grant.nonce, ...t.claims }, { aud: grant.clientId, ...t.options });
        send(200, { id_token: idToken, access_token: 'unused', token_type: 'Bearer' });
      });
    } else if (req.url === '/.well-known/jwks') {
      requests.jwks += 1;
      send(200, { keys: published.map((key) => key.publicJwk) });
    } else {
      send(404, { error: 'not found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const issue = async (claims: Record<string, unknown>, options: IssueOptions = {}): Promise<string> => {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      jti: `jti-${Math.random().toString(36).slice(2)}`,
      iss: options.iss ?? issuer,
      aud: options.aud ?? 'hoopq',
      iat: options.iat ?? now,
      nbf: options.nbf ?? now - 5,
      exp: options.exp ?? now + 300,
      ...claims,
    };
    for (const name of options.omit ?? []) delete payload[name];
    const key = options.signWith === 'foreign' ? foreign : options.signWith === 'previous' ? previous ?? current : current;
    const kid = options.kid ?? key.kid;
    if (options.unsigned) {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${encode({ alg: 'none', typ: 'JWT', kid })}.${encode(payload)}.`;
    }
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(key.privateKey);
  };

  return {
    issuer,
    requests,
    issue,
    // Shaped after https://docs.github.com/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
    issueGitHubToken: (overrides = {}, options) =>
      issue(
        {
          sub: 'repo:acme/ml:ref:refs/heads/main',
          ref: 'refs/heads/main',
          sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          repository: 'acme/ml',
          repository_owner: 'acme',
          repository_owner_id: '4242',
          repository_id: '987654',
          repository_visibility: 'private',
          run_id: '7012345678',
          run_number: '12',
          run_attempt: '1',
          actor: 'octocat',
          actor_id: '1',
          workflow: 'nightly',
          workflow_ref: 'acme/ml/.github/workflows/nightly.yml@refs/heads/main',
          workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          job_workflow_ref: 'acme/ml/.github/workflows/nightly.yml@refs/heads/main',
          event_name: 'schedule',
          ref_type: 'branch',
          runner_environment: 'github-hosted',
          ...overrides,
        },
        options,
      ),
    // Shaped after https://docs.gitlab.com/ci/secrets/id_token_authentication/
    issueGitLabToken: (overrides = {}, options) =>
      issue(
        {
          sub: 'project_path:acme/ml:ref_type:branch:ref:main',
          namespace_id: '72',
          namespace_path: 'acme',
          project_id: '20',
          project_path: 'acme/ml',
          user_id: '5',
          user_login: 'alice',
          user_email: 'alice@example.com',
          pipeline_id: '1212',
          pipeline_source: 'schedule',
          job_id: '3434',
          ref: 'main',
          ref_type: 'branch',
          ref_path: 'refs/heads/main',
          ref_protected: 'true',
          runner_environment: 'gitlab-hosted',
          ...overrides,
        },
        options,
      ),
    rotateKey: async (options = {}) => {
      previous = current;
      current = await newKey('k2');
      published = options.keepPrevious ? [current, previous] : [current];
      return current.kid;
    },
    currentKid: () => current.kid,
    setDiscoveryIssuer: (iss) => {
      discoveryIssuer = iss;
    },
    tamperNextLogin: (t) => {
      tamper = t;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
