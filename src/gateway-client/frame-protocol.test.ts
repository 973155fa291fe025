import { describe, expect, it } from 'vitest';
import { FRAME_DATA, FRAME_END, FRAME_NOTICE, FrameDecoder, FrameProtocolError, encodeFrame } from './frame-protocol.js';

function decodeAll(bytes: Buffer, splitAt: (i: number) => boolean = () => false) {
  const data: Buffer[] = [];
  const notices: string[] = [];
  const ends: unknown[] = [];
  const d = new FrameDecoder({ data: (c) => data.push(Buffer.from(c)), notice: (n) => notices.push(n), end: (j) => ends.push(j) });
  let start = 0;
  for (let i = 1; i <= bytes.length; i++) {
    if (i === bytes.length || splitAt(i)) {
      d.push(bytes.subarray(start, i));
      start = i;
    }
  }
  return { data: Buffer.concat(data), notices, ends, ended: d.isEnded };
}

describe('frame protocol', () => {
  const payload = Buffer.from('[{"a":1},\n{"b":"é\u0000"}]\n', 'utf8');
  const stream = Buffer.concat([
    encodeFrame(FRAME_DATA, payload.subarray(0, 7)),
    encodeFrame(FRAME_DATA, Buffer.alloc(0)),
    encodeFrame(FRAME_DATA, payload.subarray(7)),
    encodeFrame(FRAME_NOTICE, 'hoopq: result cut at 7 rows'),
    encodeFrame(FRAME_END, JSON.stringify({ ok: true, outcome: { rows: 2 } })),
  ]);

  it.each([
    ['whole', () => false],
    ['byte by byte', () => true],
    ['every 3 bytes', (i: number) => i % 3 === 0],
    ['random splits', () => Math.random() < 0.2],
  ])('round-trips the bytes exactly when split %s', (_what, split) => {
    const r = decodeAll(stream, split);
    expect(r.data.equals(payload)).toBe(true);
    expect(r.notices).toEqual(['hoopq: result cut at 7 rows']);
    expect(r.ends).toEqual([{ ok: true, outcome: { rows: 2 } }]);
    expect(r.ended).toBe(true);
  });

  it('a stream cut before the end frame is not ended', () => {
    const r = decodeAll(stream.subarray(0, stream.length - 3));
    expect(r.ended).toBe(false);
    expect(r.ends).toEqual([]);
  });

  it.each([
    ['an unknown frame type', Buffer.from([0x58, 0, 0, 0, 0])],
    ['an oversized notice', Buffer.concat([Buffer.from([FRAME_NOTICE]), Buffer.from([0x10, 0, 0, 0])])],
    ['an end frame that is not JSON', encodeFrame(FRAME_END, '{nope')],
    ['bytes after the end', Buffer.concat([encodeFrame(FRAME_END, '{}'), encodeFrame(FRAME_DATA, 'x')])],
  ])('refuses %s', (_what, bytes) => {
    expect(() => decodeAll(bytes)).toThrow(FrameProtocolError);
  });
});
