/**
 * Query parameters (`--parameter name:type:value`, as bq) in BigQuery's REST form:
 * `parameterMode` NAMED (every parameter named) or POSITIONAL (none named), and typed
 * `queryParameters`. Scalar types and ARRAY<scalar> (value a JSON array); a mix of named and
 * positional parameters, or a type BigQuery does not know, is a usage error (exit 2).
 */
import { UsageError } from '../../errors.js';
import type { QueryParameter } from '../warehouse.js';

const SCALAR_TYPES = new Set([
  'STRING', 'BYTES', 'INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'TIMESTAMP', 'DATE', 'TIME', 'DATETIME', 'GEOGRAPHY', 'JSON', 'INTERVAL',
]);
const ALIASES: Record<string, string> = { INTEGER: 'INT64', INT: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', DECIMAL: 'NUMERIC', BIGDECIMAL: 'BIGNUMERIC' };

export interface RestQueryParameters {
  parameterMode?: 'NAMED' | 'POSITIONAL';
  queryParameters?: unknown[];
}

export function toBigQueryParameters(params: QueryParameter[] | undefined): RestQueryParameters {
  if (!params || params.length === 0) return {};
  const named = params.filter((p) => p.name !== '').length;
  if (named !== 0 && named !== params.length) {
    throw new UsageError('usage.parameter_mode', 'query parameters must be all named or all positional, not a mix', {
      rule: 'parameters',
      hint: 'give every --parameter a name (name:type:value), or none (:type:value)',
    });
  }
  return {
    parameterMode: named > 0 ? 'NAMED' : 'POSITIONAL',
    queryParameters: params.map((p) => ({ ...(p.name !== '' ? { name: p.name } : {}), ...typedValue(p) })),
  };
}

function typedValue(p: QueryParameter): { parameterType: unknown; parameterValue: unknown } {
  const type = p.type.trim().toUpperCase();
  const array = /^ARRAY<\s*(\w+)\s*>$/.exec(type);
  if (array) {
    const element = scalar(array[1]!, p);
    if (p.value === null) return { parameterType: { type: 'ARRAY', arrayType: { type: element } }, parameterValue: { arrayValues: [] } };
    let values: unknown;
    try {
      values = JSON.parse(p.value);
    } catch {
      values = undefined;
    }
    if (!Array.isArray(values)) throw badParameter(p, 'an ARRAY value must be a JSON array, e.g. [1,2,3]');
    return {
      parameterType: { type: 'ARRAY', arrayType: { type: element } },
      parameterValue: { arrayValues: values.map((v) => ({ value: v === null ? null : String(v) })) },
    };
  }
  return { parameterType: { type: scalar(type, p) }, parameterValue: { value: p.value } };
}

function scalar(type: string, p: QueryParameter): string {
  const t = ALIASES[type] ?? type;
  if (!SCALAR_TYPES.has(t)) throw badParameter(p, `unknown type ${type}`);
  return t;
}

function badParameter(p: QueryParameter, why: string): UsageError {
  return new UsageError('usage.parameter', `--parameter ${p.name || '(positional)'}: ${why}`, {
    rule: 'parameters',
    hint: `types: ${[...SCALAR_TYPES].join(', ')}, or ARRAY<type> with a JSON array value`,
  });
}
