/**
 * Query parameters (`--parameter name:type:value`, as bq) in BigQuery's REST form:
 * `parameterMode` NAMED (every parameter named) or POSITIONAL (none named), and typed
 * `queryParameters`, nested for ARRAY and STRUCT (query-parameter-type.ts reads them). A mix
 * of named and positional parameters, or a type BigQuery does not know, is a usage error
 * (exit 2). The dry run and the job carry the same parameters.
 */
import { UsageError } from '../../errors.js';
import type { QueryParameter } from '../warehouse.js';
import { parseQueryParameters, type ParameterType, type ParameterValue } from '../query-parameter-type.js';

export interface RestQueryParameter {
  name?: string;
  parameterType: RestParameterType;
  parameterValue: RestParameterValue;
}

interface RestParameterType {
  type: string;
  arrayType?: RestParameterType;
  structTypes?: Array<{ name?: string; type: RestParameterType }>;
}

interface RestParameterValue {
  value?: string | null;
  arrayValues?: RestParameterValue[];
  structValues?: Record<string, RestParameterValue>;
}

export interface RestQueryParameters {
  parameterMode?: 'NAMED' | 'POSITIONAL';
  queryParameters?: RestQueryParameter[];
}

export function toBigQueryParameters(params: QueryParameter[] | undefined): RestQueryParameters {
  const parsed = parseQueryParameters(params);
  if (parsed.length === 0) return {};
  const named = parsed.filter((p) => p.name !== '').length;
  if (named !== 0 && named !== parsed.length) {
    throw new UsageError('usage.parameter_mode', 'query parameters must be all named or all positional, not a mix', {
      rule: 'parameters',
      hint: 'give every --parameter a name (name:type:value), or none (:type:value)',
    });
  }
  return {
    parameterMode: named > 0 ? 'NAMED' : 'POSITIONAL',
    queryParameters: parsed.map((p) => ({ ...(p.name !== '' ? { name: p.name } : {}), parameterType: restType(p.type), parameterValue: restValue(p.value, p.type) })),
  };
}

/** A BYTES parameter (base64 on the wire), for hoopq's own parameters. */
export function bytesParameter(name: string, bytes: Buffer): RestQueryParameter {
  return { name, parameterType: { type: 'BYTES' }, parameterValue: { value: bytes.toString('base64') } };
}

function restType(type: ParameterType): RestParameterType {
  if (type.kind === 'scalar') return { type: type.name };
  if (type.kind === 'array') return { type: 'ARRAY', arrayType: restType(type.element) };
  return { type: 'STRUCT', structTypes: type.fields.map((f) => ({ ...(f.name ? { name: f.name } : {}), type: restType(f.type) })) };
}

/** NULL arrays are empty (BigQuery has no NULL ARRAY parameter); a NULL struct has NULL fields. */
function restValue(value: ParameterValue, type: ParameterType): RestParameterValue {
  if (type.kind === 'scalar') return { value: value === null ? null : (value as string) };
  if (type.kind === 'array') return { arrayValues: ((value ?? []) as ParameterValue[]).map((v) => restValue(v, type.element)) };
  const fields = (value ?? {}) as Record<string, ParameterValue>;
  return { structValues: Object.fromEntries(type.fields.filter((f) => f.name !== '').map((f) => [f.name, restValue(fields[f.name] ?? null, f.type)])) };
}
