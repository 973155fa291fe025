/**
 * The policy file's schema (`policies/NAME.yaml`, docs/reference.md "Policy keys"): strict (unknown
 * keys are errors), with every per-field format it can state (glob shapes, durations, sizes).
 * `loadPolicy` validates with it; `hoopq policy schema` and the shipped
 * `schema/policy.schema.json` are generated from this same object, so an editor accepts what
 * hoopq accepts. The one rule it cannot state — `name` equals the file name — is a named
 * cross-field rule in load-policy.ts.
 */
import { z } from 'zod';
import { STATEMENT_KINDS } from '../analysis/query-analysis.js';
import { DURATION_PATTERN, SIZE_PATTERN } from '../config/units.js';
import { DETECTORS, MASK_METHODS } from './policy.js';

export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** project.dataset.table, or BigQuery metadata: project.dataset_or_region.INFORMATION_SCHEMA.VIEW */
export const TABLE_GLOB_PATTERN = /^(?:[^.]+\.[^.]+\.[^.]+|[^.]+\.[^.]+\.[Ii][Nn][Ff][Oo][Rr][Mm][Aa][Tt][Ii][Oo][Nn]_[Ss][Cc][Hh][Ee][Mm][Aa]\.[^.]+)$/;
/** project.dataset.table.column, and more parts for fields inside STRUCT/RECORD columns */
export const COLUMN_GLOB_PATTERN = /^[^.]+\.[^.]+\.[^.]+\.[^.]+(?:\.[^.]+)*$/;
export const ROUTINE_GLOB_PATTERN = /^[^.]+\.[^.]+\.[^.]+$/;

const tableGlobs = (what: string) =>
  z
    .array(
      z
        .string()
        .regex(TABLE_GLOB_PATTERN, 'must have three dot-separated parts, project.dataset.table (or four for metadata: project.dataset_or_region.INFORMATION_SCHEMA.VIEW)'),
    )
    .default([])
    .describe(`${what}: globs project.dataset.table (or project.dataset_or_region.INFORMATION_SCHEMA.VIEW); "*" matches inside one part, never a dot`);

const routineGlobs = (what: string) =>
  z
    .array(z.string().regex(ROUTINE_GLOB_PATTERN, 'must have three dot-separated parts, project.dataset.routine'))
    .default([])
    .describe(`${what}: globs project.dataset.routine`);

/** A URI (scheme://…, no spaces or control characters) or a connection id glob (project.location.connection, or location.connection). */
export const DESTINATION_PATTERN = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s\u0000-\u001f]+|[^.\s]+\.[^.\s]+(?:\.[^.\s]+)?)$/;

const destination = z
  .string()
  .regex(DESTINATION_PATTERN, 'is neither a URI (scheme://…, without spaces) nor a connection id (project.location.connection)');

const duration = z
  .union([z.string().regex(DURATION_PATTERN, 'is not a duration: write e.g. 500ms, 60s, 5m or 1h'), z.number().positive()])
  .describe('a duration: 500ms, 60s, 5m, 1h, 1d, or a number of seconds');

const size = z
  .union([z.string().regex(SIZE_PATTERN, 'is not a size: write e.g. 10GiB, 500MB or 1000000'), z.number().int().positive()])
  .describe('a size in bytes: 10GiB, 500MB, or a number of bytes');

export const policySchema = z
  .object({
    name: z.string().regex(POLICY_NAME_PATTERN, 'may hold only letters, digits, "_", "-" and "."').describe('the policy name; must equal the file name without .yaml'),
    description: z.string().optional().describe('free text shown to agents (MCP tool descriptions)'),
    statements: z.array(z.enum(STATEMENT_KINDS)).default(['select']).describe('statement kinds allowed; default [select]'),
    tables: z
      .object({
        read: tableGlobs('tables that may be read'),
        write: tableGlobs('tables that DML/DDL may target'),
        deny: tableGlobs('tables refused for reading and writing; wins over read and write'),
      })
      .strict()
      .default({ read: [], write: [], deny: [] })
      .describe('a table no read (or write) glob matches is denied'),
    columns: z
      .record(
        z.string().regex(COLUMN_GLOB_PATTERN, 'must have at least four dot-separated parts, project.dataset.table.column (more address a field of a STRUCT column)'),
        z.enum(MASK_METHODS),
      )
      .default({})
      .describe('column masks: glob project.dataset.table.column[.field…] -> hash | redact | null | partial'),
    routines: z
      .object({
        allow: routineGlobs('persistent routines (UDFs, table functions, procedures) a query may call'),
        deny: routineGlobs('routines refused; wins over allow'),
      })
      .strict()
      .default({ allow: [], deny: [] })
      .describe('bigquery: persistent routines; a routine no allow glob matches is refused'),
    destinations: z
      .array(destination)
      .default([])
      .describe('bigquery: URIs (gs://bucket/prefix/*; * within one path segment, ** across) and connection ids (project.location.connection globs) that EXPORT DATA, LOAD DATA, external tables and remote functions may use; default none'),
    detect: z.array(z.enum(DETECTORS)).default([]).describe('content detectors run on every returned text cell'),
    limits: z
      .object({
        max_rows: z.number().int().positive().optional().describe('rows returned; beyond it the result is cut and says so'),
        max_queries: z.number().int().positive().optional().describe('queries per run, across all processes'),
        max_bytes_billed: size.optional().describe('bigquery: maximumBytesBilled of every job'),
        timeout: duration.optional().describe('interrupts the running query'),
      })
      .strict()
      .default({}),
    require_justification: z.boolean().default(false).describe('every query must carry a justification'),
    identity: z
      .array(
        z
          .object({
            issuer: z.string().url().describe('the OIDC issuer URL'),
            claims: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).describe('claim -> required value ("*" globs allowed)'),
            audience: z.union([z.string(), z.array(z.string())]).optional().describe("accepted aud values; default hoopq"),
          })
          .strict(),
      )
      .default([])
      .describe('who may exchange an OIDC token for this policy (hoopq token exchange)'),
    impersonate: z.string().email().optional().describe('bigquery: the service account queries under this policy run as'),
    allow_external_query: z.boolean().default(false).describe('bigquery: allow EXTERNAL_QUERY federated reads'),
  })
  .strict()
  .describe('a hoopq policy (docs/policies.md)');

export type PolicyFileContent = z.output<typeof policySchema>;
