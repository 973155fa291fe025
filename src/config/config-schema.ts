/**
 * The schema of hoopq.yaml (docs/reference.md "Configuration keys"): strict (unknown keys are
 * errors), one shape per warehouse kind, so what each engine needs is stated in the schema
 * (duckdb needs `path`, bigquery needs `project`) rather than checked afterwards.
 * `loadConfig` validates with it; `hoopq policy schema config` and the shipped
 * `schema/hoopq.schema.json` are generated from this same object.
 */
import { z } from 'zod';

const names = {
  default_project: z.string().min(1).optional().describe('resolves table names given without a project'),
  default_dataset: z.string().min(1).optional().describe('resolves table names given without a dataset'),
};

const required = (message: string) => z.string({ error: (issue) => (issue.input === undefined ? message : undefined) }).min(1);

const duckdbWarehouse = z
  .object({
    kind: z.literal('duckdb'),
    path: required('a duckdb warehouse needs `path` (the database file)').describe('the DuckDB database file; its file name without extension is the project'),
    ...names,
  })
  .strict();

const bigqueryWarehouse = z
  .object({
    kind: z.literal('bigquery'),
    project: required('a bigquery warehouse needs `project` (the project jobs run in)').describe('the project BigQuery jobs run in'),
    location: z.string().min(1).optional().describe('the BigQuery location, e.g. US'),
    credentials: z.string().min(1).optional().describe("the gateway's own credential file; default: Application Default Credentials"),
    api_endpoint: z.string().url().optional().describe('BigQuery REST root override (emulators, tests)'),
    iam_endpoint: z.string().url().optional().describe('IAM Credentials API root override, for impersonation'),
    default_max_bytes_billed: z.union([z.string(), z.number()]).optional().describe('maximumBytesBilled of a job whose policy sets no max_bytes_billed, e.g. 1TiB (the default)'),
    default_job_timeout: z.union([z.string(), z.number()]).optional().describe('jobTimeoutMs of a job whose policy sets no timeout, e.g. 1h (the default)'),
    ...names,
  })
  .strict();

export const configSchema = z
  .object({
    warehouse: z.discriminatedUnion('kind', [duckdbWarehouse, bigqueryWarehouse]).describe('where queries run: kind duckdb or bigquery'),
    policies: z.string().min(1).default('./policies').describe('a folder of policy files, NAME.yaml each'),
    audit: z.string().min(1).default('./audit.jsonl').describe('the audit sink: a file path, or the http(s) URL of a gateway'),
    keys: z.string().min(1).default('./.hoopq/keys').describe('where signing keys live (created when first needed)'),
    state: z.string().min(1).optional().describe('the SQLite state store; default: state.db beside the keys folder'),
    gateway: z.string().url().optional().describe('forward queries to this gateway (remote mode)'),
    audit_checkpoint_every: z.number().int().min(1).max(1_000_000).optional().describe('a signed audit checkpoint every N records; default 100'),
    audit_witness: z.string().min(1).optional().describe('a second file (on another file system or host) that receives a copy of every signed audit checkpoint; audit verify compares the log with it'),
  })
  .strict()
  .describe('hoopq configuration (docs/configuration.md); relative paths are relative to this file');

export type ConfigFileContent = z.output<typeof configSchema>;
