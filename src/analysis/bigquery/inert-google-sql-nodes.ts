/**
 * sql-parser-cst node types that can never name a table themselves: expressions, literals,
 * types, clause wrappers and options. The reference collector walks their children (so a
 * subquery or a TABLE argument inside is still found) and refuses every node type that is
 * neither here nor handled by one of its rules. Add a type here only after checking, in
 * sql-parser-cst's type definitions, that none of its fields is a table, routine or dataset
 * name.
 */
export const INERT_GOOGLE_SQL_NODES: ReadonlySet<string> = new Set([
  // base
  'keyword', 'empty', 'all_columns', 'alias', 'list_expr', 'paren_expr',
  // expressions
  'binary_expr', 'prefix_op_expr', 'postfix_op_expr', 'func_args', 'named_arg', 'over_arg', 'filter_arg', 'having_arg',
  'cast_expr', 'cast_arg', 'cast_format', 'cast_format_timezone', 'extract_expr', 'extract_from', 'week_expr', 'between_expr',
  'case_expr', 'case_when', 'case_else', 'member_expr', 'bigquery_quoted_member_expr', 'array_subscript',
  'array_subscript_specifier', 'identifier', 'variable', 'parameter', 'typed_expr', 'array_expr', 'struct_expr',
  'array_literal_expr', 'unnest_expr', 'quantifier_expr', 'string_with_charset', 'raise_expr', 'raise_expr_type',
  // literals
  'string_literal', 'number_literal', 'blob_literal', 'boolean_literal', 'null_literal', 'datetime_literal', 'time_literal',
  'date_literal', 'timestamp_literal', 'json_literal', 'numeric_literal', 'bignumeric_literal', 'interval_literal',
  'interval_unit', 'interval_unit_range',
  // data types
  'data_type_name', 'modified_data_type', 'parametric_data_type', 'array_data_type', 'array_type_param', 'struct_type_param',
  'generic_type_params', 'table_data_type', 'time_data_type', 'interval_data_type',
  // query clauses whose table-bearing parts are handled by the collector's query rules
  'select_clause', 'select_all', 'select_distinct', 'select_as_struct', 'select_as_value', 'except_columns', 'replace_columns',
  'where_clause', 'group_by_clause', 'group_by_rollup', 'group_by_cube', 'group_by_all', 'group_by_grouping_sets',
  'having_clause', 'qualify_clause', 'window_clause', 'named_window', 'window_definition', 'order_by_clause',
  'partition_by_clause', 'limit_clause', 'offset_clause', 'sort_specification', 'sort_direction_asc', 'sort_direction_desc',
  'join_on_specification', 'join_using_specification', 'tablesample_method', 'tablesample_percent', 'pivot_for_in',
  'unpivot_for_in', 'frame_clause', 'frame_between', 'frame_bound_current_row', 'frame_bound_preceding',
  'frame_bound_following', 'frame_unbounded', 'frame_exclusion',
  // DML pieces (targets are handled by the statement rules)
  'values_clause', 'default', 'set_clause', 'column_assignment', 'merge_when_clause', 'merge_action_update',
  'merge_action_insert', 'merge_action_insert_row_clause', 'merge_action_delete', 'merge_when_condition',
  'returning_clause',
  // DDL pieces
  'as_clause', 'bigquery_options', 'bigquery_option_default_collate', 'column_definition', 'relation_kind', 'cluster_by_clause',
  'create_table_partition_by_clause', 'partition_by_clause', 'constraint', 'constraint_name', 'constraint_not_null',
  'constraint_null', 'constraint_default', 'constraint_collate', 'constraint_primary_key', 'constraint_foreign_key',
  'constraint_modifier', 'constraint_check', 'function_param', 'returns_clause', 'return_clause', 'language_clause',
  'determinism_clause', 'from_files_options', 'with_partition_columns_clause', 'with_connection_clause',
  'row_access_policy_grant_clause', 'row_access_policy_filter_clause', 'verbose_all_columns',
  'alter_action_add_column', 'alter_action_drop_column', 'alter_action_rename_column', 'alter_action_alter_column',
  'alter_action_set_default', 'alter_action_drop_default', 'alter_action_drop_not_null', 'alter_action_set_data_type',
  'alter_action_set_bigquery_options', 'alter_action_set_default_collate', 'alter_action_add_constraint',
  'alter_action_drop_constraint', 'alter_action_add_constraint_constraint_name', 'index_specification', 'alter_action_drop_primary_key', 'alter_action_set_options',
  // scripting pieces
  'declare_init', 'raise_using_clause', 'raise_option_element', 'execute_using_clause', 'into_variables_clause',
  'error_bigquery', 'colon_label',
]);
