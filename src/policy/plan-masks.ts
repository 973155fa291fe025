/**
 * Which columns of which tables are masked for a query: the policy's column globs
 * (`project.dataset.table.column[.field…]`) matched against the columns — and, where the
 * engine has them, the STRUCT/RECORD fields — of every table read, including:
 * - the base tables reached through views (the analysis lists them as reads);
 * - every table a wildcard table can expand to (listed from the catalog; the wildcard name
 *   itself gets the union, which the rewrite applies to the wildcard read);
 * - the source of a snapshot or clone: its masks hold on the copy, and a copy of a denied
 *   table is denied;
 * - a table read as an earlier version (`FOR SYSTEM_TIME AS OF`): that version's columns are
 *   not in the catalog, so its masks hold only when every column the policy's globs mask in
 *   the table is a column (or field) of it now, by name — the older version's column of that
 *   name is then masked; a masked name missing now (renamed, dropped, the table replaced) or a
 *   column glob whose column part is a pattern refuses the read.
 * Names compare as the engine's dialect says, folding case wherever the engine might.
 * A table whose columns cannot be listed while a column glob could match it is refused (a
 * mask that cannot be planned is not silently skipped).
 */
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import { globToRegExp } from '../analysis/table-name.js';
import type { ColumnInfo, MaskPlan, TableInfo } from '../warehouse/warehouse.js';
import { columnKey, findTableGlob, isExternalQueryName, isWildcardName, tableCaseInsensitive, type WarehouseDialect } from '../warehouse/warehouse-dialect.js';
import type { MaskMethod, Policy } from './policy.js';
import { wildcardPrefix } from './wildcard-table.js';

/** What planning asks of the warehouse: read-only metadata. */
export interface MaskCatalog {
  describeTable(name: string): Promise<TableInfo | null>;
  /** Tables and views of `project.dataset`. */
  listTables(dataset: string): Promise<string[]>;
}

interface ColumnGlob {
  glob: string;
  table: RegExp;
  path: RegExp[];
  method: MaskMethod;
}

/** How many snapshot/clone links are followed back to a source. */
const MAX_COPY_DEPTH = 4;

/** `timeTravel`: the tables read as an earlier version (QueryAnalysis `timeTravel`). */
export async function planMasks(tablesRead: readonly string[], policy: Policy, catalog: MaskCatalog, dialect: WarehouseDialect, timeTravel: readonly string[] = []): Promise<MaskPlan> {
  const plan: MaskPlan = {};
  const globs = columnGlobs(policy, dialect);
  if (globs.length === 0) return plan;
  const planner = new MaskPlanner(policy, catalog, dialect, globs, plan);
  for (const table of tablesRead) {
    if (isExternalQueryName(dialect, table)) continue;
    if (isWildcardName(dialect, table)) await planner.wildcard(table);
    else await planner.table(table);
  }
  for (const table of timeTravel) await planner.earlierVersion(table);
  return plan;
}

/** The audit/explain view of a plan: `project.dataset.table.column` -> method. */
export function flattenMaskPlan(plan: MaskPlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [table, cols] of Object.entries(plan)) for (const [c, m] of Object.entries(cols)) out[`${table}.${c}`] = m;
  return out;
}

/**
 * Without a catalog (`explain --offline`): the column globs whose table part matches a table
 * read, with the table filled in (`p.d.t.email`, `p.d.t.*_id`): what would be masked if
 * those columns exist.
 */
export function planMasksByName(tablesRead: readonly string[], policy: Policy, dialect: WarehouseDialect): Record<string, string> {
  const out: Record<string, string> = {};
  for (const g of columnGlobs(policy, dialect)) {
    const columnPart = g.glob.split('.').slice(3).join('.');
    for (const table of tablesRead) if (g.table.test(table)) out[`${table}.${columnPart}`] ??= g.method;
  }
  return out;
}

function columnGlobs(policy: Policy, dialect: WarehouseDialect): ColumnGlob[] {
  const ci = dialect.columnCase === 'insensitive';
  return Object.entries(policy.columns).map(([glob, method]) => {
    const parts = glob.split('.');
    return {
      glob,
      table: globToRegExp(parts.slice(0, 3).join('.'), tableCaseInsensitive(dialect, 'protect')),
      path: parts.slice(3).map((segment) => globToRegExp(segment, ci)),
      method,
    };
  });
}

class MaskPlanner {
  private readonly planned = new Map<string, Record<string, MaskMethod>>();

  constructor(
    private readonly policy: Policy,
    private readonly catalog: MaskCatalog,
    private readonly dialect: WarehouseDialect,
    private readonly globs: ColumnGlob[],
    private readonly plan: MaskPlan,
  ) {}

  /** Plans one table (adding it to the plan when it has masked columns); returns its masks. */
  async table(table: string): Promise<Record<string, MaskMethod>> {
    const known = this.planned.get(table);
    if (known) return known;
    const info = await this.catalog.describeTable(table);
    const named = this.globs.some((g) => g.table.test(table));
    if (!info) {
      if (named) {
        throw new AnalysisError('masking.unknown_columns', `refused: cannot list the columns of ${table} to apply the masks of policy ${this.policy.name}`, {
          rule: 'columns',
          hint: 'check the table name; masked tables must exist in the warehouse',
        });
      }
      this.planned.set(table, {});
      return {};
    }
    const names = [table, ...(await this.sources(table, info))];
    const globs = this.globs.filter((g) => names.some((n) => g.table.test(n)));
    const masks: Record<string, MaskMethod> = {};
    for (const column of info.columns) this.column(table, column, [], globs, masks);
    this.planned.set(table, masks);
    if (Object.keys(masks).length > 0) this.plan[table] = masks;
    return masks;
  }

  /** A read of an earlier version: every masked name must be a column (or field) of the table now. */
  async earlierVersion(table: string): Promise<void> {
    const info = isWildcardName(this.dialect, table) ? null : await this.catalog.describeTable(table);
    const names = [table, ...(info ? await this.sources(table, info) : [])];
    for (const g of this.globs.filter((x) => names.some((n) => x.table.test(n)))) {
      const path = g.glob.split('.').slice(3);
      const why = path.some((p) => p.includes('*'))
        ? `its column glob ${g.glob} is a pattern, which an older version's other columns could match`
        : !info || !hasColumnPath(info.columns, path, this.dialect)
          ? `${g.glob} masks ${path.join('.')}, which ${table} does not have now: an older version may hold it under that name`
          : undefined;
      if (why) {
        throw new AnalysisError('masking.time_travel', `refused: reading an earlier version of ${table} (FOR SYSTEM_TIME AS OF) under policy ${this.policy.name}: ${why}, and the masks are planned from the current columns`, {
          rule: 'columns',
          hint: 'read the current version, or have the policy name the masked columns of this table exactly',
        });
      }
    }
  }

  /** Every table the wildcard can expand to is planned; the wildcard itself gets the union. */
  async wildcard(name: string): Promise<void> {
    const w = wildcardPrefix(name);
    if (!w) throw refuse(`the wildcard table ${name} cannot be expanded`);
    const ci = tableCaseInsensitive(this.dialect, 'protect');
    const prefix = ci ? w.prefix.toLowerCase() : w.prefix;
    const union: Record<string, MaskMethod> = {};
    for (const candidate of await this.catalog.listTables(w.dataset)) {
      const last = candidate.slice(candidate.lastIndexOf('.') + 1);
      if (!(ci ? last.toLowerCase() : last).startsWith(prefix)) continue;
      for (const [path, method] of Object.entries(await this.table(candidate))) {
        const same = Object.keys(union).find((p) => columnKey(this.dialect, p) === columnKey(this.dialect, path));
        if (same !== undefined && union[same] !== method) {
          throw refuse(`the wildcard table ${name} reaches tables that mask ${path} differently (${union[same]} and ${method})`);
        }
        union[same ?? path] = method;
      }
    }
    if (Object.keys(union).length > 0) this.plan[name] = union;
  }

  /** The snapshot/clone sources of a table, nearest first; a source the policy denies refuses the read. */
  private async sources(table: string, info: TableInfo): Promise<string[]> {
    const out: string[] = [];
    let base = info.baseTable;
    while (base !== undefined && !out.includes(base) && base !== table) {
      if (out.length >= MAX_COPY_DEPTH) throw refuse(`${table} is a copy of a copy more than ${MAX_COPY_DEPTH} deep`);
      const deny = findTableGlob(this.dialect, base, this.policy.tables.deny, 'protect');
      if (deny) {
        throw new PolicyDeniedError('policy.table_denied', `refused: ${table} is a snapshot or clone of ${base}, which policy ${this.policy.name} denies (rule tables.deny "${deny}")`, {
          rule: 'tables.deny',
          hint: `tables you may read: ${this.policy.tables.read.join(', ') || 'none'}`,
          details: { table, source: base },
        });
      }
      out.push(base);
      base = (await this.catalog.describeTable(base))?.baseTable;
    }
    return out;
  }

  /** A whole-column mask wins over masks of its fields. */
  private column(table: string, column: ColumnInfo, parent: string[], globs: ColumnGlob[], out: Record<string, MaskMethod>): void {
    const path = [...parent, column.name];
    const hit = globs.find((g) => g.path.length === path.length && g.path.every((re, i) => re.test(path[i]!)));
    if (hit) {
      out[path.join('.')] = hit.method;
      return;
    }
    const deeper = globs.filter((g) => g.path.length > path.length && path.every((p, i) => g.path[i]!.test(p)));
    if (deeper.length === 0) return;
    if (!this.dialect.nestedFields) {
      throw new AnalysisError('masking.nested_unsupported', `refused: policy ${this.policy.name} masks a field inside ${table}.${path.join('.')} (${deeper[0]!.glob}), and this warehouse masks whole columns only`, {
        rule: 'columns',
        hint: 'mask the whole column (project.dataset.table.column) in the policy',
      });
    }
    for (const field of column.fields ?? []) this.column(table, field, path, deeper, out);
  }
}

/** Whether `path` (column, then field names) exists in `columns`, names compared as the engine does. */
function hasColumnPath(columns: readonly ColumnInfo[] | undefined, path: readonly string[], dialect: WarehouseDialect): boolean {
  if (path.length === 0) return true;
  const column = columns?.find((c) => columnKey(dialect, c.name) === columnKey(dialect, path[0]!));
  return column !== undefined && hasColumnPath(path.length > 1 ? column.fields : [], path.slice(1), dialect);
}

function refuse(what: string): AnalysisError {
  return new AnalysisError('masking.unsupported', `refused: ${what}`, { rule: 'columns', hint: 'name the tables you need explicitly' });
}
