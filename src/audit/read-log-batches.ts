/**
 * readLogLines (read-log-lines.ts) for the two-thread verifier: each batch comes in bytes of
 * its own, taken from the caller's spares, so it can be moved to another thread and kept
 * while later batches are read, without copying the batch (copying 1 MB batches was a tenth
 * of the verifier's time).
 *
 * Input: a path and take(minBytes), which returns an ArrayBuffer of at least minBytes that
 * the caller no longer uses. Output: LogLineBatch values exactly as readLogLines yields (same
 * lines, numbers, offsets and torn tail); each batch's buffer views its own ArrayBuffer
 * (`buffer.buffer`), which belongs to the caller from then on.
 */
import { open } from 'node:fs/promises';
import { findLines, lastBatch, type LogLineBatch } from './read-log-lines.js';

export const BATCH_BYTES = 1 << 20;

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
        // the partial last line starts the next batch, in other bytes
        const next = take(BATCH_BYTES);
        const carried = filled - lineStart;
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
