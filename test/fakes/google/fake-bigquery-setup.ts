/**
 * A ready fake Google for BigQuery tests: a gateway service account with a key, an agent
 * service account it may impersonate (Token Creator), the agent holding BigQuery Job User on
 * the project and Data Viewer on the datasets given, and the contract's data set plus a CRM
 * data set with personal data.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeGoogle, type FakeGoogle } from './fake-google.js';

export const PROJECT = 'test-proj';
export const GATEWAY_SA = 'hoopq-gateway@ops-proj.iam.gserviceaccount.com';
export const AGENT_SA = 'agent-reader@ops-proj.iam.gserviceaccount.com';

export const PEOPLE_FIELDS = [
  { name: 'id', type: 'INTEGER', mode: 'NULLABLE' as const },
  { name: 'name', type: 'STRING', mode: 'NULLABLE' as const },
  { name: 'email', type: 'STRING', mode: 'NULLABLE' as const },
];

export const CUSTOMERS: unknown[][] = [
  [1, 'Ada Lovelace', 'ada@example.com', '123-45-6789', '+44 20 7946 0001', 'UK'],
  [2, 'Grace Hopper', 'grace@example.com', '987-65-4321', '+1 212 555 0102', 'US'],
  [3, 'Alan Turing', null, '111-22-3333', null, 'UK'],
];

export interface FakeBigQuerySetup {
  google: FakeGoogle;
  dir: string;
  /** The gateway's service-account key file (token_uri = the fake). */
  keyFile: string;
  cleanup(): Promise<void>;
}

export async function setUpFakeBigQuery(options: { people?: ReadonlyArray<readonly unknown[]> } = {}): Promise<FakeBigQuerySetup> {
  const google = await startFakeGoogle();
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-bq-'));
  const keyFile = join(dir, 'gateway-key.json');
  writeFileSync(keyFile, JSON.stringify(google.serviceAccountKey(GATEWAY_SA)));
  google.grantTokenCreator(AGENT_SA, GATEWAY_SA);
  const bq = google.bigquery;
  bq.grantJobUser(PROJECT, AGENT_SA);
  for (const dataset of ['contract', 'crm', 'analytics']) bq.grantDataViewer(`${PROJECT}.${dataset}`, AGENT_SA);

  await bq.createTable(`${PROJECT}.contract.people`, PEOPLE_FIELDS, (options.people ?? []).map((r) => [...r]));
  await bq.createView(`${PROJECT}.contract.people_names`, `SELECT id, name FROM \`${PROJECT}.contract.people\``);
  await bq.createTable(
    `${PROJECT}.crm.customers`,
    [
      { name: 'id', type: 'INTEGER', mode: 'NULLABLE' },
      { name: 'name', type: 'STRING', mode: 'NULLABLE' },
      { name: 'email', type: 'STRING', mode: 'NULLABLE' },
      { name: 'ssn', type: 'STRING', mode: 'NULLABLE' },
      { name: 'phone', type: 'STRING', mode: 'NULLABLE' },
      { name: 'country', type: 'STRING', mode: 'NULLABLE' },
    ],
    CUSTOMERS,
    { numBytes: 5_000 },
  );
  await bq.createTable(
    `${PROJECT}.crm.payment_cards`,
    [
      { name: 'customer_id', type: 'INTEGER', mode: 'NULLABLE' },
      { name: 'card_number', type: 'STRING', mode: 'NULLABLE' },
    ],
    [[1, '4111111111111111']],
  );
  await bq.createView(`${PROJECT}.crm.customer_contacts`, `SELECT id, email, country FROM \`${PROJECT}.crm.customers\``);
  await bq.createTable(
    `${PROJECT}.analytics.events`,
    [
      { name: 'n', type: 'INTEGER', mode: 'NULLABLE' },
      { name: 'kind', type: 'STRING', mode: 'NULLABLE' },
    ],
    Array.from({ length: 2_500 }, (_, i) => [i, i % 2 === 0 ? 'view' : 'click']),
    { numBytes: 2_000_000 },
  );
  return {
    google,
    dir,
    keyFile,
    async cleanup() {
      await google.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
