/**
 * The verifier's fast path: reads one log line straight from its bytes, without JSON.parse
 * or re-serialisation, when the line is exactly in the form the sink writes (canonical JSON
 * with the `hash` member last, see hash-record.ts).
 *
 * Input: a buffer and the byte range of one line (no newline), or of a group of lines scanned
 * one after another (beginBatch, scanBatchLine, endBatch). Output: the line's top-level
 * `seq`, where the 64 characters of `prev` and of `hash` start, where the hash member starts,
 * and whether it is a `log.recovered` record — or null.
 * Invariant: a non-null answer whose prev and hash bytes the caller finds to be 64 lower-case
 * hex digits (it compares them with hex strings it holds) implies JSON.parse(line) succeeds,
 * parsed.prev and parsed.hash are those digits, and canonicalJson(parsed without hash) equals
 * the line's bytes before the hash member plus `}` — so hashing those bytes gives the slow
 * path's result. Anything this scanner is not sure about (\u escapes, fractions, long numbers,
 * non-ASCII keys, deep nesting, invalid UTF-8, a misplaced hash) returns null, and the caller
 * takes the slow path, which decides. Checked against the slow path by a randomised test
 * (scan-audit-line.test.ts).
 */
import { isUtf8 } from 'node:buffer';

// How: a group of lines is read as one latin1 string (one char per byte, so indexes are byte
// offsets); one regex pass finds control and non-ASCII bytes, string bodies are skipped with
// native indexOf('"') unless a backslash falls inside them, and UTF-8 validity is one native
// isUtf8 call on the rare line with non-ASCII bytes. The positions of the next backslash,
// suspicious byte and control byte are each searched once and kept until a later line passes
// them, so a group costs one pass, however its lines look. A JavaScript loop over every byte
// was measured 4-5x slower on 1 KB records.

export interface ScannedAuditLine {
  seq: number;
  /** Offset of the 64 bytes of prev's value (not yet known to be hex). */
  prevAt: number;
  /** Offset of the 64 bytes of hash's value (not yet known to be hex). */
  hashAt: number;
  /** Absolute offset of the `,` that begins the trailing `,"hash":"…"}` member. */
  hashMemberAt: number;
  isRecovery: boolean;
}

const MAX_DEPTH = 64;
// 15 decimal digits always fit a safe integer; longer numbers go to the slow path
const MAX_DIGITS = 15;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
// raw control characters are never in the sink's lines (JSON.stringify escapes them); the
// newline between lines is not in any line
const CONTROL = /[\x00-\x09\x0b-\x1f]/g;
// the common line has neither: only a line with one of these needs the control search and
// the UTF-8 check (both: this cannot tell which of the two it found)
const CONTROL_OR_HIGH = /[\x00-\x09\x0b-\x1f\x80-\xff]/g;

// the batch being scanned (synchronous, never re-entered): its text is the latin1 string of
// bytes [off, off + t.length) of batchBytes; the scan works in text indexes
let t = '';
let off = 0;
const NO_BYTES = Buffer.alloc(0);
let batchBytes: Buffer = NO_BYTES;
let nextBackslash = -1;
let nextSuspicious = -1;
let nextControl = -1;
// the line being scanned, in text indexes
let base = 0;
let p = 0;
let end = 0;
let numberValue = 0;

/** The answer of the last scanBatchLine that returned true, as byte offsets (overwritten by the next). */
export const scanned: ScannedAuditLine = { seq: 0, prevAt: 0, hashAt: 0, hashMemberAt: 0, isRecovery: false };

/**
 * Starts scanning lines within buf[from, to): call scanBatchLine for each, in order, then
 * endBatch. Keep to at most a few tens of KB: a larger string is allocated outside V8's young
 * generation, which was measured to cost more than the scan itself.
 */
export function beginBatch(buf: Buffer, from: number, to: number): void {
  batchBytes = buf;
  off = from;
  t = buf.toString('latin1', from, to);
  nextBackslash = t.indexOf('\\');
  nextSuspicious = -1;
  nextControl = -1;
}

export function endBatch(): void {
  t = '';
  batchBytes = NO_BYTES;
}

/** Whether the batch's bytes at byte offset `at` are `text` (ASCII). */
export function batchHas(text: string, at: number): boolean {
  return t.startsWith(text, at - off);
}

/**
 * Scans the line buf[start, stop) (inside the batch; starts ascending): true with `scanned`
 * filled, or false: slow path.
 */
export function scanBatchLine(start: number, stop: number): boolean {
  const s = start - off;
  const e = stop - off;
  if (nextSuspicious !== Infinity && nextSuspicious < s) nextSuspicious = search(CONTROL_OR_HIGH, s);
  if (nextSuspicious < e) {
    if (nextControl !== Infinity && nextControl < s) nextControl = search(CONTROL, s);
    if (nextControl < e) return false;
    if (!isUtf8(batchBytes.subarray(start, stop))) return false;
  }
  if (nextBackslash !== -1 && nextBackslash < s) nextBackslash = t.indexOf('\\', s);
  base = s;
  p = s;
  end = e;
  if (!scanTopLevel()) return false;
  scanned.prevAt += off;
  scanned.hashAt += off;
  scanned.hashMemberAt += off;
  return true;
}

/** One line on its own (tests, tools): scanBatchLine over a batch of the whole buffer. */
export function scanAuditLine(buf: Buffer, start: number, stop: number): ScannedAuditLine | null {
  beginBatch(buf, 0, buf.length);
  try {
    return scanBatchLine(start, stop) ? { ...scanned } : null;
  } finally {
    endBatch();
  }
}

function search(re: RegExp, from: number): number {
  re.lastIndex = from;
  return re.test(t) ? re.lastIndex - 1 : Infinity;
}

function scanTopLevel(): boolean {
  if (end - base < 2 || t.charCodeAt(base) !== 0x7b) return false;
  p = base + 1;
  let seq = -1;
  let prevAt = -1;
  let isRecovery = false;
  let prevKeyStart = -1;
  let prevKeyEnd = -1;
  for (;;) {
    const memberAt = p - 1; // the `{` or `,` before this member
    if (t.charCodeAt(p) !== QUOTE) return false;
    const keyStart = p + 1;
    if (!scanKey()) return false;
    const keyEnd = p - 1;
    if (t.charCodeAt(p) !== COLON) return false;
    p++;
    if (keyEnd - keyStart === 4 && t.startsWith('hash', keyStart)) {
      // the hash member: only last, only after another member
      if (memberAt === base || t.charCodeAt(memberAt) !== COMMA) return false;
      if (p + 67 !== end || t.charCodeAt(p) !== QUOTE || t.charCodeAt(p + 65) !== QUOTE || t.charCodeAt(p + 66) !== 0x7d) return false;
      if (seq < 1 || prevAt < 0) return false;
      scanned.seq = seq;
      scanned.prevAt = prevAt;
      scanned.hashAt = p + 1;
      scanned.hashMemberAt = memberAt;
      scanned.isRecovery = isRecovery;
      return true;
    }
    if (prevKeyStart >= 0 && !keyLess(prevKeyStart, prevKeyEnd, keyStart, keyEnd)) return false;
    prevKeyStart = keyStart;
    prevKeyEnd = keyEnd;
    const valueStart = p;
    if (!scanValue(1)) return false;
    const keyLength = keyEnd - keyStart;
    if (keyLength === 3 && t.startsWith('seq', keyStart)) {
      if (!isDigit(t.charCodeAt(valueStart)) || numberValue < 1) return false;
      seq = numberValue;
    } else if (keyLength === 4 && t.startsWith('prev', keyStart)) {
      if (p - valueStart !== 66 || t.charCodeAt(valueStart) !== QUOTE) return false;
      prevAt = valueStart + 1;
    } else if (keyLength === 5 && t.startsWith('event', keyStart)) {
      isRecovery = p - valueStart === 15 && t.startsWith('"log.recovered"', valueStart);
    }
    // the hash member must follow; a line ending without it is not in the sink's form
    if (p >= end || t.charCodeAt(p) !== COMMA) return false;
    p++;
  }
}

function scanValue(depth: number): boolean {
  if (p >= end) return false;
  const c = t.charCodeAt(p);
  if (c === QUOTE) return scanString();
  if (c === 0x7b) return scanObject(depth + 1);
  if (c === 0x5b) return scanArray(depth + 1);
  if (c === 0x2d || isDigit(c)) return scanInteger();
  if (c === 0x74) return scanLiteral('true');
  if (c === 0x66) return scanLiteral('false');
  if (c === 0x6e) return scanLiteral('null');
  return false;
}

function scanLiteral(word: string): boolean {
  if (p + word.length > end || !t.startsWith(word, p)) return false;
  p += word.length;
  return true;
}

function scanString(): boolean {
  const close = t.indexOf('"', p + 1);
  if (close === -1 || close >= end) return false;
  if (nextBackslash === -1 || nextBackslash > close) {
    p = close + 1;
    return true;
  }
  // escapes inside: step through them; exactly the two-character escapes JSON.stringify
  // writes are allowed (\u and \/ take the slow path)
  p++;
  while (p < end) {
    const c = t.charCodeAt(p);
    if (c === QUOTE) {
      p++;
      nextBackslash = t.indexOf('\\', p);
      return true;
    }
    if (c === BACKSLASH) {
      const d = t.charCodeAt(p + 1);
      if (d === QUOTE || d === BACKSLASH || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) {
        p += 2;
        continue;
      }
      return false;
    }
    p++;
  }
  return false;
}

/** A key of printable ASCII without escapes (byte order then equals UTF-16 order). */
function scanKey(): boolean {
  const close = t.indexOf('"', p + 1);
  if (close === -1 || close >= end) return false;
  if (nextBackslash !== -1 && nextBackslash < close) return false;
  for (let i = p + 1; i < close; i++) if (t.charCodeAt(i) >= 0x7f) return false;
  p = close + 1;
  return true;
}

function scanInteger(): boolean {
  const negative = t.charCodeAt(p) === 0x2d;
  if (negative) p++;
  const digitsStart = p;
  const first = t.charCodeAt(p);
  if (first === 0x30) {
    p++;
    if (negative) return false; // -0 is written 0
  } else if (first >= 0x31 && first <= 0x39) {
    while (p < end && isDigit(t.charCodeAt(p))) p++;
  } else {
    return false;
  }
  if (p - digitsStart > MAX_DIGITS) return false;
  const next = t.charCodeAt(p);
  if (next === 0x2e || next === 0x65 || next === 0x45) return false; // fractions and exponents: slow path
  let v = 0;
  for (let i = digitsStart; i < p; i++) v = v * 10 + (t.charCodeAt(i) - 0x30);
  numberValue = negative ? -v : v;
  return true;
}

function scanObject(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  p++;
  if (t.charCodeAt(p) === 0x7d) {
    p++;
    return true;
  }
  let prevStart = -1;
  let prevEnd = -1;
  for (;;) {
    if (t.charCodeAt(p) !== QUOTE) return false;
    const keyStart = p + 1;
    if (!scanKey()) return false;
    const keyEnd = p - 1;
    if (prevStart >= 0 && !keyLess(prevStart, prevEnd, keyStart, keyEnd)) return false;
    prevStart = keyStart;
    prevEnd = keyEnd;
    if (t.charCodeAt(p) !== COLON) return false;
    p++;
    if (!scanValue(depth)) return false;
    const c = t.charCodeAt(p);
    if (c === COMMA) {
      p++;
      continue;
    }
    if (c === 0x7d) {
      p++;
      return true;
    }
    return false;
  }
}

function scanArray(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  p++;
  if (t.charCodeAt(p) === 0x5d) {
    p++;
    return true;
  }
  for (;;) {
    if (!scanValue(depth)) return false;
    const c = t.charCodeAt(p);
    if (c === COMMA) {
      p++;
      continue;
    }
    if (c === 0x5d) {
      p++;
      return true;
    }
    return false;
  }
}

/** Strictly less (ASCII keys only, so char order is UTF-16 code-unit order). */
function keyLess(as: number, ae: number, bs: number, be: number): boolean {
  const la = ae - as;
  const lb = be - bs;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const x = t.charCodeAt(as + i);
    const y = t.charCodeAt(bs + i);
    if (x !== y) return x < y;
  }
  return la < lb;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
