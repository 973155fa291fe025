/**
 * Fake Google for tests: one HTTP server on 127.0.0.1 that answers as the OAuth 2.0 token
 * endpoint (`/token`), IAM Credentials (`/v1/projects/-/serviceAccounts/…`) and BigQuery
 * REST v2 (`/bigquery/v2/…`), recording every request with its bearer token. Point hoopq at
 * it with `api_endpoint` / `iam_endpoint` = `url`, and a service-account key from
 * `serviceAccountKey()` (its `token_uri` is this server). `startGoogleHttpsProxy` (in
 * google-https-proxy.ts) also serves it as Google's own https hosts.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeBigQuery } from './fake-bigquery.js';
import { FakeTokens, googleError, type FakeApi, type FakeResponse, type RecordedRequest } from './fake-google-types.js';
import { handleIamCredentials, type FakeIamState } from './fake-iam-credentials.js';
import { handleOAuthToken, newOAuthState, type FakeOAuthState } from './fake-oauth-token.js';

export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
  auth_uri: string;
}

export interface FakeGoogle {
  url: string;
  tokens: FakeTokens;
  bigquery: FakeBigQuery;
  iam: FakeIamState;
  oauth: FakeOAuthState;
  requests: RecordedRequest[];
  /** Requests of one API, in order. */
  requestsTo(api: FakeApi): RecordedRequest[];
  /** A new service account with a key the token endpoint accepts; `tokenUri` defaults to this server's `/token`. */
  serviceAccountKey(email: string, options?: { tokenUri?: string; projectId?: string }): ServiceAccountKey;
  /** An `authorized_user` credential (refresh-token grant) for a user. */
  authorizedUser(email: string): Record<string, string>;
  grantTokenCreator(target: string, principal: string): void;
  /** Answers one request (the HTTPS proxy routes Google's hosts here). */
  dispatch(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

export async function startFakeGoogle(): Promise<FakeGoogle> {
  const tokens = new FakeTokens();
  const bigquery = await FakeBigQuery.create(tokens);
  const iam: FakeIamState = { tokenCreators: new Map() };
  const oauth = newOAuthState();
  const requests: RecordedRequest[] = [];

  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void answer(req, Buffer.concat(chunks).toString('utf8'), res);
    });
  };

  async function answer(req: IncomingMessage, rawBody: string, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const auth = req.headers.authorization;
    const recorded: RecordedRequest = {
      api: apiOf(url.pathname),
      method: req.method ?? 'GET',
      host: req.headers.host ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      bearer: auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined,
      body: parseJson(rawBody),
      rawBody,
      time: Date.now(),
    };
    requests.push(recorded);
    let response: FakeResponse | null;
    try {
      response =
        handleOAuthToken(recorded, oauth, tokens) ??
        handleIamCredentials(recorded, iam, tokens) ??
        (await bigquery.handle(recorded)) ??
        googleError(404, 'NOT_FOUND', `fake Google: nothing at ${recorded.method} ${recorded.path}`);
    } catch (err) {
      response = googleError(500, 'INTERNAL', `fake Google failed: ${(err as Error).stack}`, 'internalError');
    }
    if (res.destroyed) return;
    if (response.drop) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(response.status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(response.body));
  }

  const server: Server = createServer(dispatch);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys = new Map<string, KeyObject>();

  return {
    url,
    tokens,
    bigquery,
    iam,
    oauth,
    requests,
    requestsTo: (api) => requests.filter((r) => r.api === api),
    serviceAccountKey(email, options = {}) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      keys.set(email, privateKey);
      oauth.serviceAccounts.set(email, publicKey);
      return {
        type: 'service_account',
        project_id: options.projectId ?? email.split('@')[1]!.split('.')[0]!,
        private_key_id: `key-${email.split('@')[0]}`,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: email,
        client_id: '100000000000000000001',
        token_uri: options.tokenUri ?? `${url}/token`,
        auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      };
    },
    authorizedUser(email) {
      const refresh = `1//fake-refresh-${email}`;
      oauth.users.set(refresh, email);
      return { type: 'authorized_user', client_id: 'fake-client.apps.googleusercontent.com', client_secret: 'fake-secret', refresh_token: refresh };
    },
    grantTokenCreator(target, principal) {
      if (!iam.tokenCreators.has(target)) iam.tokenCreators.set(target, new Set());
      iam.tokenCreators.get(target)!.add(principal);
    },
    dispatch,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      bigquery.close();
    },
  };
}

function apiOf(path: string): FakeApi {
  if (path === '/token') return 'oauth';
  if (path.startsWith('/v1/projects/-/serviceAccounts/')) return 'iam';
  if (path.startsWith('/bigquery/v2/')) return 'bigquery';
  return 'unknown';
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
