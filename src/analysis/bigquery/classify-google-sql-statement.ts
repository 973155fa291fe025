/**
 * A parsed GoogleSQL statement -> its contract kind and native type. Native types follow
 * BigQuery's own `statementType` names where one exists (SELECT, CREATE_TABLE_AS_SELECT,
 * DROP_VIEW …) so they can be compared with a dry run; scripting statements use their
 * keyword (DECLARE, SET, BLOCK, IF, LOOP …). A statement type not listed here is refused.
 */
import { AnalysisError } from '../../errors.js';
import type { StatementKind } from '../query-analysis.js';

export interface StatementClass {
  kind: StatementKind;
  nativeType: string;
}

interface Node {
  type: string;
  range?: [number, number];
  [key: string]: unknown;
}

const FIXED: Record<string, StatementClass> = {
  select_stmt: { kind: 'select', nativeType: 'SELECT' },
  compound_select_stmt: { kind: 'select', nativeType: 'SELECT' },
  insert_stmt: { kind: 'insert', nativeType: 'INSERT' },
  update_stmt: { kind: 'update', nativeType: 'UPDATE' },
  delete_stmt: { kind: 'delete', nativeType: 'DELETE' },
  merge_stmt: { kind: 'merge', nativeType: 'MERGE' },
  truncate_stmt: { kind: 'truncate', nativeType: 'TRUNCATE_TABLE' },
  create_procedure_stmt: { kind: 'define', nativeType: 'CREATE_PROCEDURE' },
  create_schema_stmt: { kind: 'define', nativeType: 'CREATE_SCHEMA' },
  create_row_access_policy_stmt: { kind: 'create', nativeType: 'CREATE_ROW_ACCESS_POLICY' },
  create_index_stmt: { kind: 'create', nativeType: 'CREATE_SEARCH_INDEX' },
  drop_function_stmt: { kind: 'define', nativeType: 'DROP_FUNCTION' },
  drop_procedure_stmt: { kind: 'define', nativeType: 'DROP_PROCEDURE' },
  drop_schema_stmt: { kind: 'define', nativeType: 'DROP_SCHEMA' },
  drop_row_access_policy_stmt: { kind: 'drop', nativeType: 'DROP_ROW_ACCESS_POLICY' },
  drop_index_stmt: { kind: 'drop', nativeType: 'DROP_SEARCH_INDEX' },
  alter_table_stmt: { kind: 'alter', nativeType: 'ALTER_TABLE' },
  alter_schema_stmt: { kind: 'define', nativeType: 'ALTER_SCHEMA' },
  export_data_stmt: { kind: 'export', nativeType: 'EXPORT_DATA' },
  load_data_stmt: { kind: 'load', nativeType: 'LOAD_DATA' },
  call_stmt: { kind: 'call', nativeType: 'CALL' },
  grant_privilege_stmt: { kind: 'grant', nativeType: 'GRANT' },
  revoke_privilege_stmt: { kind: 'grant', nativeType: 'REVOKE' },
  declare_stmt: { kind: 'script', nativeType: 'DECLARE' },
  set_stmt: { kind: 'script', nativeType: 'SET' },
  block_stmt: { kind: 'script', nativeType: 'BLOCK' },
  if_stmt: { kind: 'script', nativeType: 'IF' },
  loop_stmt: { kind: 'script', nativeType: 'LOOP' },
  while_stmt: { kind: 'script', nativeType: 'WHILE' },
  repeat_stmt: { kind: 'script', nativeType: 'REPEAT' },
  for_stmt: { kind: 'script', nativeType: 'FOR' },
  break_stmt: { kind: 'script', nativeType: 'BREAK' },
  continue_stmt: { kind: 'script', nativeType: 'CONTINUE' },
  return_stmt: { kind: 'script', nativeType: 'RETURN' },
  raise_stmt: { kind: 'script', nativeType: 'RAISE' },
  assert_stmt: { kind: 'script', nativeType: 'ASSERT' },
  execute_immediate_stmt: { kind: 'script', nativeType: 'EXECUTE_IMMEDIATE' },
  start_transaction_stmt: { kind: 'script', nativeType: 'BEGIN_TRANSACTION' },
  commit_transaction_stmt: { kind: 'script', nativeType: 'COMMIT_TRANSACTION' },
  rollback_transaction_stmt: { kind: 'script', nativeType: 'ROLLBACK_TRANSACTION' },
  // Administration of reservations, capacity and organisation settings: no tables involved,
  // and no policy should allow them by accident, so they are `other`.
  create_capacity_stmt: { kind: 'other', nativeType: 'CREATE_CAPACITY' },
  drop_capacity_stmt: { kind: 'other', nativeType: 'DROP_CAPACITY' },
  create_reservation_stmt: { kind: 'other', nativeType: 'CREATE_RESERVATION' },
  drop_reservation_stmt: { kind: 'other', nativeType: 'DROP_RESERVATION' },
  create_assignment_stmt: { kind: 'other', nativeType: 'CREATE_ASSIGNMENT' },
  drop_assignment_stmt: { kind: 'other', nativeType: 'DROP_ASSIGNMENT' },
  alter_organization_stmt: { kind: 'other', nativeType: 'ALTER_ORGANIZATION' },
  alter_project_stmt: { kind: 'other', nativeType: 'ALTER_PROJECT' },
  alter_bi_capacity_stmt: { kind: 'other', nativeType: 'ALTER_BI_CAPACITY' },
  alter_capacity_stmt: { kind: 'other', nativeType: 'ALTER_CAPACITY' },
  alter_reservation_stmt: { kind: 'other', nativeType: 'ALTER_RESERVATION' },
};

/** `modelKeywords` / `undropKeywords`: offsets where the normaliser turned MODEL into TABLE, UNDROP into CREATE. */
export function classifyGoogleSqlStatement(node: Node, modelKeywords: ReadonlySet<number>, undropKeywords: ReadonlySet<number> = new Set()): StatementClass {
  if (node.type === 'create_schema_stmt' && node.range && undropKeywords.has(node.range[0])) return { kind: 'define', nativeType: 'UNDROP_SCHEMA' };
  const fixed = FIXED[node.type];
  if (fixed) return fixed;
  const kindWords = (field: string): string[] => {
    const v = node[field];
    const list = Array.isArray(v) ? v : v ? [v] : [];
    return list.map((k) => String((k as { kindKw?: { name?: string } }).kindKw?.name ?? '').toUpperCase());
  };
  const isModel = (kw: unknown) => {
    const r = (kw as Node | undefined)?.range;
    return r !== undefined && modelKeywords.has(r[0]);
  };
  switch (node.type) {
    case 'create_table_stmt': {
      if (isModel(node.tableKw)) return { kind: 'create', nativeType: 'CREATE_MODEL' };
      const kind = kindWords('kind')[0];
      if (kind === 'SNAPSHOT') return { kind: 'create', nativeType: 'CREATE_SNAPSHOT_TABLE' };
      if (kind === 'EXTERNAL') return { kind: 'create', nativeType: 'CREATE_EXTERNAL_TABLE' };
      const asSelect = (node.clauses as Node[]).some((c) => c.type === 'as_clause');
      return { kind: 'create', nativeType: asSelect ? 'CREATE_TABLE_AS_SELECT' : 'CREATE_TABLE' };
    }
    case 'create_view_stmt':
      return { kind: 'create', nativeType: kindWords('kinds').includes('MATERIALIZED') ? 'CREATE_MATERIALIZED_VIEW' : 'CREATE_VIEW' };
    case 'create_function_stmt':
      return { kind: 'define', nativeType: node.tableKw ? 'CREATE_TABLE_FUNCTION' : 'CREATE_FUNCTION' };
    case 'drop_table_stmt': {
      if (isModel(node.tableKw)) return { kind: 'drop', nativeType: 'DROP_MODEL' };
      const kind = kindWords('kind')[0];
      return { kind: 'drop', nativeType: kind === 'SNAPSHOT' ? 'DROP_SNAPSHOT_TABLE' : kind === 'EXTERNAL' ? 'DROP_EXTERNAL_TABLE' : 'DROP_TABLE' };
    }
    case 'drop_view_stmt':
      return { kind: 'drop', nativeType: kindWords('kind').includes('MATERIALIZED') ? 'DROP_MATERIALIZED_VIEW' : 'DROP_VIEW' };
    case 'alter_view_stmt':
      return { kind: 'alter', nativeType: kindWords('kind').includes('MATERIALIZED') ? 'ALTER_MATERIALIZED_VIEW' : 'ALTER_VIEW' };
    default:
      throw new AnalysisError('analysis.unsupported_statement', `refused: hoopq cannot analyse ${node.type.replace(/_stmt$/, '').replace(/_/g, ' ').toUpperCase()} statements in GoogleSQL`, {
        rule: 'analysis.statement',
        hint: 'use SELECT, DML, DDL on tables, views and routines, EXPORT DATA, LOAD DATA, CALL or scripting statements',
      });
  }
}
