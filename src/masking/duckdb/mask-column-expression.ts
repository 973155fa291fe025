/**
 * The DuckDB expression that computes a masked column from the raw one (CONTRACT.md):
 * hash = hex SHA-256 of the value's text, redact = '[REDACTED]', null = NULL, partial = all
 * but the last four characters replaced by '*' (values of four characters or fewer fully
 * replaced). NULL stays NULL for every method: a missing value is not a secret, and
 * keeping it lets IS NULL predicates keep their meaning.
 * Built-ins are called by their full name (`system.main.sha256`) and no operator is used
 * (`-` and `||` are functions too): a macro a writer created under the same name on the
 * search path would otherwise be called instead (measured on DuckDB 1.5).
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
      return `system.main.sha256(${text})`;
    case 'redact':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE '[REDACTED]' END`;
    case 'null':
      return 'CAST(NULL AS VARCHAR)';
    case 'partial': {
      const len = `system.main.length(${text})`;
      const stars = `system.main.repeat('*', system.main.subtract(${len}, 4))`;
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN ${len} <= 4 THEN system.main.repeat('*', ${len}) ELSE system.main.concat(${stars}, system.main.right(${text}, 4)) END`;
    }
  }
}
