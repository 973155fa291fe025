/**
 * The verifier's per-line work that needs no chain state: scan each line for the sink's exact
 * form (scan-audit-line.ts) and recompute its hash from its bytes. Being independent of the
 * lines before it, it can run over batches in any order, on any thread (precheck-worker.ts).
 *
 * Input: a buffer and the byte ranges of its lines (no newlines). Output: LINE_FACTS numbers
 * per line in one Float64Array: seq (0 when the line is not in the sink's form or its hash does
 * not recompute from its bytes: the caller must take the slow path), the offsets of prev's and
 * hash's 64 hex bytes, and 1 when it is a `log.recovered` record.
 * Invariant: a line with seq > 0 here is one whose hash the slow path would find correct; the
 * caller still checks seq and prev against the chain, as before. The buffer is left unchanged.
 */
import * as crypto from 'node:crypto';
import { scanAuditLine } from './scan-audit-line.js';

export const LINE_FACTS = 4;
export const FACT_SEQ = 0;
export const FACT_PREV_AT = 1;
export const FACT_HASH_AT = 2;
export const FACT_IS_RECOVERY = 3;

const oneShotSha256: (data: Uint8Array) => string =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex');

export function precheckLines(buffer: Buffer, starts: ArrayLike<number>, ends: ArrayLike<number>): Float64Array {
  const facts = new Float64Array(starts.length * LINE_FACTS);
  const digest = Buffer.alloc(64);
  for (let i = 0; i < starts.length; i++) {
    const fast = scanAuditLine(buffer, starts[i], ends[i]);
    if (!fast) continue;
    // the canonical text without the hash member ends where that member begins: put `}` there
    // for the hash, then restore the byte
    const saved = buffer[fast.hashMemberAt];
    buffer[fast.hashMemberAt] = 0x7d;
    digest.write(oneShotSha256(buffer.subarray(starts[i], fast.hashMemberAt + 1)), 'latin1');
    buffer[fast.hashMemberAt] = saved;
    if (buffer.compare(digest, 0, 64, fast.hashAt, fast.hashAt + 64) !== 0) continue;
    const at = i * LINE_FACTS;
    facts[at + FACT_SEQ] = fast.seq;
    facts[at + FACT_PREV_AT] = fast.prevAt;
    facts[at + FACT_HASH_AT] = fast.hashAt;
    facts[at + FACT_IS_RECOVERY] = fast.isRecovery ? 1 : 0;
  }
  return facts;
}
