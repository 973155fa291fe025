/**
 * The normalised, validated form of a policy file (`policies/NAME.yaml`, see docs/reference.md "Policy keys").
 * Produced only by `loadPolicy`; everything downstream trusts it.
 */
import type { StatementKind } from '../analysis/query-analysis.js';

export const MASK_METHODS = ['hash', 'redact', 'null', 'partial'] as const;
export type MaskMethod = (typeof MASK_METHODS)[number];

export const DETECTORS = ['email', 'phone', 'credit_card', 'us_ssn', 'iban', 'ipv4', 'ipv6', 'secret'] as const;
export type DetectorName = (typeof DETECTORS)[number];

export interface IdentityRule {
  issuer: string;
  /** Claim name -> required value (exact string match; `*` globs allowed). */
  claims: Record<string, string>;
  /** Accepted `aud` values; default ['hoopq']. */
  audience?: string[];
}

export interface Policy {
  name: string;
  /** hex SHA-256 of the policy file's bytes, as used. */
  sha256: string;
  /** Absolute path of the file it came from. */
  file: string;
  statements: StatementKind[];
  /**
   * Table globs `project.dataset.table`; BigQuery's INFORMATION_SCHEMA views also as
   * `project.dataset_or_region.INFORMATION_SCHEMA.VIEW`.
   */
  tables: { read: string[]; write: string[]; deny: string[] };
  /**
   * Column glob `project.dataset.table.column` -> mask method; more segments address a field
   * inside a STRUCT/RECORD column (`….table.address.email`), also inside ARRAY<STRUCT>.
   */
  columns: Record<string, MaskMethod>;
  /** Persistent routines a query may call (UDFs, table functions, procedures): globs like tables. Deny wins. */
  routines: { allow: string[]; deny: string[] };
  /**
   * Where data may leave or enter the warehouse: URIs (`gs://bucket/prefix/*`; `*` within one
   * path segment, `**` across segments) for EXPORT DATA, LOAD DATA and external tables, and
   * connection ids (`project.location.connection` globs) for WITH CONNECTION.
   */
  destinations: string[];
  detect: DetectorName[];
  limits: {
    maxRows?: number;
    maxQueries?: number;
    maxBytesBilled?: number;
    timeoutMs?: number;
  };
  requireJustification: boolean;
  identity: IdentityRule[];
  /** BigQuery: service account to impersonate for queries under this policy. */
  impersonate?: string;
  /** BigQuery: allow EXTERNAL_QUERY federated reads. Default false. */
  allowExternalQuery: boolean;
}
