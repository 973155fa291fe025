import { describe, expect, it } from 'vitest';
import { terminalJson, terminalText } from './terminal-text.js';

const HOSTILE = [
  ['ESC sequence (clear screen, cursor home)', 'x\u001b[2J\u001b[Hy'],
  ['C1 CSI (one byte 0x9b)', 'x\u009b31my'],
  ['OSC title set ended by BEL', '\u001b]0;owned\u0007'],
  ['DEL', 'a\u007fb'],
  ['bidi override', 'abc\u202edcba'],
  ['line separator', 'a\u2028b'],
  ['newline forging a line', 'ok\n1\t2026-01-01T00:00:00Z\tforged'],
] as const;

describe('terminal-safe text from the audit log', () => {
  for (const [what, text] of HOSTILE) {
    it(`escapes ${what} in plain text and in JSON`, () => {
      const plain = terminalText(text);
      const json = terminalJson({ sql: text }, 2);
      for (const out of [plain, json]) expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
      expect(plain).not.toContain('\n');
      expect(JSON.parse(json)).toEqual({ sql: text }); // still the same value for a machine
    });
  }

  it('leaves ordinary text alone', () => {
    expect(terminalText('SELECT name, ünïcode FROM t — ok')).toBe('SELECT name, ünïcode FROM t — ok');
  });
});
