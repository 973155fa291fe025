/**
 * A BigQuery query request (`jobs.insert`'s `configuration.query`, or `jobs.query`'s body)
 * -> what runQuery takes: the SQL, typed parameters, the caller's labels, default names.
 *
 * Invariants (fail closed): an option that would change what runs or where results go
 * (legacy SQL, a destination table, write/create dispositions, external tables, sessions,
 * connection properties) is refused with 501 naming it, never ignored; a caller's byte cap
 * (`maximumBytesBilled`) applies where it is lower than the policy's;
 * fields that only tune Google's service (cache, priority, request ids) are accepted and
 * have no effect; any other field is ignored, as BigQuery itself ignores unknown fields.
 * Labels follow BigQuery's rules; a caller's `hoopq…` label is refused (hoopq's own labels,
 * the run and the audit record, are added by the pipeline and cannot be forged).
 */
import type { NameDefaults } from '../../analysis/query-analysis.js';
import { UsageError } from '../../errors.js';
import type { QueryParameter } from '../../warehouse/warehouse.js';
import { notSupported } from './bigquery-api-error.js';

export interface QueryConfiguration {
  sql: string;
  params?: QueryParameter[];
  names?: NameDefaults;
  /** The caller's byte cap; the policy's max_bytes_billed still applies when lower. */
  maxBytesBilled?: number;
}

/** Options that change what runs or where its result goes. */
const REFUSED_OPTIONS = [
  'destinationTable',
  'writeDisposition',
  'createDisposition',
  'tableDefinitions',
  'schemaUpdateOptions',
  'timePartitioning',
  'rangePartitioning',
  'clustering',
  'destinationEncryptionConfiguration',
  'userDefinedFunctionResources',
  'maximumBillingTier',
  'scriptOptions',
  'continuous',
  'writeIncrementalResults',
] as const;

const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
/** BigQuery allows 64 labels on a job; hoopq adds two of its own. */
const MAX_CALLER_LABELS = 62;
export const JUSTIFICATION_LABEL = 'hoopq_justification';

export function parseQueryConfiguration(raw: Record<string, unknown>, project: string): QueryConfiguration {
  const sql = raw.query;
  if (typeof sql !== 'string' || sql.trim() === '') throw invalid('configuration.query.query: a query is required');
  if (raw.useLegacySql === true || raw.useLegacySql === 'true') {
    throw new UsageError('bigquery_api.legacy_sql', 'refused: legacy SQL is not supported; hoopq analyses GoogleSQL (standard SQL) only', {
      rule: 'bigquery_api.useLegacySql',
      hint: 'set useLegacySql: false (the client libraries do by default)',
    });
  }
  for (const option of REFUSED_OPTIONS) {
    if (isSet(raw[option])) throw notSupported(`the query option ${option}`);
  }
  if (raw.createSession === true) throw notSupported('sessions (createSession)');
  if (Array.isArray(raw.connectionProperties) && raw.connectionProperties.length > 0) throw notSupported('connectionProperties');
  return { sql, params: parseParameters(raw), names: parseDefaultDataset(raw.defaultDataset, project), ...byteCap(raw.maximumBytesBilled) };
}

function byteCap(raw: unknown): { maxBytesBilled?: number } {
  if (raw === undefined || raw === null || raw === '') return {};
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw invalid('maximumBytesBilled must be a whole number of bytes above 0');
  return { maxBytesBilled: n };
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

function parseDefaultDataset(raw: unknown, project: string): NameDefaults | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object') throw invalid('defaultDataset must be an object {projectId, datasetId}');
  const { projectId, datasetId } = raw as { projectId?: unknown; datasetId?: unknown };
  if (typeof datasetId !== 'string' || datasetId === '') throw invalid('defaultDataset.datasetId is required');
  if (projectId !== undefined && typeof projectId !== 'string') throw invalid('defaultDataset.projectId must be a string');
  return { defaultProject: (projectId as string | undefined) || project, defaultDataset: datasetId };
}

interface RestParameter {
  name?: unknown;
  parameterType?: { type?: unknown; arrayType?: { type?: unknown } };
  parameterValue?: { value?: unknown; arrayValues?: Array<{ value?: unknown }> };
}

function parseParameters(raw: Record<string, unknown>): QueryParameter[] | undefined {
  const list = raw.queryParameters;
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw invalid('queryParameters must be an array');
  if (list.length > 256) throw invalid('at most 256 query parameters');
  const mode = typeof raw.parameterMode === 'string' ? raw.parameterMode.toUpperCase() : undefined;
  return list.map((item: RestParameter, i) => {
    const name = typeof item?.name === 'string' ? item.name : '';
    if (mode === 'NAMED' && name === '') throw invalid(`queryParameters[${i}]: a named parameter needs a name`);
    if (mode === 'POSITIONAL' && name !== '') throw invalid(`queryParameters[${i}]: a positional parameter has no name`);
    const type = item?.parameterType?.type;
    if (typeof type !== 'string') throw invalid(`queryParameters[${i}].parameterType.type is required`);
    const upper = type.toUpperCase();
    if (upper === 'ARRAY') {
      const element = item.parameterType?.arrayType?.type;
      if (typeof element !== 'string' || ['ARRAY', 'STRUCT', 'RECORD', 'RANGE'].includes(element.toUpperCase())) throw notSupported(`query parameters of type ARRAY<${String(element)}>`);
      const values = (item.parameterValue?.arrayValues ?? []).map((v) => scalarText(v?.value, i));
      return { name, type: `ARRAY<${element.toUpperCase()}>`, value: JSON.stringify(values) };
    }
    if (['STRUCT', 'RECORD', 'RANGE'].includes(upper)) throw notSupported(`query parameters of type ${upper}`);
    return { name, type: upper, value: scalarText(item.parameterValue?.value, i) };
  });
}

function scalarText(value: unknown, i: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  throw invalid(`queryParameters[${i}]: a value must be a string`);
}

/**
 * The caller's labels, checked against BigQuery's rules; `hoopq…` keys are hoopq's own.
 * The justification label is returned apart and not kept as a label.
 */
export function parseLabels(raw: unknown): { labels: Record<string, string>; justification: string | null } {
  if (raw === undefined || raw === null) return { labels: {}, justification: null };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('labels must be an object of string values');
  const labels: Record<string, string> = {};
  let justification: string | null = null;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') throw invalid(`label ${key}: the value must be a string`);
    if (key === JUSTIFICATION_LABEL) {
      justification = value.replace(/[_-]+/g, ' ').trim() || null;
      continue;
    }
    if (key.startsWith('hoopq')) {
      throw new UsageError('bigquery_api.reserved_label', `refused the label "${key}": labels starting with "hoopq" are set by hoopq`, {
        rule: 'bigquery_api.labels',
        hint: `rename the label; hoopq adds hoopq_run and hoopq_record to every job itself (a justification may be given as the label ${JUSTIFICATION_LABEL})`,
      });
    }
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
      throw invalid(`label ${key}: keys and values are at most 63 lowercase letters, digits, "_" or "-" (keys start with a letter)`);
    }
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_CALLER_LABELS) throw invalid(`at most ${MAX_CALLER_LABELS} labels (hoopq adds two of its own)`);
  return { labels, justification };
}

export function invalid(what: string): UsageError {
  return new UsageError('bigquery_api.invalid', `Invalid request: ${what}`, { rule: 'bigquery_api.request', hint: 'see docs/bigquery-api.md for the supported fields' });
}
