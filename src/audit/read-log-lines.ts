/**
 * Streams a JSON Lines file as batches of line ranges, so readers of a large log never hold it
 * whole nor build a string per line they do not need.
 *
 * Input: a path. Output: batches; line i of a batch is buffer[starts[i], ends[i]) without its
 * newline, at file offset `offset + starts[i]`, numbered `firstLine + i` (1-based). Bytes after
 * the file's last newline (a torn final line) come in the last batch's `torn`.
 * - readLogLines: a batch's buffer is only valid until the next batch is requested.
 * - readLogBatches (the two-thread verifier): each batch comes in bytes of its own, taken from
 *   the caller's spares, so it can be moved to another thread and kept while later batches are
 *   read, without copying the batch (copying 1 MB batches was a tenth of the verifier's time).
 * Both are one reader: readLogLines hands readLogBatches two buffers to take in turn.
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

export const BATCH_BYTES = 1 << 20;

/**
 * The complete lines in view: line i is view[starts[i], ends[i]); `lineStart` is where the
 * unfinished rest begins (view.length if none). Newlines are searched from `scanFrom` only:
 * the bytes before it were scanned with the previous read and hold no newline.
 */
function findLines(view: Buffer, scanFrom: number): { starts: number[]; ends: number[]; lineStart: number } {
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
function lastBatch(batch: LogLineBatch, lineStart: number, filled: number): LogLineBatch | null {
  if (lineStart < filled) batch.torn = { start: lineStart, end: filled, line: batch.firstLine + batch.starts.length };
  return batch.starts.length > 0 || batch.torn ? batch : null;
}

export function readLogLines(path: string): AsyncGenerator<LogLineBatch> {
  // two buffers in turn: each take is for the batch after the one the caller holds, and by
  // then the caller is done with the one before (it asked for the next batch)
  const slots = [new ArrayBuffer(0), new ArrayBuffer(0)];
  let turn = 0;
  return readLogBatches(path, (minBytes) => {
    turn ^= 1;
    if (slots[turn].byteLength < minBytes) slots[turn] = new ArrayBuffer(minBytes);
    return slots[turn];
  });
}

/**
 * take(minBytes) returns an ArrayBuffer of at least minBytes that the caller no longer uses;
 * each batch's buffer views its own ArrayBuffer (`buffer.buffer`), which belongs to the caller
 * from then on.
 */
export async function* readLogBatches(path: string, take: (minBytes: number) => ArrayBuffer): AsyncGenerator<LogLineBatch> {
  const file = await open(path, 'r');
  try {
    let bytes = take(BATCH_BYTES);
    let filled = 0; // bytes of the current batch in bytes[0, filled): the previous batch's partial last line
    let offset = 0; // file offset of bytes[0]
    let nextLine = 1;
    for (;;) {
      let buffer = Buffer.from(bytes);
      if (filled === buffer.length) {
        // one line longer than the buffer: a bigger one
        const bigger = take(buffer.length * 2);
        buffer.copy(Buffer.from(bigger), 0, 0, filled);
        bytes = bigger;
        buffer = Buffer.from(bytes);
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
        // the partial last line starts the next batch, in other bytes, which must hold all of
        // it (after a line longer than a batch, it can itself be longer than one)
        const carried = filled - lineStart;
        const next = take(Math.max(BATCH_BYTES, carried));
        buffer.copy(Buffer.from(next), 0, lineStart, filled);
        yield { buffer, starts, ends, firstLine: nextLine, offset };
        nextLine += starts.length;
        bytes = next;
        offset += lineStart;
        filled = carried;
      }
    }
  } finally {
    await file.close();
  }
}
