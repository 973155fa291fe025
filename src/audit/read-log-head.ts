/**
 * Finds where the next record goes, from the log file itself (never from cached state:
 * other processes append too). Called under the log's lock.
 *
 * Input: an open log file. Output: the last complete record's seq and hash, the byte offset
 * just past its newline, and the torn bytes after it, if any.
 * A complete record is a line ending in a newline that parses as a JSON object with a
 * positive integer `seq` and a 64-hex `hash`. Everything after the last complete record is
 * torn: a final line without newline (a writer killed mid-write) or unparsable bytes (a
 * crash that left a partly written block). Its chain is not checked here: that is
 * verification's job, and the writer only extends whatever head it finds.
 */
import fs from 'node:fs';
import { GENESIS_PREV, isSha256Hex } from './hash-record.js';

export interface LogHead {
  seq: number;
  hash: string;
  /** Bytes up to and including the last complete record's newline. */
  validEnd: number;
  size: number;
  /** The bytes in [validEnd, size), when there are any. */
  torn: Buffer | null;
}

/** More torn bytes than this is not a crash; the writer refuses rather than move them. */
export const MAX_TORN_BYTES = 16 << 20;

export class TornTailTooLargeError extends Error {}

export function readLogHead(fd: number): LogHead {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return { seq: 0, hash: GENESIS_PREV, validEnd: 0, size, torn: null };
  // [lineStart, lineEnd) is the candidate line; it has a newline at lineEnd unless lineEnd === size
  let lineEnd = readByte(fd, size - 1) === 0x0a ? size - 1 : size;
  for (;;) {
    const lineStart = lineStartBefore(fd, lineEnd);
    if (lineEnd < size) {
      const head = parseHead(readRange(fd, lineStart, lineEnd));
      if (head) {
        const validEnd = lineEnd + 1;
        return { ...head, validEnd, size, torn: validEnd < size ? readRange(fd, validEnd, size) : null };
      }
    }
    if (size - lineStart > MAX_TORN_BYTES) {
      throw new TornTailTooLargeError(`the last ${size - lineStart} bytes of the log are not complete records (more than a crash leaves)`);
    }
    if (lineStart === 0) return { seq: 0, hash: GENESIS_PREV, validEnd: 0, size, torn: readRange(fd, 0, size) };
    lineEnd = lineStart - 1;
  }
}

function parseHead(bytes: Buffer): { seq: number; hash: string } | null {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { seq, hash } = v as { seq?: unknown; hash?: unknown };
  if (!Number.isSafeInteger(seq) || (seq as number) < 1 || !isSha256Hex(hash)) return null;
  return { seq: seq as number, hash };
}

/** Offset just past the last newline before `end`, or 0. */
export function lineStartBefore(fd: number, end: number): number {
  const window = Buffer.allocUnsafe(8192);
  let to = end;
  while (to > 0) {
    const from = Math.max(0, to - window.length);
    const n = fs.readSync(fd, window, 0, to - from, from);
    const at = window.subarray(0, n).lastIndexOf(0x0a);
    if (at !== -1) return from + at + 1;
    to = from;
  }
  return 0;
}

function readByte(fd: number, at: number): number {
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  return b[0];
}

function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.allocUnsafe(to - from);
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, from + got);
    if (n === 0) throw new Error(`the log shrank while being read (at byte ${from + got})`);
    got += n;
  }
  return buf;
}
