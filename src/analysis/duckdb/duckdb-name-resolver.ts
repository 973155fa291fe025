/**
 * Resolves names as written in DuckDB SQL to hoopq's `project.dataset.table`, so that the
 * name hoopq checks is the object DuckDB will read:
 * - 3 parts are exact (catalog.schema.table);
 * - 2 parts are dataset.table. DuckDB would also try catalog.table (schema `main`), so a
 *   first part that names an attached database is refused as ambiguous;
 * - 1 part uses the defaults. DuckDB searches temp, then its search path, then `system`
 *   (where duckdb_tables, information_schema … live), and binds a view's body in the
 *   view's schema first and the session's search path after — so inside a view body a
 *   1-part name that does not exist in the view's schema is looked up on the session's
 *   search path (`fallback`), as DuckDB does. A 1- or 2-part name is only accepted for
 *   reading when the catalog confirms the object exists where hoopq resolved it (or an
 *   earlier statement of the same script created it); otherwise DuckDB could find
 *   something else under that name.
 * Requires the executing connection's search path to be defaultProject.defaultDataset.
 */
import { AnalysisError } from '../../errors.js';
import type { Catalog, ViewDefinition } from '../catalog.js';
import type { NameDefaults } from '../query-analysis.js';
import { resolveTableName } from '../table-name.js';
import type { NamePartsOrSchema } from './classify-duckdb-statement.js';
import type { DuckDbEngineFacts } from './read-duckdb-engine-facts.js';

export class DuckDbNameResolver {
  /** Objects created by earlier statements of the script being analysed. */
  readonly created = new Set<string>();
  private readonly views = new Map<string, Promise<ViewDefinition | null>>();
  private readonly exists = new Map<string, Promise<boolean>>();

  constructor(
    private readonly catalog: Catalog,
    readonly facts: DuckDbEngineFacts,
  ) {}

  async resolveRead(parts: readonly string[], names: NameDefaults, fallback?: NameDefaults): Promise<string> {
    const name = this.resolve(parts, names);
    if (parts.length < 3 && !this.created.has(name) && !(await this.objectExists(name))) {
      if (parts.length === 1 && fallback) {
        const onSearchPath = this.resolve(parts, fallback);
        if (this.created.has(onSearchPath) || (await this.objectExists(onSearchPath))) return onSearchPath;
      }
      throw new AnalysisError('analysis.unknown_table', `refused: "${parts.join('.')}" resolves to ${name}, which does not exist; DuckDB could read a different object under that name`, {
        rule: 'names',
        hint: 'check the name, or write it in full as project.dataset.table',
        details: { table: name },
      });
    }
    return name;
  }

  resolveWrite(target: NamePartsOrSchema, names: NameDefaults): string {
    if (!target.schema) return this.resolve(target.parts, names);
    // A schema is written `project.dataset.*`: only a write glob covering the whole dataset matches it.
    const table = this.resolve([...target.parts, 'x'], names);
    return `${table.slice(0, table.lastIndexOf('.'))}.*`;
  }

  viewDefinition(name: string): Promise<ViewDefinition | null> {
    let found = this.views.get(name);
    if (!found) {
      found = this.catalog.viewDefinition(name);
      this.views.set(name, found);
    }
    return found;
  }

  private objectExists(name: string): Promise<boolean> {
    let found = this.exists.get(name);
    if (!found) {
      found = this.catalog.columns(name).then((c) => c !== null);
      this.exists.set(name, found);
    }
    return found;
  }

  private resolve(parts: readonly string[], names: NameDefaults): string {
    if (parts.length === 2 && this.facts.catalogs.has(parts[0]!.toLowerCase())) {
      throw new AnalysisError('analysis.ambiguous_name', `refused: "${parts.join('.')}" is ambiguous: "${parts[0]}" is a database, so DuckDB may read ${parts[0]}.main.${parts[1]}`, {
        rule: 'names',
        hint: `write the table in full as project.dataset.table, e.g. ${parts[0]}.main.${parts[1]}`,
      });
    }
    return resolveTableName(parts, { caseInsensitive: true, ...names });
  }
}
