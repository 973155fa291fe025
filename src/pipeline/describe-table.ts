/**
 * describeTable: one table's columns as a run token's policy lets it see them, for
 * `hoopq show` and the MCP tool `describe_table`. Input: token and a table reference
 * (`project:dataset.table`, `project.dataset.table`, `dataset.table`, `table`). Output: the
 * columns with their types and the mask a query gets for each, the masks at a view's source
 * tables, and the detectors that scan result text.
 * Invariant: the policy is checked before the catalog is asked, so a refused name never
 * reveals whether the table exists; a refusal is the one a query of the table would get
 * (views checked through). Recorded as `catalog.describe`.
 */
import { AnalysisError } from '../errors.js';
import type { MaskMethod } from '../policy/policy.js';
import { tableAccessRefusal } from '../policy/evaluate-policy.js';
import { checkTableRead } from './check-table-read.js';
import { enrichRefusal } from './enrich-refusal.js';
import { parseTableReference } from './parse-table-reference.js';
import type { PipelineParts } from './pipeline-parts.js';
import { columnKey, tableKey } from '../warehouse/warehouse-dialect.js';
import { runCatalogRequest, type CatalogRequest } from './run-catalog-request.js';
import { bigQuerySchemaField, type BigQuerySchemaField } from '../warehouse/bigquery-schema-field.js';

export interface DescribeTableRequest extends CatalogRequest {
  table: string;
}

export interface DescribedColumn {
  name: string;
  type: string;
  /** The mask every query of this column gets; `fields` when only fields inside it are masked (see maskedSources); null when it is returned as stored. */
  mask: MaskMethod | 'fields' | null;
}

export interface TableDescription {
  policy: string;
  /** `project.dataset.table` */
  table: string;
  kind: 'table' | 'view';
  columns: DescribedColumn[];
  /** The same columns as BigQuery schema fields (`bq show --format=json`): types, modes, nested fields. */
  fields: BigQuerySchemaField[];
  /** Masks not on a column of its own: at the tables a view reads, and on fields inside STRUCT columns (`project.dataset.table.column.field` -> method). */
  maskedSources: Record<string, string>;
  /** Content detectors that replace personal data found in any returned text cell. */
  detect: string[];
}

export async function describeTable(parts: PipelineParts, req: DescribeTableRequest): Promise<TableDescription> {
  return runCatalogRequest(parts, 'catalog.describe', req, async ({ policy, warehouse, names, body }) => {
    const dialect = warehouse.dialect;
    const table = parseTableReference(req.table, names, dialect.tableCase === 'insensitive');
    body.tables = { read: [table], write: [] };
    const context = { warehouse, policy, names };
    try {
      const refusal = tableAccessRefusal('read', table, policy, dialect);
      if (refusal) throw refusal;
      const info = await warehouse.describeTable(table);
      if (!info) {
        throw new AnalysisError('analysis.unknown_table', `refused: ${table} does not exist`, {
          rule: 'names',
          hint: 'check the name; list_tables (or hoopq ls) shows the tables you may read',
          details: { table },
        });
      }
      const read = await checkTableRead(warehouse, table, policy, names);
      body.tables = { read: read.reads, write: [] };
      const own = tableKey(dialect, table) + '.';
      const isOwn = (k: string) => tableKey(dialect, k.slice(0, own.length)) === own;
      const columns = info.columns.map((c) => {
        const key = Object.keys(read.masks).find((k) => isOwn(k) && columnKey(dialect, k.slice(own.length)) === columnKey(dialect, c.name));
        const fields = Object.keys(read.masks).some((k) => isOwn(k) && columnKey(dialect, k.slice(own.length)).startsWith(columnKey(dialect, c.name) + '.'));
        return { name: c.name, type: c.type, mask: key ? (read.masks[key] as MaskMethod) : fields ? ('fields' as const) : null };
      });
      const maskedSources = Object.fromEntries(Object.entries(read.masks).filter(([k]) => !isOwn(k) || columnKey(dialect, k.slice(own.length)).includes('.')));
      body.masked.columns = read.masks;
      body.rows = columns.length;
      const fields = columns.map((c) => bigQuerySchemaField(warehouse.kind, c.name, c.type));
      return { policy: policy.name, table, kind: info.kind, columns, fields, maskedSources, detect: policy.detect };
    } catch (err) {
      throw await enrichRefusal(err, context);
    }
  });
}
