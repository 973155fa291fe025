/**
 * Opens a BigQuery warehouse for one policy. Input: `warehouse:` of hoopq.yaml (project,
 * location, credentials, api_endpoint, iam_endpoint) and the session (the policy's
 * `impersonate` account, the run token's expiry). Output: a BigQueryWarehouse whose every
 * BigQuery call runs as the impersonated account with BigQuery scope only.
 * Invariants:
 * - fail closed: a policy without `impersonate` cannot query BigQuery (ConfigError, exit 3),
 *   because the only other identity is the gateway's own, which may read everything;
 * - the base credential is handed to nothing but the impersonated credential (IAM Credentials);
 * - `api_endpoint` / `iam_endpoint`, when set, receive every BigQuery / IAM Credentials call.
 */
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import type { ServiceOptions } from '@google-cloud/common';
import type { WarehouseConfig } from '../../config/config.js';
import { ConfigError } from '../../errors.js';
import { createBigQueryCredentials } from './bigquery-credentials.js';
import { BigQueryRest } from './bigquery-rest.js';
import { BigQueryWarehouse } from './bigquery-warehouse.js';
import { DEFAULT_JOB_TIMEOUT_MS, DEFAULT_MAX_BYTES_BILLED } from './build-query-job.js';
import type { HashKey } from '../../masking/hash-key.js';

export interface OpenBigQueryWarehouseOptions {
  /** The policy's `impersonate` service account. */
  impersonate?: string;
  /** The impersonated credential never outlives this (the run token's expiry). */
  notAfter?: Date;
  /** No credential, no call: analysis without the catalog (`explain --offline`). */
  offline?: boolean;
  /** The `hash` mask's key. */
  hashKey?: HashKey;
}

const GOOGLE_BIGQUERY = 'https://bigquery.googleapis.com';
/** Per HTTP request; a getQueryResults long-poll itself waits at most 10 s. */
const HTTP_TIMEOUT_MS = 60_000;

export async function openBigQueryWarehouse(config: WarehouseConfig, session: OpenBigQueryWarehouseOptions): Promise<BigQueryWarehouse> {
  if (!config.project) {
    throw new ConfigError('config.warehouse.project_missing', 'warehouse.project is required when warehouse.kind is bigquery', {
      rule: 'config.warehouse.project',
      hint: 'set warehouse.project to the project BigQuery jobs run in, e.g. acme-prod',
    });
  }
  const target = {
    project: config.project,
    location: config.location,
    defaults: { maxBytesBilled: config.defaultMaxBytesBilled ?? DEFAULT_MAX_BYTES_BILLED, jobTimeoutMs: config.defaultJobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS },
  };
  if (session.offline) return new BigQueryWarehouse(null, target, { hashKey: session.hashKey });
  if (!session.impersonate) {
    throw new ConfigError('config.policy.impersonate_missing', 'refused: a BigQuery query needs a policy with `impersonate`; hoopq never queries BigQuery with its own credential', {
      rule: 'impersonate',
      hint: 'add `impersonate: <service-account-email>` to the policy: a least-privilege account with BigQuery Job User on the project and Data Viewer on the datasets the policy reads (docs/bigquery.md)',
    });
  }
  const credentials = await createBigQueryCredentials(config, { impersonate: session.impersonate, notAfter: session.notAfter });
  const endpoint = (config.apiEndpoint ?? GOOGLE_BIGQUERY).replace(/\/+$/, '').replace(/\/bigquery\/v2$/, '');
  const options: BigQueryOptions & Pick<ServiceOptions, 'timeout'> = {
    projectId: config.project,
    ...(config.location ? { location: config.location } : {}),
    apiEndpoint: endpoint,
    authClient: credentials.client,
    // passed through to @google-cloud/common's Service, which BigQueryOptions does not declare
    timeout: HTTP_TIMEOUT_MS,
  };
  const errorContext = { project: config.project, baseAccount: credentials.baseAccount, impersonated: credentials.impersonated };
  const rest = new BigQueryRest(bigQueryClient(options, endpoint), errorContext);
  const cancelRest = new BigQueryRest(bigQueryClient({ ...options, authClient: credentials.cancelClient }, endpoint), errorContext);
  return new BigQueryWarehouse(rest, target, { cancelRest, hashKey: session.hashKey });
}

function bigQueryClient(options: BigQueryOptions, endpoint: string): BigQuery {
  const client = new BigQuery(options);
  // the library lets BIGQUERY_EMULATOR_HOST override even an explicit endpoint; hoopq's
  // config alone decides where the impersonated token is sent
  client.baseUrl = `${endpoint}/bigquery/v2`;
  return client;
}
