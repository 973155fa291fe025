/**
 * listTables: the tables a run token's policy lets it read, for `hoopq ls` and the MCP tool
 * `list_tables`. Input: token, optionally a dataset (`project:dataset`, `project.dataset` or
 * `dataset`). Output: each readable table with whether it is a view and the masks a query of
 * it gets. Invariant: a table is listed only if `SELECT * FROM` it would pass the policy's
 * table rules (deny wins, unnamed tables are refused, views are checked through), so a
 * listing never names a table the run could not query. Recorded as `catalog.list`.
 * A named dataset with nothing to list is refused, never an empty answer: exit 5 when no
 * `tables.read` pattern of the policy reaches into it (decided from the policy alone, so a
 * refused dataset's existence is not revealed), else exit 6 (it does not exist, is empty, or
 * every table in it is denied).
 */
import { parseDatasetReference } from './parse-table-reference.js';
import { checkTableRead } from './check-table-read.js';
import type { PipelineParts } from './pipeline-parts.js';
import { runCatalogRequest, type CatalogRequest } from './run-catalog-request.js';
import { tableAccessRefusal } from '../policy/evaluate-policy.js';
import { matchesGlob } from '../analysis/table-name.js';
import { tableCaseInsensitive } from '../warehouse/warehouse-dialect.js';
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import type { Policy } from '../policy/policy.js';

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
    if (dataset !== null && !readPatternReaches(policy, dataset, tableCaseInsensitive(dialect, 'allow'))) {
      throw new PolicyDeniedError('policy.dataset_not_allowed', `refused: policy ${policy.name} lets this run read no table in dataset ${dataset} (rule tables.read: no pattern reaches it)`, {
        rule: 'tables.read',
        hint: `the tables you may read: ${policy.tables.read.join(', ') || 'none'}; hoopq ls lists their datasets`,
        details: { dataset },
      });
    }
    const tables: ListedTable[] = [];
    for (const name of await warehouse.listTables(dataset ?? undefined)) {
      // the cheap name check first; the analysis through views only for what passes it
      if (tableAccessRefusal('read', name, policy, dialect)) continue;
      const read = await checkTableRead(warehouse, name, policy, names).catch(() => undefined);
      if (!read) continue;
      tables.push({ name, kind: read.isView ? 'view' : 'table', masked: read.masks });
    }
    body.rows = tables.length;
    if (dataset !== null && tables.length === 0) {
      throw new AnalysisError('analysis.unknown_dataset', `refused: dataset ${dataset} holds no table this run may read: it does not exist, is empty, or every table in it is denied`, {
        rule: 'names',
        hint: 'check the name; hoopq ls (without a dataset) lists the datasets you may read',
        details: { dataset },
      });
    }
    return { policy: policy.name, dataset, tables };
  });
}

/** Whether some `tables.read` pattern could match a table of `dataset` (project.dataset). */
function readPatternReaches(policy: Policy, dataset: string, ci: boolean): boolean {
  return policy.tables.read.some((pattern) => {
    const segments = pattern.split('.');
    return segments.length === 3 && matchesGlob(dataset, `${segments[0]}.${segments[1]}`, ci);
  });
}
