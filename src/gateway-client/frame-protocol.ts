/**
 * The framing of a query response body (`application/vnd.hoopq.frames`), so that a client
 * learns the final outcome — exit code and error, or rows, digest and notices — AFTER the
 * result bytes, which stream as the warehouse produces them.
 *
 * A frame is 1 byte type, 4 bytes big-endian payload length, the payload:
 *   'D' result bytes, exactly as the direct-mode CLI would write them to stdout;
 *   'N' one notice line (UTF-8, no newline), what the CLI writes to stderr;
 *   'E' the end, JSON: {"ok": true, "outcome": …} or {"ok": false, "error": {code, message, hint, rule?, exit}}.
 * 'E' is always the last frame; a body that ends without one was cut (the client fails closed).
 */
export const FRAMES_CONTENT_TYPE = 'application/vnd.hoopq.frames';

export const FRAME_DATA = 0x44; // 'D'
export const FRAME_NOTICE = 0x4e; // 'N'
export const FRAME_END = 0x45; // 'E'

const HEADER_BYTES = 5;
/** Notices and the end frame are small; a bigger one is a broken or hostile peer. */
const MAX_CONTROL_PAYLOAD = 1 << 20;
/** Data frames are one result batch each; cap them so a peer cannot make us buffer without bound. */
const MAX_DATA_PAYLOAD = 1 << 30;

export function encodeFrame(type: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame[0] = type;
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

export interface FrameHandlers {
  /** Result bytes, possibly a part of one data frame: they are passed on as they arrive. */
  data(chunk: Buffer): void;
  notice(text: string): void;
  end(json: unknown): void;
}

export class FrameProtocolError extends Error {}

/**
 * Incremental decoder. Data payloads are handed on in pieces as they arrive (nothing waits
 * for a whole frame), control frames are collected (bounded) and parsed.
 */
export class FrameDecoder {
  private header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private type = 0;
  private remaining = 0;
  private control: Buffer[] = [];
  private ended = false;

  constructor(private readonly handlers: FrameHandlers) {}

  get isEnded(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.ended) throw new FrameProtocolError('bytes after the end frame');
      if (this.headerFill < HEADER_BYTES) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < HEADER_BYTES) return;
        this.type = this.header[0]!;
        this.remaining = this.header.readUInt32BE(1);
        if (this.type !== FRAME_DATA && this.type !== FRAME_NOTICE && this.type !== FRAME_END) {
          throw new FrameProtocolError(`unknown frame type 0x${this.type.toString(16)}`);
        }
        const max = this.type === FRAME_DATA ? MAX_DATA_PAYLOAD : MAX_CONTROL_PAYLOAD;
        if (this.remaining > max) throw new FrameProtocolError(`frame of ${this.remaining} bytes is too large`);
        if (this.remaining === 0) this.complete();
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      this.remaining -= take;
      if (this.type === FRAME_DATA) this.handlers.data(piece);
      else this.control.push(piece);
      if (this.remaining === 0) this.complete();
    }
  }

  private complete(): void {
    const type = this.type;
    const payload = Buffer.concat(this.control);
    this.control = [];
    this.headerFill = 0;
    if (type === FRAME_NOTICE) this.handlers.notice(payload.toString('utf8'));
    else if (type === FRAME_END) {
      let json: unknown;
      try {
        json = JSON.parse(payload.toString('utf8'));
      } catch {
        throw new FrameProtocolError('the end frame is not JSON');
      }
      this.ended = true;
      this.handlers.end(json);
    }
  }
}
