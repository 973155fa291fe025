/**
 * The two credentials of a BigQuery warehouse.
 * - base: the gateway's own identity, from `warehouse.credentials` (a key or credential
 *   file) or Application Default Credentials. It is used for exactly one call: IAM
 *   Credentials `generateAccessToken` for the policy's service account. It never calls
 *   BigQuery (the BigQuery client is only ever given the impersonated credential).
 * - impersonated: short-lived credentials of the policy's `impersonate` account, scoped to
 *   BigQuery only, that never outlive the run token: each token's lifetime is
 *   min(1 h, time left until `notAfter`), recomputed at every refresh.
 * Loading the base credential fails here (ConfigError, exit 3) when the file is missing or
 * unreadable; refusals by Google's token and IAM endpoints surface later, on first use.
 */
import { readFileSync } from 'node:fs';
import { GoogleAuth, Impersonated, type AuthClient, type ImpersonatedOptions } from 'google-auth-library';
import type { WarehouseConfig } from '../../config/config.js';
import { AuthError, ConfigError } from '../../errors.js';

export const BIGQUERY_SCOPE = 'https://www.googleapis.com/auth/bigquery';
/** What the base credential needs to call IAM Credentials. */
const BASE_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const MAX_LIFETIME_S = 3600;
/** Lifetime of the cancel credential's tokens. */
const CANCEL_LIFETIME_S = 600;
/** Refresh a token this long before it expires (the library's default of 5 min would re-mint constantly near a run's end). */
const EAGER_REFRESH_MS = 10_000;

export interface BigQueryCredentials {
  /** Who the gateway is, for operator hints: a service account's email, or a description. */
  baseAccount: string;
  /** The service account queries run as. */
  impersonated: string;
  /** The only credential handed to the BigQuery client. */
  client: AuthClient;
  /**
   * The same account, not bound to the run token's life (short tokens of its own): used for
   * jobs.cancel only, so a job can be stopped even as its run token runs out.
   */
  cancelClient: AuthClient;
}

export interface CreateBigQueryCredentialsOptions {
  impersonate: string;
  notAfter?: Date;
  now?: () => number;
}

export async function createBigQueryCredentials(config: WarehouseConfig, options: CreateBigQueryCredentialsOptions): Promise<BigQueryCredentials> {
  const now = options.now ?? Date.now;
  const file = config.credentials ? readCredentialFile(config.credentials) : undefined;
  const auth = new GoogleAuth({ keyFilename: config.credentials, scopes: [BASE_SCOPE] });
  let base: AuthClient;
  try {
    base = await auth.getClient();
  } catch (err) {
    throw new ConfigError('config.warehouse.credentials', `cannot load the gateway's Google credentials: ${(err as Error).message}`, {
      rule: 'config.warehouse.credentials',
      hint: config.credentials
        ? `warehouse.credentials (${config.credentials}) must be a service-account key, authorized_user or external_account (Workload Identity Federation) file`
        : 'set warehouse.credentials in hoopq.yaml, or provide Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or the metadata server)',
      cause: err,
    });
  }
  const json = (file ?? (auth.jsonContent as Record<string, unknown> | null) ?? {}) as Record<string, unknown>;
  honourTokenUri(base, json);
  const baseAccount = typeof json.client_email === 'string' ? json.client_email : config.credentials ? `the account in ${config.credentials}` : "the gateway's Application Default Credentials account";

  const impersonation: ImpersonatedOptions = {
    sourceClient: base,
    targetPrincipal: options.impersonate,
    targetScopes: [BIGQUERY_SCOPE],
    delegates: [],
    lifetime: MAX_LIFETIME_S,
    eagerRefreshThresholdMillis: EAGER_REFRESH_MS,
    ...(config.iamEndpoint ? { endpoint: iamRoot(config.iamEndpoint) } : {}),
  };
  const client = new RunBoundImpersonated(impersonation, options.notAfter, now);
  const cancelClient = new Impersonated({ ...impersonation, lifetime: CANCEL_LIFETIME_S });
  return { baseAccount, impersonated: options.impersonate, client, cancelClient };
}

/**
 * Impersonated credentials whose every token ends no later than the run token: the lifetime
 * asked of generateAccessToken is recomputed before each refresh, and a run already past its
 * end gets no token at all (AuthError, exit 4).
 */
class RunBoundImpersonated extends Impersonated {
  constructor(
    options: ImpersonatedOptions,
    private readonly notAfter: Date | undefined,
    private readonly now: () => number,
  ) {
    super(options);
  }

  override async refreshToken(): ReturnType<Impersonated['refreshToken']> {
    // `lifetime` is private in the library's types but is what refreshToken() sends
    (this as unknown as { lifetime: number }).lifetime = lifetimeSeconds(this.notAfter, this.now());
    return super.refreshToken();
  }
}

/** min(1 h, whole seconds left until notAfter); throws when nothing is left. */
export function lifetimeSeconds(notAfter: Date | undefined, now: number): number {
  if (notAfter === undefined) return MAX_LIFETIME_S;
  const left = Math.floor((notAfter.getTime() - now) / 1000);
  if (!(left >= 1)) {
    throw new AuthError('token.expired', 'refused: the run token has expired, so no BigQuery credential may be issued for it', {
      rule: 'token.expired',
      hint: 'ask the operator for a new run token',
    });
  }
  return Math.min(MAX_LIFETIME_S, left);
}

/** The IAM Credentials root as google-auth-library wants it (it appends `/v1/projects/…`). */
function iamRoot(endpoint: string): string {
  return endpoint.replace(/\/+$/, '').replace(/\/v1$/, '');
}

function readCredentialFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config.warehouse.credentials', `cannot read warehouse.credentials ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      rule: 'config.warehouse.credentials',
      hint: 'point warehouse.credentials at a Google credential file this user can read, or remove it to use Application Default Credentials',
      cause: err,
    });
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ConfigError('config.warehouse.credentials', `warehouse.credentials ${path} is not a JSON credential file`, {
    rule: 'config.warehouse.credentials',
    hint: 'use a service-account key, authorized_user or external_account JSON file',
  });
}

/**
 * google-auth-library 10 posts service-account (JWT-bearer) and authorized_user grants to
 * Google's fixed token URL, ignoring the file's `token_uri`. Google's other client libraries
 * honour it, and private or test deployments depend on it, so requests for that URL are sent
 * to the file's `token_uri` instead. Nothing else is redirected.
 */
function honourTokenUri(base: AuthClient, json: Record<string, unknown>): void {
  const tokenUri = json.token_uri;
  if (typeof tokenUri !== 'string' || tokenUri === GOOGLE_TOKEN_URL || !/^https?:\/\//.test(tokenUri)) return;
  if (json.type !== 'service_account' && json.type !== 'authorized_user') return;
  base.transporter.interceptors.request.add({
    resolved: async (request) => {
      if (String(request.url) === GOOGLE_TOKEN_URL) request.url = new URL(tokenUri);
      return request;
    },
  });
}
