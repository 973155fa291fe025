/**
 * The DuckDB expression that computes a masked column from the raw one (CONTRACT.md,
 * policies.md): hash = hex HMAC-SHA256 of the value's text under the deployment's hash key
 * (hash-key.ts: SHA-256 over the padded keys, which are spliced in as hex literals only here,
 * inside the mask subquery that the analysis recognises by its exact parse tree; the query
 * cannot name a literal of another subquery, and `current_query()` is refused), redact =
 * '[REDACTED]', null = NULL, partial = all
 * but the last four characters replaced by '*' (values of four characters or fewer fully
 * replaced). NULL stays NULL for every method: a missing value is not a secret, and
 * keeping it lets IS NULL predicates keep their meaning.
 * Built-ins are called by their full name (`system.main.sha256`) and no operator is used
 * (`-` and `||` are functions too): a macro a writer created under the same name on the
 * search path would otherwise be called instead (measured on DuckDB 1.5).
 */
import { AnalysisError } from '../../errors.js';
import type { MaskMethod } from '../../policy/policy.js';
import type { HashKey } from '../hash-key.js';

export function quoteDuckDbIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function maskColumnExpression(column: string, method: MaskMethod, key?: HashKey): string {
  const c = quoteDuckDbIdentifier(column);
  const text = `CAST(${c} AS VARCHAR)`;
  switch (method) {
    case 'hash': {
      if (!key) {
        throw new AnalysisError('masking.no_hash_key', 'refused: the hash mask needs the deployment\'s hash key, which this process does not hold', {
          rule: 'columns',
          hint: 'run the query through the gateway (or with the keys folder of the deployment)',
        });
      }
      // hex concatenation, then unhex: DuckDB's concat() of BLOBs yields text, not bytes
      const inner = `system.main.sha256(system.main.unhex(system.main.concat('${key.inner.toString('hex')}', system.main.hex(system.main.encode(${text})))))`;
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE system.main.sha256(system.main.unhex(system.main.concat('${key.outer.toString('hex')}', ${inner}))) END`;
    }
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
