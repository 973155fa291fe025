/**
 * listTables: the tables a run token's policy lets it read, for `hoopq ls` and the MCP tool
 * `list_tables`. Input: token, optionally a dataset (`project:dataset`, `project.dataset` or
 * `dataset`). Output: each readable table with whether it is a view and the masks a query of
 * it gets. Invariant: a table is listed only if `SELECT * FROM` it would pass the policy's
 * table rules (deny wins, unnamed tables are refused, views are checked through), so a
 * listing never names a table the run could not query. Recorded as `catalog.list`.
 */
import { parseDatasetReference } from './parse-table-reference.js';
import { checkTableRead } from './check-table-read.js';
import type { PipelineParts } from './pipeline-parts.js';
import { runCatalogRequest, type CatalogRequest } from './run-catalog-request.js';
import { tableAccessRefusal } from '../policy/evaluate-policy.js';

export interface ListTablesRequest extends CatalogRequest {
  dataset?: string;
}

export interface ListedTable {
  /** `project.dataset.table` */
  name: string;
  kind: 'table' | 'view';
  /** `project.dataset.table.column` -> method, for this table and (for a view) the tables it reads. */
  masked: Record<string, string>;
}

export interface TableListing {
  policy: string;
  /** `project.dataset` when one was asked for. */
  dataset: string | null;
  tables: ListedTable[];
}

export async function listTables(parts: PipelineParts, req: ListTablesRequest): Promise<TableListing> {
  return runCatalogRequest(parts, 'catalog.list', req, async ({ policy, warehouse, names, body }) => {
    const dialect = warehouse.dialect;
    const dataset = req.dataset === undefined ? null : parseDatasetReference(req.dataset, names, dialect.tableCase === 'insensitive');
    body.dataset = dataset;
    const tables: ListedTable[] = [];
    for (const name of await warehouse.listTables(dataset ?? undefined)) {
      // the cheap name check first; the analysis through views only for what passes it
      if (tableAccessRefusal('read', name, policy, dialect)) continue;
      const read = await checkTableRead(warehouse, name, policy, names).catch(() => undefined);
      if (!read) continue;
      tables.push({ name, kind: read.isView ? 'view' : 'table', masked: read.masks });
    }
    body.rows = tables.length;
    return { policy: policy.name, dataset, tables };
  });
}
