/**
 * The verifier's fast path: reads one log line straight from its bytes, without JSON.parse
 * or re-serialisation, when the line is exactly in the form the sink writes (canonical JSON
 * with the `hash` member last, see hash-record.ts).
 *
 * Input: a buffer and the byte range of one line (no newline). Output: the line's top-level
 * `seq`, `prev`, `hash`, where the hash member starts, and whether it is a `log.recovered`
 * record — or null.
 * Invariant: a non-null answer implies JSON.parse(line) succeeds and
 * canonicalJson(parsed without hash) equals the line's bytes before the hash member plus `}`,
 * so hashing those bytes gives the same result as the slow path. Anything this scanner is
 * not sure about (\u escapes, fractions, long numbers, non-ASCII keys, deep nesting, invalid
 * UTF-8, a misplaced hash) returns null and the caller takes the slow path, which decides.
 * Checked against the slow path by a randomised test (scan-audit-line.test.ts).
 */
import { isUtf8 } from 'node:buffer';

export interface ScannedAuditLine {
  seq: number;
  prev: string;
  hash: string;
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

const KEY_SEQ = ascii('seq');
const KEY_PREV = ascii('prev');
const KEY_HASH = ascii('hash');
const KEY_EVENT = ascii('event');
const RECOVERED = ascii('log.recovered');

// module state for the scan in progress (synchronous, never re-entered)
let b: Uint8Array = new Uint8Array(0);
let p = 0;
let end = 0;
let sawHighByte = false;
let numberValue = 0;

export function scanAuditLine(buf: Buffer, start: number, stop: number): ScannedAuditLine | null {
  b = buf;
  p = start;
  end = stop;
  sawHighByte = false;
  try {
    return scanTopLevel(buf, start);
  } finally {
    b = new Uint8Array(0);
  }
}

function scanTopLevel(buf: Buffer, start: number): ScannedAuditLine | null {
  if (end - start < 2 || b[p] !== 0x7b) return null;
  p++;
  let seq = -1;
  let prev: string | null = null;
  let isRecovery = false;
  let prevKeyStart = -1;
  let prevKeyEnd = -1;
  for (;;) {
    const memberAt = p - 1; // the `{` or `,` before this member
    if (b[p] !== QUOTE) return null;
    const keyStart = p + 1;
    if (!scanKey()) return null;
    const keyEnd = p - 1;
    if (b[p] !== COLON) return null;
    p++;
    if (bytesEqual(keyStart, keyEnd, KEY_HASH)) {
      // the hash member: only last, only after another member, only 64 lower-case hex
      if (memberAt === start || b[memberAt] !== COMMA) return null;
      if (p + 67 !== end || b[p] !== QUOTE || b[p + 65] !== QUOTE || b[p + 66] !== 0x7d) return null;
      if (!isHex64(p + 1)) return null;
      if (seq < 1 || prev === null) return null;
      if (sawHighByte && !isUtf8(buf.subarray(start, end))) return null;
      return { seq, prev, hash: buf.toString('latin1', p + 1, p + 65), hashMemberAt: memberAt, isRecovery };
    }
    if (prevKeyStart >= 0 && !keyLess(prevKeyStart, prevKeyEnd, keyStart, keyEnd)) return null;
    prevKeyStart = keyStart;
    prevKeyEnd = keyEnd;
    const valueStart = p;
    if (!scanValue(1)) return null;
    if (bytesEqual(keyStart, keyEnd, KEY_SEQ)) {
      if (b[valueStart] === QUOTE || b[valueStart] === 0x2d || numberValue < 1 || !isDigit(b[valueStart])) return null;
      seq = numberValue;
    } else if (bytesEqual(keyStart, keyEnd, KEY_PREV)) {
      if (p - valueStart !== 66 || b[valueStart] !== QUOTE || !isHex64(valueStart + 1)) return null;
      prev = buf.toString('latin1', valueStart + 1, valueStart + 65);
    } else if (bytesEqual(keyStart, keyEnd, KEY_EVENT)) {
      isRecovery = b[valueStart] === QUOTE && bytesEqual(valueStart + 1, p - 1, RECOVERED);
    }
    // the hash member must follow; a line ending without it is not in the sink's form
    if (b[p] !== COMMA) return null;
    p++;
  }
}

function scanValue(depth: number): boolean {
  if (p >= end) return false;
  const c = b[p];
  if (c === QUOTE) return scanString();
  if (c === 0x7b) return scanObject(depth + 1);
  if (c === 0x5b) return scanArray(depth + 1);
  if (c === 0x2d || isDigit(c)) return scanInteger();
  if (c === 0x74) return scanLiteral(TRUE);
  if (c === 0x66) return scanLiteral(FALSE);
  if (c === 0x6e) return scanLiteral(NULL);
  return false;
}

const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');

function scanLiteral(word: Uint8Array): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word[i]) return false;
  p += word.length;
  return true;
}

function scanString(): boolean {
  p++;
  while (p < end) {
    const c = b[p];
    if (c === QUOTE) {
      p++;
      return true;
    }
    if (c === BACKSLASH) {
      // exactly the two-character escapes JSON.stringify writes; \u and \/ take the slow path
      const d = b[p + 1];
      if (d === QUOTE || d === BACKSLASH || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) {
        p += 2;
        continue;
      }
      return false;
    }
    if (c < 0x20) return false;
    if (c >= 0x80) sawHighByte = true;
    p++;
  }
  return false;
}

/** A key of printable ASCII without escapes (byte order then equals UTF-16 order). */
function scanKey(): boolean {
  p++;
  while (p < end) {
    const c = b[p];
    if (c === QUOTE) {
      p++;
      return true;
    }
    if (c < 0x20 || c >= 0x7f || c === BACKSLASH) return false;
    p++;
  }
  return false;
}

function scanInteger(): boolean {
  const negative = b[p] === 0x2d;
  if (negative) p++;
  const digitsStart = p;
  if (b[p] === 0x30) {
    p++;
    if (negative) return false; // -0 is written 0
  } else if (p < end && b[p] >= 0x31 && b[p] <= 0x39) {
    while (p < end && isDigit(b[p])) p++;
  } else {
    return false;
  }
  if (p - digitsStart > MAX_DIGITS) return false;
  const next = b[p];
  if (next === 0x2e || next === 0x65 || next === 0x45) return false; // fractions and exponents: slow path
  let v = 0;
  for (let i = digitsStart; i < p; i++) v = v * 10 + (b[i] - 0x30);
  numberValue = negative ? -v : v;
  return true;
}

function scanObject(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  p++;
  if (b[p] === 0x7d) {
    p++;
    return true;
  }
  let prevStart = -1;
  let prevEnd = -1;
  for (;;) {
    if (b[p] !== QUOTE) return false;
    const keyStart = p + 1;
    if (!scanKey()) return false;
    const keyEnd = p - 1;
    if (prevStart >= 0 && !keyLess(prevStart, prevEnd, keyStart, keyEnd)) return false;
    prevStart = keyStart;
    prevEnd = keyEnd;
    if (b[p] !== COLON) return false;
    p++;
    if (!scanValue(depth)) return false;
    const c = b[p];
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
  if (b[p] === 0x5d) {
    p++;
    return true;
  }
  for (;;) {
    if (!scanValue(depth)) return false;
    const c = b[p];
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

/** Strictly less, comparing bytes (ASCII keys only, so this is UTF-16 code-unit order). */
function keyLess(as: number, ae: number, bs: number, be: number): boolean {
  const la = ae - as;
  const lb = be - bs;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const x = b[as + i];
    const y = b[bs + i];
    if (x !== y) return x < y;
  }
  return la < lb;
}

function bytesEqual(s: number, e: number, word: Uint8Array): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[s + i] !== word[i]) return false;
  return true;
}

function isHex64(at: number): boolean {
  if (at + 64 > end) return false;
  for (let i = at; i < at + 64; i++) {
    const c = b[i];
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}
