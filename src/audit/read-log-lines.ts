/**
 * Streams a JSON Lines file as batches of line ranges over one reused buffer, so readers of
 * a large log never hold it whole nor build a string per line they do not need.
 *
 * Input: a path. Output: batches; line i of a batch is buffer[starts[i], ends[i]) without its
 * newline, at file offset `offset + starts[i]`, numbered `firstLine + i` (1-based). Bytes after
 * the file's last newline (a torn final line) come in the last batch's `torn`.
 * Invariant: a batch's buffer is only valid until the next batch is requested.
 */
import { open } from 'node:fs/promises';

export interface LogLineBatch {
  buffer: Buffer;
  starts: number[];
  ends: number[];
  firstLine: number;
  /** File offset of buffer[0]. */
  offset: number;
  /** Bytes after the last newline at end of file: [start, end) in buffer, on the last batch. */
  torn?: { start: number; end: number; line: number };
}

const CHUNK_BYTES = 1 << 20;

/**
 * The complete lines in view: line i is view[starts[i], ends[i]); `lineStart` is where the
 * unfinished rest begins (view.length if none). Newlines are searched from `scanFrom` only:
 * the bytes before it were scanned with the previous read and hold no newline.
 */
export function findLines(view: Buffer, scanFrom: number): { starts: number[]; ends: number[]; lineStart: number } {
  const starts: number[] = [];
  const ends: number[] = [];
  let lineStart = 0;
  let nl = view.indexOf(0x0a, scanFrom);
  while (nl !== -1) {
    starts.push(lineStart);
    ends.push(nl);
    lineStart = nl + 1;
    nl = view.indexOf(0x0a, lineStart);
  }
  return { starts, ends, lineStart };
}

/**
 * The batch at end of file: its complete lines plus, when bytes follow the last newline
 * (buffer[lineStart, filled)), those as the torn final line. Null when there is neither.
 */
export function lastBatch(batch: LogLineBatch, lineStart: number, filled: number): LogLineBatch | null {
  if (lineStart < filled) batch.torn = { start: lineStart, end: filled, line: batch.firstLine + batch.starts.length };
  return batch.starts.length > 0 || batch.torn ? batch : null;
}

export async function* readLogLines(path: string): AsyncGenerator<LogLineBatch> {
  const file = await open(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let filled = 0; // bytes in buffer[0, filled)
    let offset = 0; // file offset of buffer[0]
    let nextLine = 1;
    for (;;) {
      if (filled === buffer.length) {
        // one line longer than the buffer: grow it
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, offset + filled);
      const scanFrom = filled;
      filled += bytesRead;
      const { starts, ends, lineStart } = findLines(buffer.subarray(0, filled), scanFrom);
      if (bytesRead === 0) {
        const last = lastBatch({ buffer, starts, ends, firstLine: nextLine, offset }, lineStart, filled);
        if (last) yield last;
        return;
      }
      if (starts.length > 0) {
        yield { buffer, starts, ends, firstLine: nextLine, offset };
        nextLine += starts.length;
        // keep the partial last line at the front of the buffer
        buffer.copy(buffer, 0, lineStart, filled);
        offset += lineStart;
        filled -= lineStart;
      }
    }
  } finally {
    await file.close();
  }
}
