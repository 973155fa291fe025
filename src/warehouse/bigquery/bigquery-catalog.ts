/**
 * The analysers' Catalog and the warehouse's table listing, from BigQuery's metadata API:
 * tables.get (views: `view.query`, materialized views: `materializedView.query`; columns from
 * `schema.fields`), tables.list and datasets.list, paged to the end. Every call runs as the
 * impersonated account. Lookups are cached for the life of the warehouse (one query), so a
 * table's metadata is read once however often analysis, mask planning and the rewrite ask.
 *
 * Fail-closed choices:
 * - a view defined in legacy SQL cannot be checked through: AnalysisError (exit 6);
 * - a table whose metadata the account may not read (403) is not known to be a view; it is
 *   answered as "not a view" so that policy evaluation can refuse it by name (exit 5), and
 *   remembered: if a dry run later succeeds anyway, BigQuery reached it through an
 *   authorization we cannot see through, and the query is refused (see `opaqueTables`).
 */
import type { Catalog, ViewDefinition } from '../../analysis/catalog.js';
import { AnalysisError, WarehouseError } from '../../errors.js';
import type { ColumnInfo, TableInfo } from '../warehouse.js';
import type { BigQueryRest } from './bigquery-rest.js';
import { bigQueryColumns, type BigQueryField } from './convert-bigquery-rows.js';

interface TableResource {
  tableReference?: { projectId: string; datasetId: string; tableId: string };
  type?: string;
  schema?: { fields?: BigQueryField[] };
  view?: { query?: string; useLegacySql?: boolean };
  materializedView?: { query?: string };
  snapshotDefinition?: { baseTableReference?: TableReference };
  cloneDefinition?: { baseTableReference?: TableReference };
}

interface TableReference {
  projectId?: string;
  datasetId?: string;
  tableId?: string;
}

/** tables.get answered 403: kept with its error, which names the missing role. */
class Forbidden {
  constructor(readonly error: WarehouseError) {}
}

type Listing = { nextPageToken?: string } & Record<string, unknown>;

const PAGE_SIZE = 1000;
const MAX_PAGES = 10_000;

export class BigQueryCatalog implements Catalog {
  private readonly cache = new Map<string, Promise<TableResource | null | Forbidden>>();
  /** Tables whose metadata the impersonated account was refused (403) while checking for views. */
  readonly opaqueTables = new Set<string>();

  constructor(
    private readonly rest: BigQueryRest,
    /** The project jobs run in: datasets named without a project belong to it. */
    private readonly project: string,
  ) {}

  async viewDefinition(name: string): Promise<ViewDefinition | null> {
    const table = await this.table(name);
    if (table instanceof Forbidden) {
      this.opaqueTables.add(name);
      return null;
    }
    if (!table) return null;
    const ref = table.tableReference;
    if (table.type === 'VIEW') {
      if (table.view?.useLegacySql !== false) {
        throw new AnalysisError('analysis.legacy_view', `refused: view ${name} is defined in legacy SQL, which hoopq cannot check through`, {
          rule: 'views',
          hint: 'query the underlying tables directly, or recreate the view in GoogleSQL (useLegacySql: false)',
        });
      }
      return definition(name, table.view.query, ref);
    }
    if (table.type === 'MATERIALIZED_VIEW') return definition(name, table.materializedView?.query, ref);
    return null;
  }

  async columns(name: string): Promise<string[] | null> {
    const described = await this.describeTable(name);
    return described ? described.columns.map((c) => c.name) : null;
  }

  async describeTable(name: string): Promise<TableInfo | null> {
    const table = await this.table(name);
    // columns are needed to plan masks: an account that may not read them is the operator's to fix
    if (table instanceof Forbidden) throw table.error;
    if (!table) return null;
    const ref = table.tableReference;
    const base = (table.snapshotDefinition ?? table.cloneDefinition)?.baseTableReference;
    if ((table.type === 'SNAPSHOT' || table.snapshotDefinition || table.cloneDefinition) && !(base?.projectId && base.datasetId && base.tableId)) {
      // a copy whose source is unknown cannot carry its source's masks: refuse rather than read it bare
      throw new AnalysisError('analysis.copy_source_unknown', `refused: ${name} is a snapshot or clone, and BigQuery did not say of which table`, {
        rule: 'columns',
        hint: 'query the source table instead',
      });
    }
    return {
      name: ref ? `${ref.projectId}.${ref.datasetId}.${ref.tableId}` : name,
      kind: table.type === 'VIEW' || table.type === 'MATERIALIZED_VIEW' ? 'view' : 'table',
      columns: schemaColumns(table.schema?.fields ?? []),
      ...(base ? { baseTable: `${base.projectId}.${base.datasetId}.${base.tableId}` } : {}),
    };
  }

  /** Tables and views of one dataset (`dataset` or `project.dataset`), or of every dataset of the job project; sorted. */
  async listTables(dataset?: string): Promise<string[]> {
    let datasets: Array<[string, string]>;
    if (dataset === undefined) {
      const listed = await this.listAll<{ datasetReference?: { projectId: string; datasetId: string } }>(`/datasets`, this.project, 'datasets');
      datasets = (listed ?? []).flatMap((d) => (d.datasetReference ? [[d.datasetReference.projectId, d.datasetReference.datasetId] as [string, string]] : []));
    } else {
      const parts = dataset.split('.');
      const datasetId = parts.pop()!;
      const projectId = parts.length > 0 ? parts.join('.') : this.project;
      if (datasetId === '' || projectId === '') return [];
      datasets = [[projectId, datasetId]];
    }
    const names: string[] = [];
    for (const [projectId, datasetId] of datasets) {
      const tables = await this.listAll<{ tableReference?: { projectId: string; datasetId: string; tableId: string } }>(
        `/datasets/${encodeURIComponent(datasetId)}/tables`,
        projectId,
        'tables',
      );
      for (const t of tables ?? []) if (t.tableReference) names.push(`${t.tableReference.projectId}.${t.tableReference.datasetId}.${t.tableReference.tableId}`);
    }
    return names.sort();
  }

  private table(name: string): Promise<TableResource | null | Forbidden> {
    let cached = this.cache.get(name);
    if (!cached) {
      cached = this.fetchTable(name);
      this.cache.set(name, cached);
    }
    return cached;
  }

  private async fetchTable(name: string): Promise<TableResource | null | Forbidden> {
    const parts = splitTableName(name);
    if (!parts) return null;
    const [projectId, datasetId, tableId] = parts;
    try {
      return await this.rest.call<TableResource>({ uri: `/datasets/${encodeURIComponent(datasetId)}/tables/${encodeURIComponent(tableId)}`, projectId });
    } catch (err) {
      if (err instanceof WarehouseError && err.code === 'warehouse.not_found') return null;
      if (err instanceof WarehouseError && err.code === 'warehouse.access_denied') return new Forbidden(err);
      throw err;
    }
  }

  /** Every item of a paged list, or null when the parent (dataset/project) does not exist. */
  private async listAll<T>(uri: string, projectId: string, key: string): Promise<T[] | null> {
    const items: T[] = [];
    let pageToken: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      let body: Listing;
      try {
        body = await this.rest.call<Listing>({ uri, projectId, qs: { maxResults: PAGE_SIZE, pageToken } });
      } catch (err) {
        if (err instanceof WarehouseError && err.code === 'warehouse.not_found') return null;
        throw err;
      }
      items.push(...((body[key] as T[] | undefined) ?? []));
      pageToken = body.nextPageToken;
      if (!pageToken) return items;
      if (seen.has(pageToken)) break;
      seen.add(pageToken);
    }
    throw new WarehouseError('warehouse.paging', `BigQuery kept paging ${uri} without end`, { rule: 'warehouse', hint: 'retry; list a single dataset' });
  }
}

/** Columns with their RECORD fields and REPEATED mode, as mask planning needs them. */
function schemaColumns(fields: BigQueryField[]): ColumnInfo[] {
  const types = bigQueryColumns(fields);
  return fields.map((f, i) => ({
    name: f.name,
    type: types[i]!.type,
    ...(f.mode === 'REPEATED' ? { repeated: true } : {}),
    ...((f.type === 'RECORD' || f.type === 'STRUCT') && f.fields ? { fields: schemaColumns(f.fields) } : {}),
  }));
}

function definition(name: string, query: string | undefined, ref: TableResource['tableReference']): ViewDefinition {
  if (typeof query !== 'string' || query.trim() === '') {
    throw new AnalysisError('analysis.view_unreadable', `refused: cannot read the definition of view ${name}`, {
      rule: 'views',
      hint: 'query the underlying tables directly',
    });
  }
  const [project, dataset] = ref ? [ref.projectId, ref.datasetId] : splitTableName(name)!;
  return { sql: query, project, dataset };
}

/**
 * `project.dataset.table` -> parts. Dataset and table ids have no dots, so everything before
 * the last two dots is the project (domain-scoped projects: `example.com:proj`).
 */
export function splitTableName(name: string): [string, string, string] | null {
  const parts = name.split('.');
  if (parts.length < 3) return null;
  const tableId = parts.pop()!;
  const datasetId = parts.pop()!;
  const projectId = parts.join('.');
  return projectId && datasetId && tableId ? [projectId, datasetId, tableId] : null;
}
