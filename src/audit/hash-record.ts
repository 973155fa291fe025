/**
 * The hash chain. A record's `hash` is sha256hex(canonicalJson(record without "hash")); its
 * `prev` is the previous line's `hash` (GENESIS_PREV for seq 1), so every hash commits to
 * the whole log before it.
 *
 * A line as stored is the canonical text of the record without `hash`, with the member
 * `,"hash":"<64 hex>"` inserted before the final `}`. Putting the hash last (instead of at
 * its sorted place) lets a verifier recompute it from the line's bytes alone: drop the last
 * 75 bytes, add `}`, hash. Readers that parse the JSON see an ordinary object.
 */
import { createHash } from 'node:crypto';
import type { AuditRecord } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';

export const GENESIS_PREV = '0'.repeat(64);

/** `,"hash":"` + 64 hex + `"}` */
export const HASH_MEMBER_BYTES = 75;

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && value.length === 64 && HEX64.test(value);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The chain hash of a record, given without its `hash` member (any other member order). */
export function hashRecordContent(content: Record<string, unknown>): string {
  if ('hash' in content) throw new TypeError('hashRecordContent: the content must not contain "hash"');
  return sha256Hex(canonicalJson(content));
}

/**
 * Hashes a record and renders its line (without the trailing newline). Throws TypeError when
 * the record cannot be canonicalised (see canonical-json.ts) or already carries a hash.
 */
export function serializeAuditRecord(unhashed: Omit<AuditRecord, 'hash'>): { record: AuditRecord; line: string } {
  if ('hash' in unhashed) throw new TypeError('serializeAuditRecord: the record already has a "hash" member');
  const canonical = canonicalJson(unhashed);
  const hash = sha256Hex(canonical);
  const line = `${canonical.slice(0, -1)},"hash":"${hash}"}`;
  // the parsed form is what a reader of the log gets back: no undefined members, plain values
  const record = JSON.parse(line) as AuditRecord;
  return { record, line };
}
