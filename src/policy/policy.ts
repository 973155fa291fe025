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
  tables: { read: string[]; write: string[]; deny: string[] };
  /** Column glob `project.dataset.table.column` -> mask method. */
  columns: Record<string, MaskMethod>;
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
