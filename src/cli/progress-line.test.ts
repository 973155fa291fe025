import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgressLine, formatBytes, formatCount, formatElapsed, progressWanted } from './progress-line.js';

const ERASE = '\r\u001b[2K';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  return { stream, text: () => text };
}

describe('createProgressLine', () => {
  let clock = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 0;
  });
  afterEach(() => vi.useRealTimers());
  const tick = (ms: number) => {
    clock += ms;
    vi.advanceTimersByTime(ms);
  };

  it('silent before the delay; then elapsed time and the latest detail, redrawn in place; erased at the end', () => {
    const out = sink();
    const line = createProgressLine(out.stream, { label: 'audit verify', enabled: true, now: () => clock, delayMs: 500, intervalMs: 200 });
    line.update('10 records checked');
    tick(400);
    expect(out.text()).toBe(''); // quick work never shows a line
    tick(200);
    expect(out.text()).toBe(`${ERASE}hoopq: audit verify: 0.6s, 10 records checked`);
    line.update('20 records checked');
    tick(200);
    expect(out.text().endsWith(`${ERASE}hoopq: audit verify: 0.8s, 20 records checked`)).toBe(true);
    line.stop();
    expect(out.text().endsWith(ERASE)).toBe(true);
    const drawn = out.text();
    tick(1000);
    expect(out.text()).toBe(drawn); // stopped: nothing more
  });

  it('a polled detail is formatted only when drawn', () => {
    const out = sink();
    const detail = vi.fn(() => '5 queries replayed');
    const line = createProgressLine(out.stream, { label: 'policy backtest', enabled: true, now: () => clock, detail });
    tick(400);
    expect(detail).not.toHaveBeenCalled();
    tick(200);
    expect(detail).toHaveBeenCalledTimes(1);
    expect(out.text()).toContain('hoopq: policy backtest: 0.6s, 5 queries replayed');
    line.stop();
  });

  it('disabled (a pipe, --quiet, JSON output): writes nothing at all', () => {
    const out = sink();
    const line = createProgressLine(out.stream, { label: 'query', enabled: false, now: () => clock });
    line.update('1 row');
    tick(10_000);
    line.clear();
    line.stop();
    expect(out.text()).toBe('');
  });

  it('clear before a message on stderr erases only a drawn line', () => {
    const out = sink();
    const line = createProgressLine(out.stream, { label: 'query', enabled: true, now: () => clock });
    line.clear();
    expect(out.text()).toBe('');
    tick(600);
    line.clear();
    expect(out.text().endsWith(ERASE)).toBe(true);
    line.stop();
  });
});

describe('progress helpers', () => {
  it('wanted only on a terminal without --quiet', () => {
    expect(progressWanted({ isTTY: true }, false)).toBe(true);
    expect(progressWanted({ isTTY: true }, true)).toBe(false);
    expect(progressWanted({ isTTY: false }, false)).toBe(false);
    expect(progressWanted({}, undefined)).toBe(false);
  });

  it.each([
    [formatElapsed(1234), '1.2s'],
    [formatElapsed(61_000), '1m01s'],
    [formatCount(1, 'row'), '1 row'],
    [formatCount(1204, 'row'), '1,204 rows'],
    [formatCount(2, 'query', 'queries'), '2 queries'],
    [formatBytes(512), '512 B'],
    [formatBytes(1536), '1.5 KiB'],
    [formatBytes(3 * 1024 ** 3), '3.0 GiB'],
  ])('%s is %s', (got, want) => expect(got).toBe(want));
});
