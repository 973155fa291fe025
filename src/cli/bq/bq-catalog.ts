/**
 * `hoopq bq ls` and `hoopq bq show`: the run token's view of the catalog (listTables,
 * describeTable: denied tables never appear) in bq's shapes. ls prints `datasetId`, or
 * `tableId  Type  Labels  Time Partitioning  Clustered Fields`, sparse by default, at most 50
 * entries unless -n says otherwise; show prints `Table P:D.T` and the schema as bq's tree
 * (`|- name: string`), `--schema` the fields as JSON, `--format=json` the `tables.get` shape
 * (`schema.fields` with BigQuery's types INTEGER, RECORD …, `mode` and nested `fields`).
 * What bq would show and hoopq does not know (sizes, times, labels) is left empty.
 */
import { UsageError } from '../../errors.js';
import { remoteDescribeTable, remoteListTables, remoteToken } from '../../gateway-client/gateway-client.js';
import { BQ_OBJECT_JSON, BQ_OBJECT_PRETTYJSON, bqCsvLine, bqJson, formatBqTable } from '../../output/bq-table-formatter.js';
import { describeTable, type TableDescription } from '../../pipeline/describe-table.js';
import { listTables, type TableListing } from '../../pipeline/list-tables.js';
import type { PipelineParts } from '../../pipeline/pipeline-parts.js';
import type { BigQuerySchemaField } from '../../warehouse/bigquery-schema-field.js';
import { cliToken, openQueryTargetAt } from '../query-target.js';
import { intFlag, type BqFormat, type BqInvocation } from './bq-command.js';
import { dottedName, parseBqReference } from './bq-names.js';

/** bq ls lists at most this many entries unless -n / --max_results says otherwise. */
const BQ_DEFAULT_MAX_RESULTS = 50;

export async function runBqLs(inv: BqInvocation): Promise<void> {
  if (inv.args.length > 1) throw new UsageError('usage.bq_ls', 'bq ls: name at most one dataset', { hint: 'hoopq bq ls [PROJECT:DATASET]' });
  const max = intFlag(inv, 'max_results', BQ_DEFAULT_MAX_RESULTS, 1)!;
  const listDatasets = inv.flags.datasets === true || (inv.args.length === 0 && inv.datasetId === undefined);
  if (listDatasets) {
    const project = inv.args[0]?.replace(/:$/, '') ?? inv.projectId;
    const listing = await fetchListing(inv, undefined);
    const datasets = [...new Set(listing.tables.map((t) => t.name.slice(0, t.name.lastIndexOf('.'))))]
      .filter((d) => project === undefined || d.split('.')[0] === project)
      .sort()
      .slice(0, max)
      .map((d) => d.split('.') as [string, string]);
    printCatalog(
      inv.format,
      ['datasetId'],
      datasets.map(([, datasetId]) => [datasetId]),
      datasets.map(([projectId, datasetId]) => ({ kind: 'bigquery#dataset', id: `${projectId}:${datasetId}`, datasetReference: { datasetId, projectId } })),
    );
    return;
  }
  const ref = parseBqReference(inv.args[0] ?? inv.datasetId!, inv, true);
  const listing = await fetchListing(inv, dottedName(ref));
  const tables = listing.tables
    .map((t) => t.name.split('.') as [string, string, string])
    .map(([projectId, datasetId, tableId], i) => ({ projectId, datasetId, tableId, type: listing.tables[i]!.kind === 'view' ? 'VIEW' : 'TABLE' }))
    .sort((a, b) => (a.tableId < b.tableId ? -1 : a.tableId > b.tableId ? 1 : 0))
    .slice(0, max);
  printCatalog(
    inv.format,
    ['tableId', 'Type', 'Labels', 'Time Partitioning', 'Clustered Fields'],
    tables.map((t) => [t.tableId, t.type, '', '', '']),
    tables.map((t) => ({
      kind: 'bigquery#table',
      id: `${t.projectId}:${t.datasetId}.${t.tableId}`,
      tableReference: { projectId: t.projectId, datasetId: t.datasetId, tableId: t.tableId },
      type: t.type,
    })),
  );
}

export async function runBqShow(inv: BqInvocation): Promise<void> {
  if (inv.args.length !== 1) throw new UsageError('usage.bq_show', 'bq show: name one dataset or table', { hint: 'hoopq bq show [--schema] [PROJECT:]DATASET[.TABLE]' });
  const ref = parseBqReference(inv.args[0]!, inv, inv.flags.dataset === true);
  if (ref.table === undefined) {
    // a dataset: shown only when the run may read a table in it (listTables refuses otherwise)
    const listing = await fetchListing(inv, dottedName(ref));
    const [projectId, datasetId] = (listing.dataset ?? dottedName(ref)).split('.') as [string, string];
    const info = { kind: 'bigquery#dataset', id: `${projectId}:${datasetId}`, datasetReference: { datasetId, projectId } };
    if (isJson(inv.format)) printJson(inv.format, info);
    else printShown(inv.format, `Dataset ${projectId}:${datasetId}`, ['Last modified', 'ACLs', 'Labels'], ['', '', '']);
    return;
  }
  const d = await fetchDescription(inv, dottedName(ref));
  const [projectId, datasetId, tableId] = d.table.split('.') as [string, string, string];
  if (inv.flags.schema === true) {
    const format = inv.flags.format === undefined ? 'json' : inv.format;
    if (!isJson(format)) throw new UsageError('usage.bq_schema_format', 'bq show: table schema output format must be json or prettyjson', { rule: 'format' });
    printJson(format, d.fields);
    return;
  }
  const type = d.kind === 'view' ? 'VIEW' : 'TABLE';
  if (isJson(inv.format)) {
    printJson(inv.format, { kind: 'bigquery#table', id: `${projectId}:${datasetId}.${tableId}`, tableReference: { projectId, datasetId, tableId }, schema: { fields: d.fields }, type });
    return;
  }
  const tree = schemaTree(d.fields);
  if (type === 'VIEW') printShown(inv.format, `Table ${projectId}:${datasetId}.${tableId}`, ['Last modified', 'Schema', 'Type', 'Expiration', 'Labels'], ['', tree, 'VIEW', '', '']);
  else {
    const columns = ['Last modified', 'Schema', 'Total Rows', 'Total Bytes', 'Expiration', 'Time Partitioning', 'Clustered Fields', 'Total Logical Bytes', 'Total Physical Bytes', 'Labels'];
    printShown(inv.format, `Table ${projectId}:${datasetId}.${tableId}`, columns, ['', tree, ...columns.slice(2).map(() => '')]);
  }
}

/** bq's schema tree: `|- name: type`, `+- record: record` with its fields indented by `|  `, `(repeated)` for non-nullable modes. */
export function schemaTree(fields: readonly BigQuerySchemaField[], depth = 0): string {
  return fields
    .flatMap((f) => {
      const line = `${'|  '.repeat(depth)}${f.type === 'RECORD' ? '+' : '|'}- ${f.name}: ${f.type.toLowerCase()}${f.mode !== 'NULLABLE' ? ` (${f.mode.toLowerCase()})` : ''}`;
      return f.type === 'RECORD' && f.fields ? [line, schemaTree(f.fields, depth + 1)] : [line];
    })
    .join('\n');
}

function isJson(format: BqFormat): format is 'json' | 'prettyjson' {
  return format === 'json' || format === 'prettyjson';
}

function printJson(format: 'json' | 'prettyjson', value: unknown): void {
  process.stdout.write(bqJson(value, format === 'json' ? BQ_OBJECT_JSON : BQ_OBJECT_PRETTYJSON) + '\n');
}

/** A listing: API objects for json, else a table (left-aligned columns, as bq's list formatter). */
function printCatalog(format: BqFormat, columns: string[], rows: string[][], objects: unknown[]): void {
  if (isJson(format)) return printJson(format, objects);
  printTable(format, columns, rows);
}

function printTable(format: BqFormat, columns: string[], rows: string[][]): void {
  if (format === 'none' || rows.length === 0) return;
  if (format === 'csv') {
    const text = [columns.join(','), ...rows.map(bqCsvLine)].join('\n').replace(/\s+$/, '');
    process.stdout.write(text + '\n');
    return;
  }
  if (format !== 'pretty' && format !== 'sparse') return;
  process.stdout.write(formatBqTable(format, columns.map((name) => ({ name, align: 'l' as const })), rows));
}

/** bq's show: `Table P:D.T`, a blank line, the one-row table, a blank line (not for csv or none). */
function printShown(format: BqFormat, title: string, columns: string[], row: string[]): void {
  if (format === 'none') return;
  if (format === 'csv') return printTable(format, columns, [row]);
  process.stdout.write(`${title}\n\n`);
  printTable(format, columns, [row]);
  process.stdout.write('\n');
}

function fetchListing(inv: BqInvocation, dataset: string | undefined): Promise<TableListing> {
  return askCatalog(
    inv,
    (gateway, token) => remoteListTables(gateway, token, dataset),
    (parts, token) => listTables(parts, { token, dataset, origin: { via: 'cli', command: 'bq ls' } }),
  );
}

function fetchDescription(inv: BqInvocation, table: string): Promise<TableDescription> {
  return askCatalog(
    inv,
    (gateway, token) => remoteDescribeTable(gateway, token, table),
    (parts, token) => describeTable(parts, { token, table, origin: { via: 'cli', command: 'bq show' } }),
  );
}

/** The gateway's answer in gateway mode, else the pipeline's in this process. */
async function askCatalog<T>(inv: BqInvocation, remote: (gateway: URL, token: string | undefined) => Promise<T>, local: (parts: PipelineParts, token: string | undefined) => Promise<T>): Promise<T> {
  const token = cliToken(inv.token);
  const target = await openQueryTargetAt(inv.configPath);
  if (target.kind === 'remote') return remote(target.gateway, remoteToken(token));
  try {
    return await local(target.ctx.parts, token);
  } finally {
    await target.ctx.close();
  }
}
