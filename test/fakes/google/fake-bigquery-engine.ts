/**
 * The fake BigQuery's query engine: an in-memory DuckDB holding the fake's datasets, one
 * attached catalog per project. It runs the GoogleSQL the tests (and hoopq's mask rewrite)
 * produce after a small textual translation — backtick names, TO_HEX(SHA256(…)),
 * UNNEST(GENERATE_ARRAY(…)), @named parameters — so rows, masks and errors are computed, not
 * canned. Test-only; it understands exactly the subset the tests use.
 */
import { DuckDBInstance, blobValue, listValue, structValue, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { FAKE_MACROS, translateGoogleSql, type WildcardExpander } from './fake-google-sql-translation.js';

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
  parameterType: { type: string; arrayType?: EngineParameter['parameterType']; structTypes?: Array<{ name?: string; type: EngineParameter['parameterType'] }> };
  parameterValue: { value?: string | null; arrayValues?: Array<EngineParameter['parameterValue']>; structValues?: Record<string, EngineParameter['parameterValue']> };
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

  /** Wildcard tables expand to the tables the fake lists (set by FakeBigQuery). */
  expandWildcard: WildcardExpander = () => [];

  static async create(): Promise<FakeBigQueryEngine> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    for (const macro of FAKE_MACROS) await connection.run(macro);
    return new FakeBigQueryEngine(instance, connection);
  }

  async createTable(project: string, dataset: string, table: string, fields: FakeField[], rows: unknown[][]): Promise<void> {
    await this.ensureSchema(project, dataset);
    const cols = fields.map((f) => `${q(f.name)} ${duckColumnType(f)}`).join(', ');
    await this.connection.run(`CREATE TABLE ${q(project)}.${q(dataset)}.${q(table)} (${cols})`);
    if (rows.length === 0) return;
    if (fields.some((f) => f.fields || f.mode === 'REPEATED')) {
      // nested values as DuckDB literals: the appender takes scalars only
      const values = rows.map((row) => `(${row.map((v, i) => sqlLiteral(v, fields[i]!)).join(', ')})`).join(', ');
      await this.connection.run(`INSERT INTO ${q(project)}.${q(dataset)}.${q(table)} VALUES ${values}`);
      return;
    }
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
    await this.connection.run(`CREATE VIEW ${q(project)}.${q(dataset)}.${q(view)} AS ${this.translate(googleSql)}`);
  }

  /** Binds (and so validates) without running: the dry run's job. */
  async validate(sql: string, params: EngineParameter[], defaults: EngineDefaults): Promise<FakeField[]> {
    await this.use(defaults);
    const prepared = await this.connection.prepare(this.translate(sql));
    bindParameters(prepared, params);
    const fields: FakeField[] = [];
    try {
      for (let i = 0; i < prepared.columnCount; i++) fields.push(bqField(prepared.columnName(i), prepared.columnType(i)));
    } catch {
      // a type that depends on a parameter is known only once bound and run: queries only
      if (!/^\s*(\(|SELECT|WITH|FROM)/i.test(sql)) return [];
      const reader = await prepared.runAndReadAll();
      return reader.columnNames().map((name, i) => bqField(name, reader.columnTypes()[i]!));
    }
    return fields;
  }

  async run(sql: string, params: EngineParameter[], useInt64Timestamp: boolean, defaults: EngineDefaults): Promise<EngineResult> {
    await this.use(defaults);
    const prepared = await this.connection.prepare(this.translate(sql));
    bindParameters(prepared, params);
    const reader = await prepared.runAndReadAll();
    const fields = reader.columnNames().map((name, i) => bqField(name, reader.columnTypes()[i]!));
    const rows = reader.getRowsJS().map((row) => ({ f: row.map((v, i) => ({ v: wireValue(v, fields[i]!, useInt64Timestamp) })) }));
    return { fields, rows };
  }

  /** Creates a routine the way BigQuery would run it: a DuckDB macro in the dataset's schema. */
  async createFunction(project: string, dataset: string, name: string, params: string[], body: string): Promise<void> {
    await this.ensureSchema(project, dataset);
    await this.connection.run(`CREATE MACRO ${q(project)}.${q(dataset)}.${q(name)}(${params.map(q).join(', ')}) AS (${this.translate(body)})`);
  }

  translate(sql: string): string {
    return translateGoogleSql(sql, this.expandWildcard);
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

/** GoogleSQL (the tests' subset) -> DuckDB SQL (fake-google-sql-translation.ts). */
export function translate(sql: string): string {
  return translateGoogleSql(sql);
}

function duckColumnType(f: FakeField): string {
  const base = f.fields ? `STRUCT(${f.fields.map((c) => `${q(c.name)} ${duckColumnType(c)}`).join(', ')})` : (DUCK_TYPE[f.type] ?? 'VARCHAR');
  return f.mode === 'REPEATED' ? `${base}[]` : base;
}

function sqlLiteral(v: unknown, f: FakeField): string {
  if (v === null || v === undefined) return 'NULL';
  if (f.mode === 'REPEATED') return `[${(v as unknown[]).map((x) => sqlLiteral(x, { ...f, mode: 'NULLABLE' })).join(', ')}]`;
  if (f.fields) {
    const o = v as Record<string, unknown>;
    return `{${f.fields.map((c) => `'${c.name}': ${sqlLiteral(o[c.name], c)}`).join(', ')}}`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${String(v).replace(/'/g, "''")}'`;
}

type Prepared = Awaited<ReturnType<DuckDBConnection['prepare']>>;

function bindParameters(prepared: Prepared, params: EngineParameter[]): void {
  if (params.length === 0) return;
  const values: Record<string, DuckDBValue> = {};
  params.forEach((p, i) => (values[p.name ?? String(i + 1)] = engineValue(p.parameterType, p.parameterValue)));
  prepared.bind(values as never);
}

function engineValue(type: EngineParameter['parameterType'], value: EngineParameter['parameterValue'] | undefined): DuckDBValue {
  if (type.type === 'ARRAY') return listValue((value?.arrayValues ?? []).map((v) => engineValue(type.arrayType!, v)));
  if (type.type === 'STRUCT') {
    return structValue(Object.fromEntries((type.structTypes ?? []).map((f) => [f.name ?? '', engineValue(f.type, value?.structValues?.[f.name ?? ''])])));
  }
  const v = value?.value;
  if (v === null || v === undefined) return null;
  const t = type.type;
  if (t === 'INT64' || t === 'INTEGER') return BigInt(v);
  if (t === 'FLOAT64') return Number(v);
  if (t === 'BOOL') return v === 'true';
  if (t === 'BYTES') return blobValue(Buffer.from(v, 'base64'));
  return v;
}

/** A DuckDB result column as a BigQuery schema field (STRUCT -> RECORD, LIST -> REPEATED). */
function bqField(name: string, type: DuckDBType): FakeField {
  const t = type as DuckDBType & { entryNames?: string[]; entryTypes?: DuckDBType[]; valueType?: DuckDBType };
  const text = String(type);
  if (text.endsWith('[]') && t.valueType) return { ...bqField(name, t.valueType), mode: 'REPEATED' };
  if (text.startsWith('STRUCT') && t.entryNames && t.entryTypes) {
    return { name, type: 'RECORD', mode: 'NULLABLE', fields: t.entryNames.map((n, i) => bqField(n, t.entryTypes![i]!)) };
  }
  return { name, ...bqType(text) };
}

function bqType(duck: string): { type: string; mode?: 'REPEATED' } {
  if (/^(BIGINT|INTEGER|HUGEINT|SMALLINT|TINYINT|UBIGINT|UINTEGER)$/.test(duck)) return { type: 'INTEGER' };
  if (/^(DOUBLE|FLOAT|REAL)$/.test(duck)) return { type: 'FLOAT' };
  if (duck === 'BOOLEAN') return { type: 'BOOLEAN' };
  if (duck === 'DATE') return { type: 'DATE' };
  if (duck === 'BLOB') return { type: 'BYTES' };
  if (duck.startsWith('TIMESTAMP')) return { type: 'TIMESTAMP' };
  if (duck.startsWith('DECIMAL')) return { type: 'NUMERIC' };
  return { type: 'STRING' };
}

function wireValue(v: unknown, field: FakeField, useInt64Timestamp: boolean): unknown {
  if (v === null || v === undefined) return null;
  if (field.mode === 'REPEATED') return (v as unknown[]).map((x) => ({ v: wireValue(x, { ...field, mode: 'NULLABLE' }, useInt64Timestamp) }));
  if (field.fields) {
    const o = v as Record<string, unknown>;
    return { f: field.fields.map((c) => ({ v: wireValue(o[c.name], c, useInt64Timestamp) })) };
  }
  if (field.type === 'TIMESTAMP') {
    const micros = BigInt((v as Date).getTime()) * 1000n;
    return useInt64Timestamp ? String(micros) : String(Number(micros) / 1e6);
  }
  if (field.type === 'BYTES') return Buffer.from(v as Uint8Array).toString('base64');
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  return String(v);
}
