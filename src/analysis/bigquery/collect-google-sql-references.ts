/**
 * Walks a parsed GoogleSQL program and collects, per statement, every object it reads or
 * writes, as written (name parts + source range). Scoping follows BigQuery: CTE names
 * (case-insensitive) shadow one-part table names inside their WITH (a WITH on the first
 * branch of a set operation covers the whole query); a FROM path whose first part is a range
 * variable in scope (`FROM t, t.items`) is an array, not a table; temporary tables created
 * earlier in the script are session objects, not warehouse tables.
 *
 * Fail closed: every node of the tree is either handled by a rule here or belongs to the
 * INERT set of expression nodes that can hold no table name (their children are still
 * walked, so a subquery anywhere is found). Any other node type is an AnalysisError, so a
 * parser upgrade that adds syntax can never silently hide a table.
 */
import { AnalysisError } from '../../errors.js';
import type { StatementKind } from '../query-analysis.js';
import { classifyGoogleSqlStatement } from './classify-google-sql-statement.js';
import { namePartsOf } from './google-sql-name.js';
import { INERT_GOOGLE_SQL_NODES } from './inert-google-sql-nodes.js';
import { parseGoogleSql } from './parse-google-sql.js';
import { scanGoogleSql, type GoogleSqlToken } from './scan-google-sql.js';
import type { PipeQuery } from './find-pipe-queries.js';
import { isReservedName, reservedNameError } from '../reserved-names.js';

export interface GoogleSqlNode {
  type: string;
  range?: [number, number];
  [key: string]: unknown;
}

export type ReferenceRole =
  | 'table' // a table, view or wildcard table
  | 'model' // ML model (MODEL m)
  | 'routine' // table-valued function in FROM, procedure in CALL, persistent function created/dropped
  | 'dataset' // CREATE/ALTER/DROP SCHEMA, GRANT ON SCHEMA: every table of the dataset
  | 'external'; // EXTERNAL_QUERY connection

export interface TableReference {
  access: 'read' | 'write';
  role: ReferenceRole;
  /** Name parts as written, quotes removed (for `dataset`, the dataset's parts plus `*`). */
  parts: string[];
  /** The row-observing read implied by a DML target (DELETE/UPDATE/MERGE predicates). */
  targetRead?: boolean;
  /** Source range of the name (in `source`). */
  range: [number, number];
  /**
   * Set for a table in a FROM clause: what the masking rewrite may replace (`range`: the name
   * and its alias), and `suffix`, text that stays with the table inside the mask subquery
   * (`FOR SYSTEM_TIME AS OF …`, `TABLESAMPLE …`); `bare`: the subquery takes no alias (a
   * `TABLE t` argument becomes `(SELECT …)`).
   */
  relation?: { range: [number, number]; alias?: string; suffix?: [number, number]; bare?: boolean };
  /** For `external`: the connection id. */
  connection?: string;
  /** Read as an earlier version of the table (`FOR SYSTEM_TIME AS OF`). */
  timeTravel?: boolean;
}

export interface CollectedStatement {
  kind: StatementKind;
  nativeType: string;
  /** The SQL text the ranges refer to (the input, or an EXECUTE IMMEDIATE string). */
  source: string;
  range: [number, number];
  /** True for statements found inside an EXECUTE IMMEDIATE string literal. */
  dynamic: boolean;
  references: TableReference[];
  /** Persistent functions called from expressions (`dataset.fn(…)`), as written. */
  routines: string[][];
  /** URIs and connections data leaves to or enters from (connections as written, dotted). */
  external: CollectedExternal[];
}

export interface CollectedExternal {
  kind: 'uri' | 'connection';
  /** The URI, or the connection's name parts as written. */
  value: string | string[];
}

export interface CollectOptions {
  /** hoopq's own text (a mask rewrite): it may use hoopq's reserved names. */
  trusted?: boolean;
}

interface Scope {
  ctes: Set<string>;
  aliases: Set<string>;
}

/** Function namespaces of BigQuery itself: `NET.HOST(…)` is not a user routine. */
const BUILTIN_NAMESPACES = new Set([
  'SAFE', 'NET', 'ML', 'KEYS', 'AEAD', 'HLL_COUNT', 'KLL_QUANTILES', 'AI', 'OBJ', 'BQ', 'VECTOR_INDEX', 'DLP', 'S2', 'RANGE',
]);
/** System variables that change how unqualified names resolve: a script setting them is refused. */
const NAME_CONTEXT_VARIABLES = new Set(['@@DATASET_ID', '@@DATASET_PROJECT_ID', '@@PROJECT_ID']);
const MAX_DYNAMIC_DEPTH = 4;

export function collectGoogleSqlReferences(sql: string, options: CollectOptions = {}): CollectedStatement[] {
  const collector = new ReferenceCollector(sql, false, 0, options.trusted === true);
  collector.run();
  return collector.statements;
}

/** Option values that name where data goes or comes from must be literals (and are checked against `destinations`). */
const LOCATION_OPTIONS = new Set(['uri', 'uris', 'hive_partition_uri_prefix', 'metadata_file_paths', 'endpoint', 'model_path']);
const URI_TEXT = /^[a-z][a-z0-9+.-]*:\/\//i;

class ReferenceCollector {
  readonly statements: CollectedStatement[] = [];
  private current: CollectedStatement | undefined;
  private temps = new Set<string>();
  private readonly modelKeywords: Set<number>;
  private readonly undropKeywords: Set<number>;
  private readonly tempLoadTargets: Set<number>;
  private readonly connectionArguments: Set<number>;
  private readonly defaultConnections: Set<number>;
  private readonly changed: Array<[number, number]>;
  private readonly program: GoogleSqlNode;
  /** Pipe queries by the offset of their placeholder (the main parse and every part parsed since). */
  private readonly pipes = new Map<number, PipeQuery>();

  constructor(
    private readonly source: string,
    private readonly dynamic: boolean,
    private readonly depth: number,
    private readonly trusted: boolean,
  ) {
    if (!trusted) refuseReservedNames(source);
    const parsed = parseGoogleSql(source);
    this.program = parsed.program as unknown as GoogleSqlNode;
    this.modelKeywords = new Set(parsed.normalized.modelKeywords);
    this.undropKeywords = new Set(parsed.normalized.undropKeywords);
    this.tempLoadTargets = new Set(parsed.normalized.tempLoadTargets);
    this.connectionArguments = new Set(parsed.normalized.connectionArguments);
    this.defaultConnections = new Set(parsed.normalized.defaultConnections);
    this.changed = parsed.normalized.changed;
    for (const q of parsed.normalized.pipes) this.pipes.set(q.start, q);
  }

  run(): void {
    this.programStatements(this.program, false);
  }

  // ---- statements ------------------------------------------------------------------------

  private programStatements(program: GoogleSqlNode, fold: boolean): void {
    for (const s of program.statements as GoogleSqlNode[]) this.statement(s, fold);
  }

  /** `fold`: the statement is part of a routine body being created; its references belong to the CREATE. */
  private statement(node: GoogleSqlNode, fold: boolean): void {
    if (node.type === 'empty') return;
    if (node.type === 'labeled_stmt') return this.statement(node.statement as GoogleSqlNode, fold);
    const cls = classifyGoogleSqlStatement(node, this.modelKeywords, this.undropKeywords);
    if (fold) return this.statementBody(node, true);
    const entry: CollectedStatement = {
      ...cls,
      source: this.source,
      range: node.range!,
      dynamic: this.dynamic,
      references: [],
      routines: [],
      external: [],
    };
    this.statements.push(entry);
    const saved = this.current;
    this.current = entry;
    try {
      this.statementBody(node, false);
    } finally {
      this.current = saved;
    }
  }

  private statementBody(node: GoogleSqlNode, fold: boolean): void {
    const root: Scope = { ctes: new Set(), aliases: new Set() };
    const n = node as Record<string, any>;
    switch (node.type) {
      case 'select_stmt':
      case 'compound_select_stmt':
        return this.query(node, root);
      case 'insert_stmt':
        for (const c of n.clauses as GoogleSqlNode[]) {
          if (c.type === 'insert_clause') this.target((c as any).table, 'write', false, root);
          else this.expr(c, root);
        }
        return;
      case 'update_stmt':
        return this.dml(n.clauses, 'update_clause', 'tables', root);
      case 'delete_stmt':
        return this.dml(n.clauses, 'delete_clause', 'tables', root);
      case 'merge_stmt':
        for (const c of n.clauses as any[]) {
          if (c.type === 'merge_clause') {
            this.target(c.target, 'write', true, root);
            this.from(c.source, root);
            this.expr(c.condition, root);
          } else this.expr(c, root);
        }
        return;
      case 'truncate_stmt':
        return this.targets(n.tables, 'write', false);
      case 'create_table_stmt':
        return this.createTable(n);
      case 'create_view_stmt':
        this.target(n.name, 'write', false, root);
        if (n.columns) this.expr(n.columns, root);
        return this.clauses(n.clauses, root);
      case 'create_function_stmt':
        return this.createFunction(n);
      case 'create_procedure_stmt': {
        this.named(n.name, 'write', 'routine');
        this.expr(n.params, root);
        const savedTemps = this.temps;
        this.temps = new Set();
        try {
          for (const c of n.clauses as GoogleSqlNode[]) {
            if (c.type === 'block_stmt') this.block(c, true);
            else this.expr(c, root);
          }
        } finally {
          this.temps = savedTemps;
        }
        return;
      }
      case 'create_schema_stmt':
        this.dataset(n.name, 'write');
        return this.clauses(n.clauses, root);
      case 'alter_schema_stmt':
        this.dataset(n.name, 'write');
        return this.clauses(n.actions, root);
      case 'drop_schema_stmt':
        for (const s of n.schemas.items) this.dataset(s, 'write');
        return;
      case 'create_row_access_policy_stmt':
      case 'create_index_stmt':
        this.target(n.table, 'write', false, root);
        if (n.columns) this.expr(n.columns, root);
        return this.clauses(n.clauses, root);
      case 'drop_row_access_policy_stmt':
        return this.target(n.table, 'write', false, root);
      case 'drop_index_stmt':
        if (!n.table) throw unsupported('DROP SEARCH INDEX without ON table');
        return this.target(n.table, 'write', false, root);
      case 'drop_table_stmt':
        return this.targets(n.tables, 'write', false);
      case 'drop_view_stmt':
        return this.targets(n.views, 'write', false);
      case 'drop_function_stmt':
        for (const sig of n.signatures.items) {
          if (this.isTempFunction(sig.name)) continue;
          this.named(sig.name, 'write', 'routine');
        }
        return;
      case 'drop_procedure_stmt':
        for (const sig of (n.signatures ?? n.procedures).items) this.named(sig.name ?? sig, 'write', 'routine');
        return;
      case 'alter_table_stmt':
        return this.alter(n.table, n.actions.items, root);
      case 'alter_view_stmt':
        if (n.columns) this.expr(n.columns, root);
        return this.alter(n.name, n.actions.items, root);
      case 'export_data_stmt': {
        if (n.withConnection) this.expr(n.withConnection, root);
        const before = this.current!.external.filter((e) => e.kind === 'uri').length;
        if (n.options) this.expr(n.options, root);
        // no uri named: a destination no policy entry can match (BigQuery requires one anyway)
        if (this.current!.external.filter((e) => e.kind === 'uri').length === before) this.current!.external.push({ kind: 'uri', value: '' });
        return this.expr(n.as, root);
      }
      case 'load_data_stmt':
        if (this.tempLoadTargets.has(n.table.range[0])) {
          // LOAD DATA INTO TEMP TABLE t: t is a session table from here on, not a warehouse write
          const parts = namePartsOf(n.table);
          if (parts.length !== 1) throw unsupported('a temporary table with a qualified name');
          this.checkUnchanged(n.table);
          this.temps.add(parts[0]!);
        } else {
          this.target(n.table, 'write', false, root);
        }
        if (n.columns) this.expr(n.columns, root);
        return this.clauses(n.clauses, root);
      case 'call_stmt': {
        const fn = n.func;
        if (fn.type !== 'func_call') throw unsupported(`CALL of ${fn.type}`);
        this.named(fn.name, 'read', 'routine');
        return this.expr(fn.args, root);
      }
      case 'grant_privilege_stmt':
      case 'revoke_privilege_stmt':
        return this.grantResource(n.resource);
      case 'declare_stmt':
        if (n.init) this.expr(n.init, root);
        return;
      case 'set_stmt':
        for (const a of n.assignments.items) {
          const left = a.left;
          const vars = left.type === 'paren_expr' ? left.expr.items : [left];
          for (const v of vars) {
            if (v.type === 'variable' && NAME_CONTEXT_VARIABLES.has(String(v.text).toUpperCase())) {
              throw new AnalysisError('analysis.name_context', `refused: SET ${v.text} changes how table names resolve`, {
                rule: 'analysis.names',
                hint: 'qualify table names with their dataset instead of changing the default dataset in a script',
              });
            }
          }
          this.expr(a, root);
        }
        return;
      case 'block_stmt':
        return this.block(node, fold);
      case 'if_stmt':
        for (const c of n.clauses as any[]) {
          if (c.condition) this.expr(c.condition, root);
          this.programStatements(c.consequent, fold);
        }
        return;
      case 'loop_stmt':
        return this.programStatements(n.body, fold);
      case 'while_stmt':
        this.expr(n.condition, root);
        return this.programStatements(n.body, fold);
      case 'repeat_stmt':
        this.programStatements(n.body, fold);
        return this.expr(n.condition, root);
      case 'for_stmt':
        this.expr(n.right, root);
        return this.programStatements(n.body, fold);
      case 'execute_immediate_stmt':
        return this.executeImmediate(n, fold, root);
      case 'break_stmt':
      case 'continue_stmt':
      case 'return_stmt':
      case 'raise_stmt':
      case 'assert_stmt':
      case 'start_transaction_stmt':
      case 'commit_transaction_stmt':
      case 'rollback_transaction_stmt':
        return this.children(node, root);
      default:
        // Administration statements (`other`): reservations and settings, no table names.
        if (classifyGoogleSqlStatement(node, this.modelKeywords).kind === 'other') return;
        throw unsupported(node.type);
    }
  }

  private block(node: GoogleSqlNode, fold: boolean): void {
    const n = node as any;
    this.programStatements(n.program, fold);
    if (n.exception) {
      for (const w of n.exception.clauses) this.programStatements(w.program, fold);
    }
  }

  private dml(clauses: GoogleSqlNode[], targetClause: string, field: string, root: Scope): void {
    const scope = child(root);
    const target = clauses.find((c) => c.type === targetClause) as any;
    if (!target) throw unsupported(`${targetClause} missing`);
    for (const t of target[field].items) this.target(t, 'write', true, scope);
    const from = clauses.find((c) => c.type === 'from_clause') as any;
    if (from) this.from(from.expr, scope);
    for (const c of clauses) if (c !== target && c !== from) this.expr(c, scope);
  }

  private createTable(n: any): void {
    const root: Scope = { ctes: new Set(), aliases: new Set() };
    const temp = ['TEMP', 'TEMPORARY'].includes(String(n.kind?.kindKw?.name ?? '').toUpperCase());
    if (temp) {
      const parts = namePartsOf(n.name);
      if (parts.length !== 1) throw unsupported('a temporary table with a qualified name');
      this.checkUnchanged(n.name);
    } else {
      this.target(n.name, 'write', false, root);
    }
    if (n.columns) this.expr(n.columns, root);
    for (const c of n.clauses as any[]) {
      if (c.type === 'create_table_like_clause' || c.type === 'create_table_copy_clause') this.named(c.name, 'read', 'table', root);
      else if (c.type === 'create_table_clone_clause') this.from(c.table, root);
      else this.expr(c, root);
    }
    // Registered after the body: `CREATE TEMP TABLE x AS SELECT * FROM x` reads the real x.
    if (temp) this.temps.add(namePartsOf(n.name)[0]!);
  }

  private createFunction(n: any): void {
    const root: Scope = { ctes: new Set(), aliases: new Set() };
    if (n.temporaryKw) {
      const parts = namePartsOf(n.name);
      if (parts.length !== 1) throw unsupported('a temporary function with a qualified name');
      this.checkUnchanged(n.name);
    } else {
      this.named(n.name, 'write', 'routine');
    }
    if (n.params) this.expr(n.params, root);
    this.clauses(n.clauses, root);
    if (n.temporaryKw) this.temps.add(`fn:${namePartsOf(n.name)[0]!.toLowerCase()}`);
  }

  private isTempFunction(name: GoogleSqlNode): boolean {
    const parts = namePartsOf(name);
    return parts.length === 1 && this.temps.has(`fn:${parts[0]!.toLowerCase()}`);
  }

  private alter(name: GoogleSqlNode, actions: any[], root: Scope): void {
    this.target(name, 'write', false, root);
    for (const a of actions) {
      if (a.type === 'alter_action_rename') {
        // RENAME TO creates a name in the same dataset: a write of that name too.
        const parts = namePartsOf(name);
        const newParts = namePartsOf(a.newName);
        if (newParts.length !== 1) throw unsupported('RENAME TO a qualified name');
        this.add({ access: 'write', role: 'table', parts: [...parts.slice(0, -1), newParts[0]!], range: a.newName.range });
      } else if (a.type === 'as_clause') {
        this.expr(a, root);
      } else {
        this.expr(a, root);
      }
    }
  }

  private grantResource(r: any): void {
    switch (r.type) {
      case 'grant_resource_table':
      case 'grant_resource_view':
        for (const t of (r.tables ?? r.views).items) this.named(t, 'write', 'table');
        return;
      case 'grant_resource_schema':
        for (const s of r.schemas.items) this.dataset(s, 'write');
        return;
      default:
        throw unsupported(`GRANT/REVOKE on ${r.type}`);
    }
  }

  private executeImmediate(n: any, fold: boolean, root: Scope): void {
    const e = n.expr;
    if (e.type !== 'string_literal') {
      throw new AnalysisError('analysis.dynamic_sql', 'refused: EXECUTE IMMEDIATE with a computed SQL string cannot be analysed', {
        rule: 'analysis.dynamic_sql',
        hint: 'run the statement itself instead of building it at run time; a plain string literal is analysed',
      });
    }
    if (this.depth >= MAX_DYNAMIC_DEPTH) throw unsupported('EXECUTE IMMEDIATE nested too deeply');
    if (n.into) this.expr(n.into, root);
    if (n.using) this.expr(n.using, root);
    const inner = new ReferenceCollector(String(e.value), true, this.depth + 1, false);
    inner.temps = this.temps;
    inner.run();
    for (const s of inner.statements) {
      if (fold) {
        this.current!.references.push(...s.references.map((r) => ({ ...r, relation: undefined })));
        this.current!.routines.push(...s.routines);
        this.current!.external.push(...s.external);
      } else {
        this.statements.push(s);
      }
    }
  }

  private clauses(list: GoogleSqlNode[] | undefined, scope: Scope): void {
    for (const c of list ?? []) this.expr(c, scope);
  }

  // ---- queries ---------------------------------------------------------------------------

  private query(node: GoogleSqlNode, outer: Scope, hoisted?: GoogleSqlNode): void {
    const n = node as any;
    if (node.type === 'paren_expr') return this.query(n.expr, outer, hoisted);
    if (node.type === 'compound_select_stmt') {
      // The WITH the parser attaches to the first branch covers the whole set operation.
      const first = leftmostSelect(node);
      const withClause = first?.clauses.find((c: GoogleSqlNode) => c.type === 'with_clause');
      const scope = child(outer);
      if (withClause && withClause !== hoisted) this.withClause(withClause, scope);
      this.query(n.left, scope, withClause ?? hoisted);
      this.query(n.right, scope, withClause ?? hoisted);
      return;
    }
    if (node.type !== 'select_stmt') return this.expr(node, outer);
    const scope = child(outer);
    const clauses = n.clauses as GoogleSqlNode[];
    for (const c of clauses) if (c.type === 'with_clause' && c !== hoisted) this.withClause(c, scope);
    const placeholder = clauses.find((c) => c.type === 'select_clause');
    const pipe = placeholder?.range ? this.pipes.get(placeholder.range[0]) : undefined;
    if (pipe) return this.pipeQuery(pipe, scope);
    // A subquery in FROM sees the enclosing queries' range variables, not its siblings':
    // resolving `x.y` there as a table (not an array of sibling x) errs on the safe side.
    const enclosing = child(scope);
    for (const c of clauses) if (c.type === 'from_clause') this.from((c as any).expr, scope, undefined, true, enclosing);
    for (const c of clauses) {
      if (c.type === 'with_clause' || c.type === 'from_clause') continue;
      if (c.type === 'paren_expr' || c.type === 'select_stmt' || c.type === 'compound_select_stmt') this.query(c, scope);
      else this.expr(c, scope);
    }
  }

  // ---- pipe syntax -----------------------------------------------------------------------

  /**
   * A pipe query, part by part: each part is parsed on its own as an equivalent standard
   * query over `__hoopq_pipe_input` (a name no caller may use, in scope as a CTE), with every
   * range shifted back into the source, and walked in one scope that carries the range
   * variables from part to part as BigQuery does (dropped after SELECT, AGGREGATE, AS, set
   * operations, CALL, PIVOT and UNPIVOT).
   */
  private pipeQuery(pipe: PipeQuery, outer: Scope): void {
    // a SELECT head starts where the placeholder did: it must not be taken for the pipe again
    this.pipes.delete(pipe.start);
    const scope = child(outer);
    scope.ctes.add(PIPE_INPUT);
    if (pipe.head.fromFirst) {
      this.pipePart(pipe.head.start, pipe.head.end, 'SELECT * ', scope);
    } else {
      this.query(this.onlyStatement(this.fragment(pipe.head.start, pipe.head.end, '')), scope);
      scope.aliases.clear();
    }
    for (const op of pipe.operators) this.pipeOperator(op.start, op.end, scope);
  }

  private pipeOperator(start: number, end: number, scope: Scope): void {
    const tokens = scanGoogleSql(this.source.slice(start, end)).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
    const first = tokens[0]?.kind === 'word' ? tokens[0].text.toUpperCase() : '';
    const blankOut = (drop: GoogleSqlToken[]) => drop.map((t) => [start + t.start, start + t.end] as [number, number]);
    switch (first) {
      case 'WHERE':
      case 'ORDER':
      case 'LIMIT':
      case 'JOIN':
      case 'INNER':
      case 'LEFT':
      case 'RIGHT':
      case 'FULL':
      case 'CROSS':
      case 'TABLESAMPLE':
        return this.pipePart(start, end, `SELECT * FROM ${PIPE_INPUT} `, scope);
      case 'PIVOT':
      case 'UNPIVOT':
        this.pipePart(start, end, `SELECT * FROM ${PIPE_INPUT} `, scope);
        return scope.aliases.clear();
      case 'WINDOW':
        return this.pipePart(start, end, `SELECT 1 FROM ${PIPE_INPUT} `, scope);
      case 'SELECT':
      case 'EXTEND':
      case 'AGGREGATE':
      case 'SET': {
        // the list stays as written; the keyword becomes SELECT (AGGREGATE's ordering words are blanked)
        const drops = [tokens[0]!];
        if (first === 'AGGREGATE') {
          for (const [k, t] of tokens.entries()) {
            const w = t.kind === 'word' ? t.text.toUpperCase() : '';
            if (['ASC', 'DESC'].includes(w) || (w === 'AND' && tokens[k + 1]?.text.toUpperCase() === 'ORDER' && tokens[k - 1]?.text.toUpperCase() === 'GROUP')) drops.push(t);
            if (w === 'ORDER' && tokens[k - 1]?.text.toUpperCase() === 'AND') drops.push(t);
            if (w === 'NULLS' && ['FIRST', 'LAST'].includes(tokens[k + 1]?.text.toUpperCase() ?? '')) drops.push(t, tokens[k + 1]!);
          }
        }
        this.pipePart(start, end, first === 'SELECT' ? '' : 'SELECT ', scope, first === 'SELECT' ? [] : blankOut(drops));
        if (first === 'SELECT' || first === 'AGGREGATE') scope.aliases.clear();
        return;
      }
      case 'DROP':
      case 'RENAME':
      case 'DISTINCT':
        if (tokens.slice(1).some((t) => !(t.kind === 'word' || t.kind === 'quoted' || t.text === ','))) throw unsupported(`pipe ${first} with anything but column names`);
        return;
      case 'AS': {
        const alias = tokens[1];
        if (!alias || tokens.length !== 2 || (alias.kind !== 'word' && alias.kind !== 'quoted')) throw unsupported('pipe AS without one alias');
        scope.aliases.clear();
        scope.aliases.add(alias.text.replace(/`/g, '').toLowerCase());
        return;
      }
      case 'CALL':
        this.pipePart(start, end, 'SELECT * FROM ', scope, blankOut([tokens[0]!]));
        return scope.aliases.clear();
      case 'UNION':
      case 'INTERSECT':
      case 'EXCEPT': {
        // the set operation's own words, then parenthesised queries separated by commas
        let k = 1;
        while (tokens[k] && tokens[k]!.text !== '(') k++;
        let depth = 0;
        let partStart = k;
        for (let j = k; j <= tokens.length; j++) {
          const t = tokens[j];
          if (t?.text === '(') depth++;
          else if (t?.text === ')') depth--;
          if (t === undefined || (t.text === ',' && depth === 0)) {
            if (j > partStart) this.pipePart(start + tokens[partStart]!.start, start + tokens[j - 1]!.end, 'SELECT * FROM ', scope);
            partStart = j + 1;
          }
        }
        return scope.aliases.clear();
      }
      default:
        throw unsupported(`the pipe operator ${first || '(none)'}`);
    }
  }

  /** One part as `prefix + source[start, end)`: its FROM items join the scope, its other clauses are walked in it. */
  private pipePart(start: number, end: number, prefix: string, scope: Scope, blanks: Array<[number, number]> = []): void {
    const stmt = this.onlyStatement(this.fragment(start, end, prefix, blanks));
    if (stmt.type !== 'select_stmt') throw unsupported('a pipe operator that is not one query step');
    const clauses = (stmt as any).clauses as GoogleSqlNode[];
    for (const c of clauses) if (c.type === 'with_clause') throw unsupported('WITH inside a pipe operator');
    for (const c of clauses) if (c.type === 'from_clause') this.from((c as any).expr, scope, undefined, true, child(scope));
    for (const c of clauses) if (c.type !== 'from_clause') this.expr(c, scope);
  }

  /**
   * Parses `prefix + source[start, end)` (with `blanks`, source ranges, replaced by spaces)
   * and shifts every range back into the source; its normaliser's findings join this
   * collector's (changed spans, MODEL keywords, nested pipe queries).
   */
  private fragment(start: number, end: number, prefix: string, blanks: Array<[number, number]> = []): GoogleSqlNode {
    const body = this.source.slice(start, end).split('');
    for (const [a, b] of blanks) for (let k = a; k < b; k++) body[k - start] = ' ';
    const parsed = parseGoogleSql(prefix + body.join(''));
    const shift = start - prefix.length;
    shiftRanges(parsed.program as unknown as GoogleSqlNode, shift);
    const inSource = ([a, b]: [number, number]): [number, number] => [a + shift, b + shift];
    this.changed.push(...parsed.normalized.changed.map(inSource), ...blanks);
    for (const m of parsed.normalized.modelKeywords) this.modelKeywords.add(m + shift);
    for (const c of parsed.normalized.connectionArguments) this.connectionArguments.add(c + shift);
    for (const c of parsed.normalized.defaultConnections) this.defaultConnections.add(c + shift);
    for (const t of parsed.normalized.tempLoadTargets) this.tempLoadTargets.add(t + shift);
    for (const u of parsed.normalized.undropKeywords) this.undropKeywords.add(u + shift);
    for (const q of parsed.normalized.pipes) {
      this.pipes.set(q.start + shift, {
        start: q.start + shift,
        end: q.end + shift,
        head: { ...q.head, start: q.head.start + shift, end: q.head.end + shift },
        operators: q.operators.map((o) => ({ start: o.start + shift, end: o.end + shift })),
      });
    }
    return parsed.program as unknown as GoogleSqlNode;
  }

  private onlyStatement(program: GoogleSqlNode): GoogleSqlNode {
    const statements = ((program as any).statements as GoogleSqlNode[]).filter((s) => s.type !== 'empty');
    if (statements.length !== 1) throw unsupported('a pipe query part that is not one statement');
    return statements[0]!;
  }

  private withClause(node: GoogleSqlNode, scope: Scope): void {
    const n = node as any;
    const ctes = n.tables.items as any[];
    if (n.recursiveKw) for (const c of ctes) scope.ctes.add(cteName(c));
    for (const c of ctes) {
      if (c.type !== 'common_table_expr') throw unsupported(c.type);
      if (c.columns) this.expr(c.columns, scope);
      this.query(c.expr, child(scope));
      scope.ctes.add(cteName(c));
    }
  }

  /** A FROM item. Registers the range variables it introduces in `scope`. */
  private from(node: GoogleSqlNode, scope: Scope, alias?: GoogleSqlNode, maskable = true, enclosing?: Scope): void {
    const n = node as any;
    switch (node.type) {
      case 'identifier':
      case 'member_expr':
      case 'bigquery_quoted_member_expr':
        return this.relation(node, scope, alias, maskable);
      case 'alias':
        this.from(n.expr, scope, node, maskable, enclosing);
        scope.aliases.add(String(namePartsOf(n.alias).join('.')).toLowerCase());
        return;
      case 'join_expr':
        this.from(n.left, scope, undefined, true, enclosing);
        this.from(n.right, scope, undefined, true, enclosing);
        if (n.specification) this.expr(n.specification, scope);
        return;
      case 'paren_expr':
        if (isQuery(n.expr)) return this.query(n.expr, enclosing ?? scope);
        return this.from(n.expr, scope, undefined, true, enclosing);
      case 'select_stmt':
      case 'compound_select_stmt':
        return this.query(node, enclosing ?? scope);
      case 'unnest_expr':
        return this.expr(n.expr, scope);
      case 'unnest_with_offset_expr':
        this.from(n.unnest, scope);
        return;
      case 'func_call':
        return this.funcCall(node, scope, true);
      case 'tablesample_expr':
      case 'for_system_time_as_of_expr': {
        // the mask subquery keeps the sampling or time travel with the table:
        // (SELECT … FROM `t` FOR SYSTEM_TIME AS OF x) AS t — both apply to tables only
        const before = this.current?.references.length ?? 0;
        const plain = ['identifier', 'member_expr', 'bigquery_quoted_member_expr', 'alias'].includes(n.left.type) && (n.left.type !== 'alias' || isPlainName(n.left.expr));
        this.from(n.left, scope, alias, plain);
        const ref = plain ? this.current?.references[before] : undefined;
        if (ref?.relation) ref.relation = { ...ref.relation, range: node.range!, suffix: [ref.relation.range[1], node.range![1]] };
        // marked on whatever the clause applies to, plain name or not (mask planning checks it)
        const travelled = this.current?.references[before];
        if (node.type === 'for_system_time_as_of_expr' && travelled) travelled.timeTravel = true;
        return this.expr(node.type === 'tablesample_expr' ? n.args : n.expr, scope);
      }
      case 'pivot_expr':
      case 'unpivot_expr':
        // PIVOT applies to a subquery as well: the masked table itself is replaced
        this.from(n.left, scope, alias, true);
        return this.expr(n.args, scope);
      default:
        throw unsupported(`${node.type} in FROM`);
    }
  }

  /** `maskable`: the reference (with its alias, if any) is a whole FROM item the masking rewrite may replace. */
  private relation(node: GoogleSqlNode, scope: Scope, alias: GoogleSqlNode | undefined, maskable = true): void {
    const parts = namePartsOf(node);
    const first = parts[0]!.toLowerCase();
    if (parts.length === 1 && scope.ctes.has(first)) {
      if (!alias) scope.aliases.add(first);
      return;
    }
    if (parts.length > 1 && scope.aliases.has(first)) return; // `FROM t, t.items`: an array of t
    if (parts.length === 1 && this.temps.has(parts[0]!)) {
      if (!alias) scope.aliases.add(first);
      return;
    }
    // An explicit alias replaces the implicit one (the last part), as in BigQuery.
    if (!alias) scope.aliases.add(parts[parts.length - 1]!.toLowerCase());
    this.checkUnchanged(node);
    const aliasName = alias ? namePartsOf((alias as any).alias).join('.') : undefined;
    this.add({
      access: 'read',
      role: 'table',
      parts,
      range: node.range!,
      ...(maskable ? { relation: { range: (alias ?? node).range!, ...(aliasName ? { alias: aliasName } : {}) } } : {}),
    });
  }

  // ---- names -----------------------------------------------------------------------------

  /** A DML/DDL target; `alsoRead`: the statement observes the target's rows. */
  private target(node: GoogleSqlNode, access: 'read' | 'write', alsoRead: boolean, scope: Scope, aliased = false): void {
    const n = node as any;
    if (node.type === 'alias') {
      this.target(n.expr, access, alsoRead, scope, true);
      scope.aliases.add(namePartsOf(n.alias).join('.').toLowerCase());
      return;
    }
    const parts = namePartsOf(node);
    if (!aliased) scope.aliases.add(parts[parts.length - 1]!.toLowerCase());
    if (parts.length === 1 && this.temps.has(parts[0]!)) return;
    this.checkUnchanged(node);
    this.add({ access, role: 'table', parts, range: node.range! });
    if (alsoRead) this.add({ access: 'read', role: 'table', parts, range: node.range!, targetRead: true });
  }

  private targets(list: any, access: 'read' | 'write', alsoRead: boolean): void {
    const scope: Scope = { ctes: new Set(), aliases: new Set() };
    for (const t of list.items) this.target(t, access, alsoRead, scope);
  }

  /** A name that is always a warehouse object (LIKE/COPY source, routine, TABLE argument). */
  private named(node: GoogleSqlNode, access: 'read' | 'write', role: ReferenceRole, scope?: Scope): void {
    const parts = namePartsOf(node);
    if (role === 'table' && parts.length === 1 && (this.temps.has(parts[0]!) || scope?.ctes.has(parts[0]!.toLowerCase()))) return;
    this.checkUnchanged(node);
    this.add({ access, role, parts, range: node.range! });
  }

  private dataset(node: GoogleSqlNode, access: 'read' | 'write'): void {
    const parts = namePartsOf(node);
    if (parts.length > 2) throw unsupported('a dataset name with more than two parts');
    this.checkUnchanged(node);
    this.add({ access, role: 'dataset', parts: [...parts, '*'], range: node.range! });
  }

  private add(ref: TableReference): void {
    if (!this.current) throw new AnalysisError('analysis.internal', 'refused: a table reference outside any statement', { rule: 'analysis.statement' });
    this.current.references.push(ref);
  }

  /** A name inside a span the normaliser changed would be a different name: refuse. */
  private checkUnchanged(node: GoogleSqlNode): void {
    const [s, e] = node.range!;
    if (this.changed.some(([a, b]) => a < e && s < b)) throw unsupported('a name that collides with normalised syntax');
  }

  // ---- expressions -----------------------------------------------------------------------

  private expr(node: GoogleSqlNode | undefined, scope: Scope): void {
    if (!node) return;
    const n = node as any;
    if (node.range && this.connectionArguments.has(node.range[0]) && ['identifier', 'member_expr', 'bigquery_quoted_member_expr'].includes(node.type)) {
      // `f(CONNECTION c)`: the argument names a connection, not a column
      this.current?.external.push({ kind: 'connection', value: this.connectionName(node) });
      return;
    }
    switch (node.type) {
      case 'select_stmt':
      case 'compound_select_stmt':
        return this.query(node, scope);
      case 'func_call':
        return this.funcCall(node, scope, false);
      case 'table_clause': {
        const kw = n.tableKw?.range?.[0];
        const role: ReferenceRole = kw !== undefined && this.modelKeywords.has(kw) ? 'model' : 'table';
        const before = this.current?.references.length ?? 0;
        this.named(n.table, 'read', role, scope);
        // `TABLE t` as an argument may be replaced by a query in parentheses (the mask subquery)
        const ref = role === 'table' ? this.current?.references[before] : undefined;
        if (ref && ref.parts.length > 0) ref.relation = { range: node.range!, bare: true };
        return;
      }
      case 'references_specification':
        this.named(n.table, 'read', 'table', scope);
        return;
      case 'as_replica_of_clause':
        return this.named(n.view, 'read', 'table', scope);
      case 'program':
      case 'block_stmt':
        throw unsupported(`${node.type} inside an expression`);
      case 'with_connection_clause':
        if (this.current) this.current.external.push({ kind: 'connection', value: this.connectionName(n.connection) });
        return;
      case 'bigquery_options':
      case 'from_files_options':
        this.locationOptions(n.options);
        return this.children(node, scope);
      default:
        if (!INERT_GOOGLE_SQL_NODES.has(node.type)) throw unsupported(node.type);
        return this.children(node, scope);
    }
  }

  private children(node: GoogleSqlNode, scope: Scope): void {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'type' || k === 'range' || k === 'leading' || k === 'trailing') continue;
      if (Array.isArray(v)) for (const x of v) isNode(x) && this.expr(x, scope);
      else if (isNode(v)) this.expr(v, scope);
    }
  }

  private funcCall(node: GoogleSqlNode, scope: Scope, inFrom: boolean): void {
    const n = node as any;
    if (n.name.type === 'member_expr' && !isPlainName(n.name.object)) {
      // Chained call `(expr).UPPER()`: a built-in applied to an expression.
      if (n.name.property.type !== 'identifier') throw unsupported(`a chained call of ${n.name.property.type}`);
      this.expr(n.name.object, scope);
    } else {
      const parts = namePartsOf(n.name);
      const upper = parts.map((p) => p.toUpperCase());
      if (parts.length === 1 && upper[0] === 'EXTERNAL_QUERY') return this.externalQuery(node);
      const builtin = parts.length === 1 || BUILTIN_NAMESPACES.has(upper[0]!);
      if (!builtin) {
        if (inFrom) this.named(n.name, 'read', 'routine');
        else this.current?.routines.push(parts);
      }
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === 'type' || k === 'range' || k === 'name' || k === 'leading' || k === 'trailing') continue;
      if (Array.isArray(v)) for (const x of v) isNode(x) && this.expr(x, scope);
      else if (isNode(v)) this.expr(v, scope);
    }
  }

  private connectionName(node: GoogleSqlNode): string[] {
    return node.range && this.defaultConnections.has(node.range[0]) ? ['DEFAULT'] : namePartsOf(node);
  }

  /** `OPTIONS(uri = '…', uris = ['…'], …)`: every location named is recorded; a computed one is refused. */
  private locationOptions(options: any): void {
    const items = (options?.expr?.items ?? []) as any[];
    for (const item of items) {
      if (item.type !== 'binary_expr' || item.operator !== '=' || item.left?.type !== 'identifier') continue;
      const name = String(item.left.name).toLowerCase();
      const values = item.right.type === 'array_expr' || item.right.type === 'array_literal_expr' ? ((item.right.expr?.items ?? []) as any[]) : [item.right];
      for (const v of values) {
        const literal = v.type === 'string_literal' ? String(v.value) : undefined;
        if (literal !== undefined && (LOCATION_OPTIONS.has(name) || URI_TEXT.test(literal))) {
          this.current?.external.push({ kind: 'uri', value: literal });
        } else if (LOCATION_OPTIONS.has(name)) {
          throw new AnalysisError('analysis.dynamic_destination', `refused: the ${name} option must be a string literal (or an array of them) so that hoopq can check where the data goes`, {
            rule: 'destinations',
            hint: `write ${name} = 'gs://bucket/path/*' literally`,
          });
        }
      }
    }
  }

  private externalQuery(node: GoogleSqlNode): void {
    const args = ((node as any).args?.expr?.args?.items ?? []) as any[];
    const conn = args[0];
    if (!conn || conn.type !== 'string_literal' || args.slice(1).some((a) => a.type !== 'string_literal')) {
      throw new AnalysisError('analysis.external_query', 'refused: EXTERNAL_QUERY needs a literal connection id and a literal query', {
        rule: 'analysis.external_query',
        hint: 'write EXTERNAL_QUERY("project.region.connection", "SELECT …") with string literals',
      });
    }
    this.add({ access: 'read', role: 'external', parts: [String(conn.value)], connection: String(conn.value), range: node.range! });
  }
}

/** Names starting with hoopq's reserved prefix (its hash-key parameters, pipe placeholders) are hoopq's alone. */
function refuseReservedNames(source: string): void {
  for (const t of scanGoogleSql(source)) {
    if ((t.kind === 'word' || t.kind === 'quoted') && t.text.replace(/`/g, '').split('.').some(isReservedName)) throw reservedNameError(t.text);
  }
}

/** The input of a pipe operator, as the standard query a part is parsed as names it. */
const PIPE_INPUT = '__hoopq_pipe_input';

function shiftRanges(node: GoogleSqlNode, shift: number): void {
  if (node.range) node.range = [node.range[0] + shift, node.range[1] + shift];
  for (const [k, v] of Object.entries(node)) {
    if (k === 'range') continue;
    if (Array.isArray(v)) for (const x of v) isNode(x) && shiftRanges(x, shift);
    else if (isNode(v)) shiftRanges(v, shift);
  }
}

function child(s: Scope): Scope {
  return { ctes: new Set(s.ctes), aliases: new Set(s.aliases) };
}

function cteName(c: any): string {
  return namePartsOf(c.table).join('.').toLowerCase();
}

function leftmostSelect(node: any): any {
  let n = node;
  while (n && n.type === 'compound_select_stmt') n = n.left;
  return n?.type === 'select_stmt' ? n : undefined;
}

function isQuery(node: any): boolean {
  if (node.type === 'paren_expr') return isQuery(node.expr);
  return node.type === 'select_stmt' || node.type === 'compound_select_stmt';
}

function isPlainName(node: any): boolean {
  if (node.type === 'identifier') return true;
  if (node.type === 'bigquery_quoted_member_expr') return isPlainName(node.expr);
  return node.type === 'member_expr' && isPlainName(node.object) && isPlainName(node.property);
}

function isNode(v: unknown): v is GoogleSqlNode {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

function unsupported(what: string): AnalysisError {
  return new AnalysisError('analysis.unsupported_syntax', `refused: hoopq cannot analyse ${what.replace(/_/g, ' ')} in GoogleSQL with certainty`, {
    rule: 'analysis.syntax',
    hint: 'rewrite the query with plain SELECT/FROM/JOIN/WITH constructs; unsupported syntax is refused rather than guessed',
  });
}
