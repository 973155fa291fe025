/**
 * The GoogleSQL expressions that compute masked values from raw ones (docs/reference.md "Mask methods", policies.md):
 * hash = hex HMAC-SHA256 of the value's text under the deployment's hash key (hash-key.ts;
 * the padded keys arrive as the BYTES query parameters @__hoopq_hash_inner/_outer, names no
 * agent SQL may use), redact = '[REDACTED]', null = NULL, partial = all but the last four
 * characters replaced by '*' (values of four characters or fewer fully replaced). NULL stays
 * NULL for every method, so IS NULL keeps its meaning and a missing value is not mistaken for
 * a secret.
 *
 * Masks reach inside RECORD columns: a masked field of a STRUCT is replaced in a copy of the
 * struct (`(SELECT AS STRUCT s.* REPLACE (…))`), a field of an ARRAY<STRUCT> in every element
 * (`ARRAY(SELECT AS STRUCT e.* REPLACE (…) FROM UNNEST(a) AS e WITH OFFSET AS o ORDER BY o)`),
 * and a masked ARRAY of scalars element by element. A whole STRUCT masked is masked as its
 * JSON text.
 */
import { AnalysisError } from '../../errors.js';
import type { MaskMethod } from '../../policy/policy.js';
import type { ColumnInfo } from '../../warehouse/warehouse.js';

export const HASH_INNER_PARAMETER = '__hoopq_hash_inner';
export const HASH_OUTER_PARAMETER = '__hoopq_hash_outer';

/** Backtick-quote a column or alias; names with backticks, backslashes or control characters are refused. */
export function quoteGoogleSqlIdentifier(name: string): string {
  if (name === '' || /[`\\\u0000-\u001f]/.test(name)) {
    throw new AnalysisError('masking.unsafe_name', `refused: the name "${name}" cannot be quoted safely for a mask`, {
      rule: 'columns',
      hint: 'masked tables and their columns need plain names',
    });
  }
  return `\`${name}\``;
}

/** The mask of a scalar (or, as JSON text, a STRUCT) value `ref` (an expression). */
export function googleSqlMaskExpression(ref: string, method: MaskMethod, composite = false): string {
  const text = composite ? `TO_JSON_STRING(${ref})` : `CAST(${ref} AS STRING)`;
  switch (method) {
    case 'hash':
      return `TO_HEX(SHA256(CONCAT(@${HASH_OUTER_PARAMETER}, SHA256(CONCAT(@${HASH_INNER_PARAMETER}, CAST(${text} AS BYTES))))))`;
    case 'redact':
      return `IF(${ref} IS NULL, NULL, '[REDACTED]')`;
    case 'null':
      return 'CAST(NULL AS STRING)';
    case 'partial':
      return `IF(${ref} IS NULL, NULL, IF(LENGTH(${text}) <= 4, REPEAT('*', LENGTH(${text})), CONCAT(REPEAT('*', LENGTH(${text}) - 4), SUBSTR(${text}, -4))))`;
  }
}

/**
 * The `REPLACE (…)` items for one table: `<mask> AS \`column\``, for every column with a mask
 * on itself or on fields inside it. `masks`: column path (dotted, catalog spelling) -> method.
 * `columns`: the table's schema, for the shape of nested columns.
 */
export function googleSqlReplaceItems(masks: Record<string, MaskMethod>, columns: readonly ColumnInfo[]): string[] {
  const tree = maskTree(masks);
  const items: string[] = [];
  for (const [name, node] of tree) {
    const column = columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!column) throw refuse(`the masked column ${name} is not in the table's schema`);
    items.push(`${maskedValue(quoteGoogleSqlIdentifier(column.name), column, node, 1)} AS ${quoteGoogleSqlIdentifier(column.name)}`);
  }
  return items;
}

/** method for the node itself, or masks below it by field name */
type MaskNode = { method: MaskMethod } | Map<string, MaskNode>;

function maskTree(masks: Record<string, MaskMethod>): Map<string, MaskNode> {
  const root = new Map<string, MaskNode>();
  // shorter paths first: a whole-column mask placed first wins over its fields
  for (const [path, method] of Object.entries(masks).sort(([a], [b]) => a.split('.').length - b.split('.').length)) {
    let level = root;
    const parts = path.split('.');
    for (const [i, part] of parts.entries()) {
      const existing = level.get(part);
      if (existing && !(existing instanceof Map)) break; // already masked whole
      if (i === parts.length - 1) {
        level.set(part, { method });
        break;
      }
      const next = existing ?? new Map<string, MaskNode>();
      level.set(part, next);
      level = next;
    }
  }
  return root;
}

function maskedValue(ref: string, column: ColumnInfo, node: MaskNode, depth: number): string {
  const isStruct = column.fields !== undefined && column.fields.length > 0;
  if (column.repeated) {
    const e = `__hoopq_e${depth}`;
    const o = `__hoopq_o${depth}`;
    const element = { ...column, repeated: false };
    const body = node instanceof Map ? structCopy(e, element, node, depth + 1) : `SELECT ${googleSqlMaskExpression(e, node.method, isStruct)}`;
    return `ARRAY(${body} FROM UNNEST(${ref}) AS ${e} WITH OFFSET AS ${o} ORDER BY ${o})`;
  }
  if (!(node instanceof Map)) return googleSqlMaskExpression(ref, node.method, isStruct);
  return `IF(${ref} IS NULL, NULL, (${structCopy(ref, column, node, depth)}))`;
}

/**
 * `SELECT AS STRUCT ref.* REPLACE (…)`: a copy of the struct `ref` with its masked fields
 * replaced. A field path (`a.b`) is first bound to a name of its own
 * (`… FROM UNNEST([a.b]) AS __hoopq_sN`), since `.*` applies to a name, not to a path.
 */
function structCopy(ref: string, column: ColumnInfo, node: Map<string, MaskNode>, depth: number): string {
  if (!column.fields || column.fields.length === 0) throw refuse(`${ref} is not a STRUCT, so no field inside it can be masked`);
  const plain = /^(`[^`]+`|__hoopq_\w+)$/.test(ref);
  const name = plain ? ref : `__hoopq_s${depth}`;
  const items: string[] = [];
  for (const [fieldName, child] of node) {
    const field = column.fields.find((f) => f.name.toLowerCase() === fieldName.toLowerCase());
    if (!field) throw refuse(`the masked field ${fieldName} is not in the schema of ${ref}`);
    items.push(`${maskedValue(`${name}.${quoteGoogleSqlIdentifier(field.name)}`, field, child, depth + 1)} AS ${quoteGoogleSqlIdentifier(field.name)}`);
  }
  return `SELECT AS STRUCT ${name}.* REPLACE (${items.join(', ')})${plain ? '' : ` FROM UNNEST([${ref}]) AS ${name}`}`;
}

function refuse(what: string): AnalysisError {
  return new AnalysisError('masking.unsupported', `refused: ${what}`, { rule: 'columns', hint: 'check the column paths of the policy against the table schema' });
}
