/**
 * BigQuery's catalog and table-read calls on the gateway: datasets.list, datasets.get,
 * tables.list, tables.get and tabledata.list.
 * Invariants:
 * - listings come from listTables and a table's schema from describeTable, so they are
 *   filtered by the run's policy exactly as `hoopq ls` / `hoopq show` (a denied table is
 *   never listed, and asking for it is 403 accessDenied), and recorded as catalog records;
 *   a dataset with no table the run may read is "not found";
 * - a masked column is a STRING in the schema (what a query of it returns) and its
 *   description says which mask the policy applies;
 * - tabledata.list is `SELECT * FROM` the table run as a query job (runQuery: the same
 *   policy, masks, detectors, max_rows, budget and audit as that query); its pages are read
 *   from the job, so one listing is one query and one consistent result.
 */
import { randomUUID } from 'node:crypto';
import { warehouseDialectOf } from '../../warehouse/open-warehouse.js';
import { describeTable } from '../../pipeline/describe-table.js';
import { listTables, type ListedTable } from '../../pipeline/list-tables.js';
import { quoteDuckDbIdentifier } from '../../masking/duckdb/mask-column-expression.js';
import { quoteGoogleSqlIdentifier } from '../../masking/bigquery/google-sql-mask-expression.js';
import type { SqlDialect } from '../../masking/redact-sql.js';
import { notFound } from './bigquery-api-error.js';
import type { BigQueryApiCall } from './bigquery-api-call.js';
import { etagOf, jobIdOfPageToken, resultPage } from './bigquery-job-resource.js';
import type { BigQueryField } from './bigquery-result-schema.js';
import { invalid } from './parse-query-configuration.js';
import type { QueryJob } from './query-jobs.js';

const QUOTE: Readonly<Record<SqlDialect, (name: string) => string>> = {
  duckdb: quoteDuckDbIdentifier,
  googlesql: quoteGoogleSqlIdentifier,
};
const DEFAULT_LOCATION = 'US';

export async function listDatasets(call: BigQueryApiCall): Promise<void> {
  const listing = await listTables(call.gateway.parts, { token: call.token, origin: call.origin('datasets.list') });
  const datasets = new Set<string>();
  for (const table of listing.tables) {
    const [project, dataset] = splitName(table.name);
    if (sameName(project, call.project)) datasets.add(dataset);
  }
  call.sendJson(200, {
    kind: 'bigquery#datasetList',
    etag: etagOf([...datasets].join(',')),
    datasets: [...datasets].sort().map((d) => datasetResource(call.project, d)),
  });
}

export async function getDataset(call: BigQueryApiCall, dataset: string): Promise<void> {
  const listing = await listTables(call.gateway.parts, { token: call.token, dataset: `${call.project}.${dataset}`, origin: call.origin('datasets.get') });
  if (listing.tables.length === 0) throw notFound(`Dataset ${call.project}:${dataset}`);
  call.sendJson(200, { ...datasetResource(call.project, dataset), etag: etagOf(dataset) });
}

export async function listTablesOf(call: BigQueryApiCall, dataset: string): Promise<void> {
  const qs = call.query(['maxResults', 'pageToken']);
  const listing = await listTables(call.gateway.parts, { token: call.token, dataset: `${call.project}.${dataset}`, origin: call.origin('tables.list') });
  const start = qs.pageToken === undefined ? 0 : wholeNumber(qs.pageToken, 'pageToken');
  const size = qs.maxResults === undefined ? 1000 : Math.max(1, Math.min(wholeNumber(qs.maxResults, 'maxResults'), 1000));
  const page = listing.tables.slice(start, start + size);
  call.sendJson(200, {
    kind: 'bigquery#tableList',
    etag: etagOf(listing.tables.map((t) => t.name).join(',')),
    tables: page.map((t) => tableListEntry(t)),
    totalItems: listing.tables.length,
    ...(start + size < listing.tables.length ? { nextPageToken: String(start + size) } : {}),
  });
}

export async function getTable(call: BigQueryApiCall, dataset: string, table: string): Promise<void> {
  const description = await describeTable(call.gateway.parts, { token: call.token, table: `${call.project}.${dataset}.${table}`, origin: call.origin('tables.get') });
  const fields: BigQueryField[] = description.columns.map((c, i) =>
    c.mask ? { name: c.name, type: 'STRING', mode: 'NULLABLE', description: `masked by hoopq: ${c.mask} (policy ${description.policy})` } : description.fields[i]!,
  );
  const notes = [
    ...(Object.keys(description.maskedSources).length > 0 ? [`masked at the view's sources: ${Object.entries(description.maskedSources).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
    ...(description.detect.length > 0 ? [`text cells scanned for: ${description.detect.join(', ')}`] : []),
  ];
  const [project, ds, id] = splitName(description.table);
  call.sendJson(200, {
    kind: 'bigquery#table',
    etag: etagOf(JSON.stringify(fields)),
    id: `${project}:${ds}.${id}`,
    tableReference: { projectId: project, datasetId: ds, tableId: id },
    type: description.kind === 'view' ? 'VIEW' : 'TABLE',
    schema: { fields },
    location: DEFAULT_LOCATION,
    ...(notes.length > 0 ? { description: `hoopq: ${notes.join('; ')}` } : {}),
  });
}

export async function listTableData(call: BigQueryApiCall, dataset: string, table: string): Promise<void> {
  const qs = call.query(['maxResults', 'pageToken', 'startIndex', 'selectedFields', 'formatOptions.useInt64Timestamp']);
  let job: QueryJob | undefined;
  if (qs.pageToken !== undefined) {
    job = call.jobs.find(call.identity.run, jobIdOfPageToken(qs.pageToken));
    const listed = (job?.spec.origin.bigquery_api as { table?: unknown } | undefined)?.table;
    if (!job || listed !== tableName(call, dataset, table)) throw invalid('pageToken is not a page token of a listing of this table by this run (listings are kept for an hour)');
  } else {
    job = await startTableRead(call, dataset, table);
  }
  await job.done;
  if (job.error) throw job.error;
  const selected = qs.selectedFields === undefined ? undefined : new Set(qs.selectedFields.split(',').map((f) => f.trim().split('.')[0]!.toLowerCase()).filter(Boolean));
  const view = selected ? projected(job, selected) : job;
  const page = resultPage(view, {
    maxResults: qs.maxResults === undefined ? undefined : wholeNumber(qs.maxResults, 'maxResults') || undefined,
    startIndex: qs.pageToken === undefined && qs.startIndex !== undefined ? wholeNumber(qs.startIndex, 'startIndex') : undefined,
    pageToken: qs.pageToken,
    timestamps: qs['formatOptions.useInt64Timestamp'] === 'true' ? 'int64' : 'float',
  });
  call.sendJson(200, {
    kind: 'bigquery#tableDataList',
    etag: etagOf(`${job.spec.reference.jobId}:${qs.pageToken ?? qs.startIndex ?? 0}`),
    totalRows: page.totalRows,
    ...(page.rows ? { rows: page.rows } : {}),
    ...(page.pageToken ? { pageToken: page.pageToken } : {}),
  });
}

/** `SELECT * FROM` the table as a query job of the run (not shown by jobs.list). */
async function startTableRead(call: BigQueryApiCall, dataset: string, table: string): Promise<QueryJob> {
  const quote = QUOTE[warehouseDialectOf(call.gateway.config.warehouse.kind).sql];
  const sql = `SELECT * FROM ${[call.project, dataset, table].map(quote).join('.')}`;
  const jobId = `tabledata_${randomUUID().replaceAll('-', '_')}`;
  const reference = { projectId: call.project, jobId, location: null };
  const job = await call.jobs.start(
    {
      reference,
      run: call.identity.run,
      subject: call.identity.subject,
      sql,
      token: call.token,
      justification: call.justification(),
      labels: {},
      method: 'tabledata.list',
      configuration: { query: sql, useLegacySql: false },
      origin: call.origin('tabledata.list', { job_id: jobId, project: call.project, table: tableName(call, dataset, table) }),
      listed: false,
    },
    call.signal,
  );
  await job.started;
  if (job.failedBeforeExecution()) throw job.error;
  return job;
}

/** The job's result restricted to the selected top-level columns, in the table's order. */
function projected(job: QueryJob, selected: Set<string>): QueryJob {
  const fields = job.fields ?? [];
  const keep = fields.map((f, i) => (selected.has(f.name.toLowerCase()) ? i : -1)).filter((i) => i >= 0);
  const view = Object.create(job) as QueryJob;
  Object.defineProperty(view, 'fields', { value: keep.map((i) => fields[i]!) });
  Object.defineProperty(view, 'rows', { value: job.rows.map((r) => keep.map((i) => r[i])) });
  return view;
}

function tableListEntry(t: ListedTable): Record<string, unknown> {
  const [project, dataset, id] = splitName(t.name);
  const masked = Object.keys(t.masked);
  return {
    kind: 'bigquery#table',
    id: `${project}:${dataset}.${id}`,
    tableReference: { projectId: project, datasetId: dataset, tableId: id },
    type: t.kind === 'view' ? 'VIEW' : 'TABLE',
    ...(masked.length > 0 ? { labels: { hoopq_masked: String(masked.length) } } : {}),
  };
}

function datasetResource(project: string, dataset: string): Record<string, unknown> {
  return { kind: 'bigquery#dataset', id: `${project}:${dataset}`, datasetReference: { projectId: project, datasetId: dataset }, location: DEFAULT_LOCATION };
}

function tableName(call: BigQueryApiCall, dataset: string, table: string): string {
  return `${call.project}.${dataset}.${table}`;
}

/** `project.dataset.table` -> its three parts (a table name may itself contain dots). */
function splitName(name: string): [string, string, string] {
  const [project = '', dataset = '', ...rest] = name.split('.');
  return [project, dataset, rest.join('.')];
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function wholeNumber(raw: string, name: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw invalid(`${name} must be a whole number >= 0`);
  return Number(raw);
}
