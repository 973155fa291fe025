/**
 * The verifier's per-line work that needs no chain state: scan each line for the sink's exact
 * form (scan-audit-line.ts) and recompute its hash from its bytes. Being independent of the
 * lines before it, it can run over batches in any order, on any thread (precheck-worker.ts).
 *
 * Input: a buffer and the byte ranges of its lines (no newlines). Output: LINE_FACTS numbers
 * per line in one Float64Array: seq (0 when the line is not in the sink's form or its hash does
 * not recompute from its bytes: the caller must take the slow path), the offsets of prev's and
 * hash's 64 hex bytes, 1 when it is a `log.recovered` record, and 1 when its prev is the hash
 * of the line before it in the batch (so the caller compares bytes only at a batch's start).
 * Invariant: a line with seq > 0 here is one whose hash the slow path would find correct; the
 * caller still checks seq and prev against the chain, as before. The buffer is left unchanged.
 */
import * as crypto from 'node:crypto';
import { batchHas, beginBatch, endBatch, scanBatchLine, scanned } from './scan-audit-line.js';

export const LINE_FACTS = 5;
export const FACT_SEQ = 0;
export const FACT_PREV_AT = 1;
export const FACT_HASH_AT = 2;
export const FACT_IS_RECOVERY = 3;
/** 1 when the line before it in the batch also has seq > 0 here and this line's prev is that line's hash. */
export const FACT_LINKS_PREVIOUS = 4;

const oneShotSha256: (data: Uint8Array) => string =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** Lines are scanned in groups of about this many bytes, one latin1 string per group. */
const GROUP_BYTES = 32 * 1024;

export function precheckLines(buffer: Buffer, starts: ArrayLike<number>, ends: ArrayLike<number>): Float64Array {
  const facts = new Float64Array(starts.length * LINE_FACTS);
  // the hash of the line before, when it passed here (it is what its hash bytes say)
  let previous: string | null = null;
  let i = 0;
  while (i < starts.length) {
    // a group: this line and those after it up to GROUP_BYTES (always at least one line)
    let last = i;
    while (last + 1 < starts.length && ends[last + 1] - starts[i] <= GROUP_BYTES) last++;
    beginBatch(buffer, starts[i], ends[last]);
    try {
      for (; i <= last; i++) previous = precheckOne(buffer, starts[i], ends[i], facts, i * LINE_FACTS, previous);
    } finally {
      endBatch();
    }
  }
  return facts;
}

/** Fills one line's facts; returns its hash if it passed, else null. */
function precheckOne(buffer: Buffer, start: number, end: number, facts: Float64Array, at: number, previous: string | null): string | null {
  if (!scanBatchLine(start, end)) return null;
  const { hashMemberAt, hashAt, prevAt } = scanned;
  // the canonical text without the hash member ends where that member begins: put `}` there
  // for the hash, then restore the byte (the group's string is a copy: it still has the `,`)
  const saved = buffer[hashMemberAt];
  buffer[hashMemberAt] = 0x7d;
  const computed = oneShotSha256(buffer.subarray(start, hashMemberAt + 1));
  buffer[hashMemberAt] = saved;
  if (!batchHas(computed, hashAt)) return null;
  facts[at + FACT_SEQ] = scanned.seq;
  facts[at + FACT_PREV_AT] = prevAt;
  facts[at + FACT_HASH_AT] = hashAt;
  facts[at + FACT_IS_RECOVERY] = scanned.isRecovery ? 1 : 0;
  facts[at + FACT_LINKS_PREVIOUS] = previous !== null && batchHas(previous, prevAt) ? 1 : 0;
  return computed;
}
