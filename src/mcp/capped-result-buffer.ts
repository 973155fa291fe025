/**
 * Where a query's JSON result goes when the caller is an MCP tool: an in-memory Writable that
 * keeps at most `capBytes` (+1, to know there was more) and counts the rest, so a huge result
 * never sits in memory; and the split of what it kept into whole rows that fit the cap.
 * The pipeline still streams and records the full result it produced (rows, digest); the
 * tool then shows the rows that fit and says how many it left out.
 */
import { Writable } from 'node:stream';

export class CappedResultBuffer extends Writable {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  /** Every byte the pipeline wrote, kept or not. */
  totalBytes = 0;

  constructor(readonly capBytes: number) {
    super();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this.totalBytes += bytes.length;
    const room = this.capBytes + 1 - this.keptBytes;
    if (room > 0) {
      const part = bytes.length <= room ? bytes : bytes.subarray(0, room);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
    done();
  }

  /** True when everything written was kept and fits the cap. */
  isWhole(): boolean {
    return this.totalBytes <= this.capBytes;
  }

  /** The bytes written, when whole; otherwise the rows of the JSON array that fit the cap, as a JSON array. */
  fittingJson(): { text: string; rowsShown: number } {
    const kept = Buffer.concat(this.kept).toString('utf8');
    const rows = splitJsonArray(kept);
    if (this.isWhole()) return { text: kept, rowsShown: rows.length };
    let text = '[';
    let shown = 0;
    for (const row of rows) {
      const next = (shown === 0 ? '' : ',') + row;
      if (Buffer.byteLength(text, 'utf8') + Buffer.byteLength(next, 'utf8') + 1 > this.capBytes) break;
      text += next;
      shown++;
    }
    return { text: text + ']', rowsShown: shown };
  }
}

/**
 * The complete top-level rows of a (possibly cut) JSON array of row objects, as written:
 * `[{..},{..},{..` gives the first two. Tracks strings and nesting only; the text is the
 * pipeline's own encoder output (objects only), so anything else at the top level ends it.
 */
export function splitJsonArray(text: string): string[] {
  const out: string[] = [];
  let i = text.indexOf('[');
  if (i === -1) return out;
  for (i++; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',' || c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    if (c !== '{') break;
    const end = endOfObject(text, i);
    if (end === -1) break;
    out.push(text.slice(i, end + 1));
    i = end;
  }
  return out;
}

/** Index of the `}` closing the object that opens at `start`, or -1 if the text ends first. */
function endOfObject(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}
