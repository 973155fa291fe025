/**
 * The schema of hoopq.yaml (docs/reference.md "Configuration keys"): strict (unknown keys are
 * errors), one shape per warehouse kind, so what each engine needs is stated in the schema
 * (duckdb needs `path`, bigquery needs `project`) rather than checked afterwards.
 * `loadConfig` validates with it; `hoopq policy schema config` and the shipped
 * `schema/hoopq.schema.json` are generated from this same object.
 */
import { z } from 'zod';
import { approvalsConfigSchema } from '../approval/approvals-config.js';
import { consoleConfigSchema } from '../console/console-config.js';
import { operatorsConfigSchema } from '../operator/operators-config.js';
import { parseBytes } from './units.js';

const MIN_QUERY_MEMORY = 16 * 2 ** 20;

const names = {
  default_project: z.string().min(1).optional().describe('resolves table names given without a project'),
  default_dataset: z.string().min(1).optional().describe('resolves table names given without a dataset'),
};

const required = (message: string) => z.string({ error: (issue) => (issue.input === undefined ? message : undefined) }).min(1);

const duckdbWarehouse = z
  .object({
    kind: z.literal('duckdb'),
    path: required('a duckdb warehouse needs `path` (the database file)').describe('the DuckDB database file; its file name without extension is the project'),
    max_query_memory: z
      .union([z.string(), z.number()])
      .refine((v) => (parseBytes(v) ?? 0) >= MIN_QUERY_MEMORY, 'max_query_memory must be a size of at least 16MiB, e.g. 256MiB or 2GiB')
      .optional()
      .describe("memory one query may use (DuckDB's memory_limit of the query's instance); default 256MiB"),
    query_threads: z.number().int().min(1).max(256).optional().describe("threads one query may use (DuckDB's threads of the query's instance); default 1"),
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
    audit: z.string().min(1).default('./audit.jsonl').describe('the audit sink: a file path, the http(s) URL of a gateway, or a postgres:// URL (a log shared by gateway replicas)'),
    keys: z.string().min(1).default('./.hoopq/keys').describe('where signing keys live (created when first needed)'),
    state: z.string().min(1).optional().describe('the SQLite state store (default: state.db beside the keys folder), or a postgres:// URL shared by gateway replicas'),
    gateway: z.string().url().optional().describe('forward queries to this gateway (remote mode)'),
    audit_checkpoint_every: z.number().int().min(1).max(1_000_000).optional().describe('a signed audit checkpoint every N records; default 100'),
    approvals: approvalsConfigSchema.optional().describe('where requests for approval are announced (docs/approvals.md)'),
    operators: operatorsConfigSchema.optional().describe('who approves held queries and uses the console (docs/approvals.md)'),
    console: consoleConfigSchema.optional().describe('the web console at /console of the gateway; off unless present (docs/console.md)'),
    oidc: z
      .object({
        audience: z
          .string()
          .min(1)
          .max(512)
          .optional()
          .describe("the aud an OIDC ID token must carry for token exchange when the policy's identity rule names none; never taken from the request; a gateway defaults it to its own URL"),
      })
      .strict()
      .optional()
      .describe('keyless CI exchange (docs/identity.md)'),
    postgres: z
      .union([z.string().min(1), z.object({ url: z.string().min(1).describe('the postgres:// URL (no password: PGPASSWORD or ~/.pgpass)') }).strict()])
      .optional()
      .describe('one PostgreSQL database for both the state store and the audit log, shared by gateway replicas: the same as giving its URL to state: and audit:'),
    audit_witness: z.string().min(1).optional().describe('a second file (on another file system or host) that receives a copy of every signed audit checkpoint; audit verify compares the log with it'),
  })
  .strict()
  .describe('hoopq configuration (docs/configuration.md); relative paths are relative to this file');

export type ConfigFileContent = z.output<typeof configSchema>;
