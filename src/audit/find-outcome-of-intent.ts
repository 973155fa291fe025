/**
 * Whether the log already holds an outcome for an intent record, read from the end back to
 * the intent itself (recovery asks about recent intents, so this reads little).
 *
 * Input: the log's path and an intent record's id. Output: 'outcome' when a record with
 * `intent` equal to that id follows it, 'intent-only' when the intent is there without one,
 * 'no-intent' when the intent is not in the log at all.
 * Lines that cannot hold the id are not parsed; a torn last line is not a record.
 */
import fs from 'node:fs';
import { lineStartBefore } from './read-log-head.js';

export type IntentOutcomeState = 'outcome' | 'intent-only' | 'no-intent';

const WINDOW = 1 << 16;

export function findOutcomeOfIntent(logPath: string, intentId: string): IntentOutcomeState {
  let fd: number;
  try {
    fd = fs.openSync(logPath, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'no-intent';
    throw err;
  }
  const needle = JSON.stringify(intentId);
  try {
    // what follows the last newline is a torn line, not a record
    let end = lineStartBefore(fd, fs.fstatSync(fd).size);
    let carry = Buffer.alloc(0); // the end of a line (with its newline) whose beginning is further back
    while (end > 0) {
      const start = Math.max(0, end - WINDOW);
      const chunk = Buffer.allocUnsafe(end - start);
      fs.readSync(fd, chunk, 0, chunk.length, start);
      const text = Buffer.concat([chunk, carry]);
      const firstNewline = start > 0 ? chunk.indexOf(0x0a) : -1;
      if (start > 0 && firstNewline === -1) {
        carry = text; // one line longer than the window: read further back
        end = start;
        continue;
      }
      // the line before the first newline may be cut at `start`: keep it for the next window
      carry = start > 0 ? text.subarray(0, firstNewline + 1) : Buffer.alloc(0);
      const lines = text.toString('utf8', start > 0 ? firstNewline + 1 : 0).split('\n');
      lines.pop(); // the text always ends with a newline: the last piece is empty
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i]!;
        if (!line.includes(needle)) continue;
        let record: { id?: unknown; intent?: unknown } | undefined;
        try {
          record = JSON.parse(line) as { id?: unknown; intent?: unknown };
        } catch {
          continue;
        }
        if (record?.intent === intentId) return 'outcome';
        if (record?.id === intentId) return 'intent-only';
      }
      end = start;
    }
    return 'no-intent';
  } finally {
    fs.closeSync(fd);
  }
}
