/**
 * The fake BigQuery's query engine: an in-memory DuckDB holding the fake's datasets, one
 * attached catalog per project. It runs the GoogleSQL the tests (and hoopq's mask rewrite)
 * produce after a small textual translation — backtick names, TO_HEX(SHA256(…)),
 * UNNEST(GENERATE_ARRAY(…)), @named parameters — so rows, masks and errors are computed, not
 * canned. Test-only; it understands exactly the subset the tests use.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface FakeField {
  name: string;
  type: string;
  mode?: 'NULLABLE' | 'REQUIRED' | 'REPEATED';
  fields?: FakeField[];
}

export interface EngineResult {
  fields: FakeField[];
  /** Rows in BigQuery's wire form: `{f: [{v: …}]}`. */
  rows: Array<{ f: Array<{ v: unknown }> }>;
}

export interface EngineDefaults {
  project: string;
  dataset?: string;
}

export interface EngineParameter {
  name?: string;
  parameterType: { type: string };
  parameterValue: { value: string | null };
}

const DUCK_TYPE: Record<string, string> = {
  STRING: 'VARCHAR',
  INTEGER: 'BIGINT',
  INT64: 'BIGINT',
  FLOAT: 'DOUBLE',
  FLOAT64: 'DOUBLE',
  BOOLEAN: 'BOOLEAN',
  BOOL: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATE: 'DATE',
  NUMERIC: 'DECIMAL(38,9)',
};

export class FakeBigQueryEngine {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  private readonly projects = new Set<string>();
  private readonly schemas = new Set<string>();

  static async create(): Promise<FakeBigQueryEngine> {
    const instance = await DuckDBInstance.create(':memory:');
    return new FakeBigQueryEngine(instance, await instance.connect());
  }

  async createTable(project: string, dataset: string, table: string, fields: FakeField[], rows: unknown[][]): Promise<void> {
    await this.ensureSchema(project, dataset);
    const cols = fields.map((f) => `${q(f.name)} ${DUCK_TYPE[f.type] ?? 'VARCHAR'}`).join(', ');
    await this.connection.run(`CREATE TABLE ${q(project)}.${q(dataset)}.${q(table)} (${cols})`);
    if (rows.length === 0) return;
    const appender = await this.connection.createAppender(table, dataset, project);
    for (const row of rows) {
      for (const [i, value] of row.entries()) {
        const type = fields[i]!.type;
        if (value === null || value === undefined) appender.appendNull();
        else if (type === 'INTEGER' || type === 'INT64') appender.appendBigInt(BigInt(value as number));
        else if (type === 'FLOAT' || type === 'FLOAT64') appender.appendDouble(Number(value));
        else if (type === 'BOOLEAN' || type === 'BOOL') appender.appendBoolean(Boolean(value));
        else appender.appendVarchar(String(value));
      }
      appender.endRow();
    }
    appender.closeSync();
  }

  async createView(project: string, dataset: string, view: string, googleSql: string): Promise<void> {
    await this.ensureSchema(project, dataset);
    await this.connection.run(`CREATE VIEW ${q(project)}.${q(dataset)}.${q(view)} AS ${translate(googleSql)}`);
  }

  /** Binds (and so validates) without running: the dry run's job. */
  async validate(sql: string, params: EngineParameter[], defaults: EngineDefaults): Promise<FakeField[]> {
    await this.use(defaults);
    const prepared = await this.connection.prepare(translate(sql));
    bindParameters(prepared, params);
    const fields: FakeField[] = [];
    for (let i = 0; i < prepared.columnCount; i++) fields.push({ name: prepared.columnName(i), ...bqType(String(prepared.columnType(i))) });
    return fields;
  }

  async run(sql: string, params: EngineParameter[], useInt64Timestamp: boolean, defaults: EngineDefaults): Promise<EngineResult> {
    await this.use(defaults);
    const prepared = await this.connection.prepare(translate(sql));
    bindParameters(prepared, params);
    const reader = await prepared.runAndReadAll();
    const fields = reader.columnNames().map((name, i) => ({ name, ...bqType(String(reader.columnTypes()[i])) }));
    const rows = reader.getRowsJS().map((row) => ({ f: row.map((v, i) => ({ v: wireValue(v, fields[i]!, useInt64Timestamp) })) }));
    return { fields, rows };
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }

  /** Unqualified names resolve like BigQuery's: the default dataset, else the job's project. */
  private async use(defaults: EngineDefaults): Promise<void> {
    if (!this.projects.has(defaults.project)) return;
    await this.connection.run(defaults.dataset && this.schemas.has(`${defaults.project}.${defaults.dataset}`) ? `USE ${q(defaults.project)}.${q(defaults.dataset)}` : `USE ${q(defaults.project)}`);
  }

  private async ensureSchema(project: string, dataset: string): Promise<void> {
    if (!this.projects.has(project)) {
      await this.connection.run(`ATTACH ':memory:' AS ${q(project)}`);
      this.projects.add(project);
    }
    const key = `${project}.${dataset}`;
    if (!this.schemas.has(key)) {
      await this.connection.run(`CREATE SCHEMA ${q(project)}.${q(dataset)}`);
      this.schemas.add(key);
    }
  }
}

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** GoogleSQL (the tests' subset) -> DuckDB SQL. */
export function translate(sql: string): string {
  return sql
    .replace(/`([^`]*)`/g, (_m, name: string) => name.split('.').map(q).join('.'))
    .replace(/TO_HEX\(SHA256\(/gi, '(sha256(')
    .replace(/UNNEST\(GENERATE_ARRAY\(([^()]*)\)\)\s+AS\s+(\w+)/gi, 'generate_series($1) AS _g($2)')
    .replace(/@(\w+)/g, '$$$1');
}

type Prepared = Awaited<ReturnType<DuckDBConnection['prepare']>>;

function bindParameters(prepared: Prepared, params: EngineParameter[]): void {
  const values: Record<string, unknown> = {};
  for (const p of params) {
    const v = p.parameterValue.value;
    const t = p.parameterType.type;
    values[p.name ?? ''] = v === null ? null : t === 'INT64' || t === 'INTEGER' ? BigInt(v) : t === 'FLOAT64' ? Number(v) : t === 'BOOL' ? v === 'true' : v;
  }
  if (params.length > 0) prepared.bind(values as never);
}

function bqType(duck: string): { type: string; mode?: 'REPEATED' } {
  if (/^(BIGINT|INTEGER|HUGEINT|SMALLINT|TINYINT|UBIGINT|UINTEGER)$/.test(duck)) return { type: 'INTEGER' };
  if (/^(DOUBLE|FLOAT|REAL)$/.test(duck)) return { type: 'FLOAT' };
  if (duck === 'BOOLEAN') return { type: 'BOOLEAN' };
  if (duck === 'DATE') return { type: 'DATE' };
  if (duck.startsWith('TIMESTAMP')) return { type: 'TIMESTAMP' };
  if (duck.startsWith('DECIMAL')) return { type: 'NUMERIC' };
  return { type: 'STRING' };
}

function wireValue(v: unknown, field: FakeField, useInt64Timestamp: boolean): unknown {
  if (v === null || v === undefined) return null;
  if (field.type === 'TIMESTAMP') {
    const micros = BigInt((v as Date).getTime()) * 1000n;
    return useInt64Timestamp ? String(micros) : String(Number(micros) / 1e6);
  }
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  return String(v);
}
