/**
 * The GoogleSQL expression that computes a masked column from the raw one (docs/reference.md "Mask methods"):
 * hash = hex SHA-256 of the value's text, redact = '[REDACTED]', null = NULL, partial = all
 * but the last four characters replaced by '*' (values of four characters or fewer fully
 * replaced). NULL stays NULL for every method, as in the DuckDB engine, so IS NULL keeps its
 * meaning and a missing value is not mistaken for a secret.
 */
import { AnalysisError } from '../../errors.js';
import type { MaskMethod } from '../../policy/policy.js';

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

export function googleSqlMaskExpression(column: string, method: MaskMethod): string {
  const c = quoteGoogleSqlIdentifier(column);
  const text = `CAST(${c} AS STRING)`;
  switch (method) {
    case 'hash':
      return `TO_HEX(SHA256(${text}))`;
    case 'redact':
      return `IF(${c} IS NULL, NULL, '[REDACTED]')`;
    case 'null':
      return 'CAST(NULL AS STRING)';
    case 'partial':
      return `IF(${c} IS NULL, NULL, IF(LENGTH(${text}) <= 4, REPEAT('*', LENGTH(${text})), CONCAT(REPEAT('*', LENGTH(${text}) - 4), SUBSTR(${text}, -4))))`;
  }
}
