/**
 * The DuckDB expression that computes a masked column from the raw one (CONTRACT.md):
 * hash = hex SHA-256 of the value's text, redact = '[REDACTED]', null = NULL, partial = all
 * but the last four characters replaced by '*' (values of four characters or fewer fully
 * replaced). NULL stays NULL for every method: a missing value is not a secret, and
 * keeping it lets IS NULL predicates keep their meaning.
 */
import type { MaskMethod } from '../../policy/policy.js';

export function quoteDuckDbIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function maskColumnExpression(column: string, method: MaskMethod): string {
  const c = quoteDuckDbIdentifier(column);
  const text = `CAST(${c} AS VARCHAR)`;
  switch (method) {
    case 'hash':
      return `sha256(${text})`;
    case 'redact':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE '[REDACTED]' END`;
    case 'null':
      return 'CAST(NULL AS VARCHAR)';
    case 'partial':
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN length(${text}) <= 4 THEN repeat('*', length(${text})) ELSE repeat('*', length(${text}) - 4) || right(${text}, 4) END`;
  }
}
