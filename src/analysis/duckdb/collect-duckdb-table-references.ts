/**
 * Walk DuckDB's parse tree of one SELECT (json_serialize_sql) and collect every reference
 * to a table or view, with CTE scoping as DuckDB binds it (measured):
 * - a CTE is visible in the main query, in the CTEs defined after it, and in every nested
 *   subquery, unless shadowed by a nearer CTE of the same name;
 * - a CTE's own body does not see itself (`WITH t AS (SELECT * FROM t)` reads table t),
 *   nor CTEs defined after it; a recursive CTE sees itself in its recursive part only;
 * - names compare case-insensitively; only unqualified names can mean a CTE.
 * Fails closed: an unknown node type or a field that could hold a query where none is
 * expected is refused; table functions and denied scalar functions are refused here.
 */
import { AnalysisError } from '../../errors.js';
import { checkDuckDbScalarFunction, checkDuckDbTableFunction } from './check-duckdb-function.js';
import type { DuckDbSelectTree } from './serialize-duckdb-select.js';

type Json = Record<string, unknown>;

export interface DuckDbTableReference {
  /** Non-empty name parts as written, quotes removed: [catalog?, schema?, table]. */
  parts: string[];
  /** Byte offset of the reference in the serialized text (DuckDB's query_location). */
  location: number;
  alias: string;
  columnAliases: string[];
  /** Inside DESCRIBE/SUMMARIZE/SHOW. */
  inShowRef: boolean;
  hasAtClause: boolean;
  /** The BASE_TABLE node itself. */
  node: Json;
}

export interface DuckDbSelectFindings {
  tables: DuckDbTableReference[];
  /** Lower-cased names of every function called (scalar, aggregate, window, table). */
  functions: Set<string>;
  /** SUBQUERY table refs the caller declared opaque (see options). */
  opaqueSubqueries: Json[];
}

export interface CollectOptions {
  /** SUBQUERY table refs for which this returns true are recorded, not descended into. */
  isOpaqueSubquery?: (ref: Json) => boolean;
}

const QUERY_NODE_TYPES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE', 'CTE_NODE', 'STATEMENT_NODE']);
const TABLE_REF_TYPES = new Set(['BASE_TABLE', 'JOIN', 'SUBQUERY', 'TABLE_FUNCTION', 'EXPRESSION_LIST', 'EMPTY', 'PIVOT', 'SHOW_REF', 'COLUMN_DATA', 'DELIM_GET', 'CROSS_PRODUCT', 'BOUND_TABLE_REF']);
const EXPRESSION_CLASSES = new Set([
  'BETWEEN', 'CASE', 'CAST', 'COLLATE', 'COLUMN_REF', 'COMPARISON', 'CONJUNCTION', 'CONSTANT', 'DEFAULT',
  'FUNCTION', 'LAMBDA', 'LAMBDA_REF', 'OPERATOR', 'PARAMETER', 'POSITIONAL_REFERENCE', 'STAR', 'SUBQUERY', 'WINDOW',
]);

/** Fields every query node / table ref may carry that hold no query or table. */
const INERT_FIELDS = new Set(['type', 'alias', 'query_location', 'column_name_alias', 'external_dependency']);

type Scope = ReadonlyArray<ReadonlySet<string>>;

export function collectDuckDbTableReferences(tree: DuckDbSelectTree, options: CollectOptions = {}): DuckDbSelectFindings {
  const findings: DuckDbSelectFindings = { tables: [], functions: new Set(), opaqueSubqueries: [] };
  const isCte = (scope: Scope, name: string) => scope.some((frame) => frame.has(name.toLowerCase()));

  function statement(s: unknown, scope: Scope, inShow: boolean): void {
    const obj = asObject(s, 'statement');
    for (const key of Object.keys(obj)) {
      if (key !== 'node' && key !== 'named_param_map') unknownField('statement', key);
    }
    queryNode(obj.node, scope, inShow);
  }

  function queryNode(n: unknown, outer: Scope, inShow: boolean): void {
    const node = asObject(n, 'query node');
    const type = String(node.type);
    if (!QUERY_NODE_TYPES.has(type) || type === 'CTE_NODE' || type === 'STATEMENT_NODE') unknownNode('query node', type);
    // CTEs: each body sees the outer scope and the CTEs before it.
    let scope: Scope = outer;
    const cteMap = node.cte_map === undefined ? [] : (asObject(node.cte_map, 'cte_map').map as unknown[] | undefined) ?? [];
    for (const entry of cteMap) {
      const e = asObject(entry, 'cte');
      const name = String(e.key).toLowerCase();
      const value = asObject(e.value, 'cte');
      for (const key of Object.keys(value)) {
        if (!['aliases', 'query', 'materialized', 'key_targets'].includes(key)) unknownField('cte', key);
      }
      expressions(value.key_targets, scope, inShow);
      statement(value.query, scope, inShow);
      scope = [...scope, new Set([name])];
    }
    const handled = new Set(['cte_map', 'modifiers']);
    expressions(node.modifiers, scope, inShow);
    if (type === 'SELECT_NODE') {
      for (const key of ['select_list', 'where_clause', 'group_expressions', 'having', 'qualify', 'sample']) {
        expressions(node[key], scope, inShow);
        handled.add(key);
      }
      tableRef(node.from_table, scope, inShow);
      handled.add('from_table');
      handled.add('group_sets');
      handled.add('aggregate_handling');
    } else if (type === 'SET_OPERATION_NODE') {
      const children = Array.isArray(node.children) ? node.children : [node.left, node.right].filter((c) => c != null);
      for (const child of children) queryNode(child, scope, inShow);
      for (const key of ['left', 'right', 'children', 'setop_type', 'setop_all']) handled.add(key);
    } else {
      // RECURSIVE_CTE_NODE: the anchor does not see the CTE itself, the recursive part does.
      if (typeof node.cte_name !== 'string' || node.cte_name === '') refuseShape('a recursive CTE without a name');
      queryNode(node.left, scope, inShow);
      queryNode(node.right, [...scope, new Set([node.cte_name.toLowerCase()])], inShow);
      expressions(node.key_targets, scope, inShow);
      for (const key of ['left', 'right', 'cte_name', 'union_all', 'aliases', 'key_targets']) handled.add(key);
    }
    checkRemaining(node, handled, 'query node');
  }

  function tableRef(r: unknown, scope: Scope, inShow: boolean): void {
    const ref = asObject(r, 'table reference');
    const type = String(ref.type);
    const handled = new Set(['sample']);
    expressions(ref.sample, scope, inShow);
    switch (type) {
      case 'BASE_TABLE': {
        const parts = [ref.catalog_name, ref.schema_name, ref.table_name].map((p) => (typeof p === 'string' ? p : ''));
        if (parts[0] && !parts[1]) refuseShape('a table name with a catalog but no schema');
        const written = parts.filter((p) => p !== '');
        expressions(ref.at_clause, scope, inShow);
        if (!(written.length === 1 && isCte(scope, written[0]!))) {
          findings.tables.push({
            parts: written,
            location: Number(ref.query_location),
            alias: typeof ref.alias === 'string' ? ref.alias : '',
            columnAliases: Array.isArray(ref.column_name_alias) ? (ref.column_name_alias as string[]) : [],
            inShowRef: inShow,
            hasAtClause: ref.at_clause != null,
            node: ref,
          });
        }
        for (const key of ['catalog_name', 'schema_name', 'table_name', 'at_clause']) handled.add(key);
        break;
      }
      case 'JOIN':
        tableRef(ref.left, scope, inShow);
        tableRef(ref.right, scope, inShow);
        expressions(ref.condition, scope, inShow);
        expressions(ref.duplicate_eliminated_columns, scope, inShow);
        for (const key of ['left', 'right', 'condition', 'join_type', 'ref_type', 'using_columns', 'delim_flipped', 'duplicate_eliminated_columns']) handled.add(key);
        break;
      case 'SUBQUERY':
        if (options.isOpaqueSubquery?.(ref)) findings.opaqueSubqueries.push(ref);
        else statement(ref.subquery, scope, inShow);
        handled.add('subquery');
        break;
      case 'TABLE_FUNCTION': {
        const fn = asObject(ref.function, 'table function');
        if (fn.class !== 'FUNCTION') refuseShape('a table function that is not a plain function call');
        const name = String(fn.function_name);
        checkDuckDbTableFunction(name, Boolean(fn.schema) || Boolean(fn.catalog));
        findings.functions.add(name.toLowerCase());
        expressions(fn.children, scope, inShow);
        expressions(fn.filter, scope, inShow);
        expressions(fn.order_bys, scope, inShow);
        for (const key of ['function', 'with_ordinality']) handled.add(key);
        break;
      }
      case 'EXPRESSION_LIST':
        expressions(ref.values, scope, inShow);
        for (const key of ['values', 'expected_names', 'expected_types']) handled.add(key);
        break;
      case 'EMPTY':
        break;
      case 'PIVOT':
        tableRef(ref.source, scope, inShow);
        expressions(ref.aggregates, scope, inShow);
        expressions(ref.pivots, scope, inShow);
        expressions(ref.groups, scope, inShow);
        for (const key of ['source', 'aggregates', 'unpivot_names', 'pivots', 'groups', 'include_nulls']) handled.add(key);
        break;
      case 'SHOW_REF':
        // SHOW TABLES / SHOW DATABASES list the whole catalog: not a table the policy names.
        if (ref.table_name) {
          throw new AnalysisError('analysis.catalog_listing', 'refused: SHOW of catalog listings is not allowed', {
            rule: 'functions',
            hint: 'use `hoopq` list_tables / describe_table, or DESCRIBE a table your policy allows',
          });
        }
        queryNode(ref.query, scope, true);
        for (const key of ['table_name', 'query', 'show_type', 'catalog_name', 'schema_name']) handled.add(key);
        break;
      default:
        unknownNode('table reference', type);
    }
    checkRemaining(ref, handled, `${type} table reference`);
  }

  /** Anything that is not a query node or table ref: walked generically, fail closed. */
  function expressions(v: unknown, scope: Scope, inShow: boolean): void {
    if (v === null || v === undefined || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const item of v) expressions(item, scope, inShow);
      return;
    }
    const obj = v as Json;
    if (typeof obj.class === 'string') {
      const cls = obj.class;
      if (!EXPRESSION_CLASSES.has(cls)) unknownNode('expression', cls);
      if (cls === 'SUBQUERY') {
        statement(obj.subquery, scope, inShow);
        expressions(obj.child, scope, inShow);
        return;
      }
      if ((cls === 'FUNCTION' || cls === 'WINDOW') && typeof obj.function_name === 'string') {
        checkDuckDbScalarFunction(obj.function_name, {
          schema: typeof obj.schema === 'string' ? obj.schema : undefined,
          catalog: typeof obj.catalog === 'string' ? obj.catalog : undefined,
        });
        findings.functions.add(obj.function_name.toLowerCase());
      }
    } else if ((typeof obj.type === 'string' && (QUERY_NODE_TYPES.has(obj.type) || TABLE_REF_TYPES.has(obj.type))) || 'node' in obj) {
      refuseShape(`a ${String(obj.type ?? 'statement')} node where an expression was expected`);
    }
    for (const value of Object.values(obj)) expressions(value, scope, inShow);
  }

  statement(tree, [], false);
  return findings;
}

function asObject(v: unknown, what: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) refuseShape(`a malformed ${what}`);
  return v as Json;
}

/** Any field not handled that holds an object could hide a query: refuse. */
function checkRemaining(obj: Json, handled: Set<string>, what: string): void {
  for (const [key, value] of Object.entries(obj)) {
    if (handled.has(key) || INERT_FIELDS.has(key)) continue;
    if (value !== null && typeof value === 'object' && !(Array.isArray(value) && value.length === 0)) unknownField(what, key);
  }
}

function unknownNode(what: string, type: string): never {
  refuseShape(`an unrecognised ${what} (${type})`);
}

function unknownField(what: string, key: string): never {
  refuseShape(`an unrecognised field "${key}" in a ${what}`);
}

function refuseShape(why: string): never {
  throw new AnalysisError('analysis.unsupported_shape', `refused: hoopq cannot analyse this query with certainty (${why})`, {
    rule: 'analysis',
    hint: 'rewrite the query with plain SELECT, JOIN, subqueries and CTEs',
  });
}
