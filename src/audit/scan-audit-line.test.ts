import { describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';
import { GENESIS_PREV, serializeAuditRecord } from './hash-record.js';
import { FACT_HASH_AT, FACT_IS_RECOVERY, FACT_LINKS_PREVIOUS, FACT_PREV_AT, FACT_SEQ, LINE_FACTS, precheckLines } from './precheck-lines.js';
import { scanAuditLine } from './scan-audit-line.js';

// a small deterministic PRNG so a failure reproduces
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'Z', '"', '\\', '\n', '\t', '\b', '\f', '\r', '\u0000', '\u001f', '\u007f', 'é', '€', '\u2028', '\u{1F600}', '\uD800', '\uDFFF', '/', '{', '}', ',', ':', '[', ']', ' ', '0', '-'];

const PLAIN = ['a', 'Z', ' ', 'SELECT ', '.', 'é', '€', '\u{1F600}', '"', '\\', '\n', '\t', '{', ':'];

/** Mostly text a query would hold; sometimes hostile (control characters, lone surrogates). */
function randomString(r: () => number): string {
  const pieces = r() < 0.2 ? PIECES : PLAIN;
  let s = '';
  const n = Math.floor(r() * 12);
  for (let i = 0; i < n; i++) s += pieces[Math.floor(r() * pieces.length)];
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 5 : 8));
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor((r() - 0.5) * 10 ** Math.floor(r() * 17));
    case 3: return r() < 0.8 ? randomString(r) : (r() - 0.5) * 1000;
    case 4: return randomString(r);
    case 5: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 5);
      for (let i = 0; i < n; i++) define(o, r() < 0.9 ? randomKey(r) : randomString(r), randomValue(r, depth + 1));
      return o;
    }
  }
}

// an own property even for "__proto__", as JSON.parse makes it
function define(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function randomKey(r: () => number): string {
  const keys = ['a', 'b', 'columns', 'hash', 'seq', 'prev', 'event', '10', '9', '__proto__', 'x y', 'Z'];
  return keys[Math.floor(r() * keys.length)];
}

function randomRecord(r: () => number, seq: number): Omit<AuditRecord, 'hash'> {
  const rec: Record<string, unknown> = {
    id: `id-${seq}`,
    time: new Date(1_700_000_000_000 + seq).toISOString(),
    event: r() < 0.1 ? 'log.recovered' : 'query',
    run: randomString(r),
    sql: randomString(r),
    masked: { columns: { [`demo.crm.t.${randomKey(r)}`]: 'hash' }, detected: {} },
    seq,
    prev: GENESIS_PREV,
  };
  const extras = Math.floor(r() * 4);
  for (let i = 0; i < extras; i++) {
    const key = r() < 0.9 ? randomKey(r) : randomString(r);
    if (key !== 'hash' && key !== 'seq' && key !== 'prev') define(rec, key, randomValue(r, 1));
  }
  return rec as unknown as Omit<AuditRecord, 'hash'>;
}

/** Variations an editor, another tool or an attacker could produce. */
function mutate(line: string, r: () => number): string {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  switch (Math.floor(r() * 9)) {
    case 0: return JSON.stringify(parsed, null, 1).replace(/\n/g, ' ');
    case 1: return JSON.stringify(parsed); // V8 order: integer-like keys first, hash wherever it was
    case 2: return line.replace(/"seq":/, '"seq": ');
    case 3: return line.replace(/é/g, '\\u00e9').replace(/a/, '\\u0061');
    case 4: return line.replace(/"hash":"[0-9a-f]{64}"/, (m) => m.toUpperCase().replace('"HASH"', '"hash"'));
    case 5: return line.slice(0, -1) + ',"seq":1}';
    case 6: return line.replace(/"prev":/, '"prev":"x","prev":');
    case 7: {
      const i = Math.floor(r() * line.length);
      return line.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 95)) + line.slice(i + 1);
    }
    default: {
      const i = Math.floor(r() * line.length);
      return line.slice(0, i) + line.slice(i + 1);
    }
  }
}

/** What the slow path concludes about a line. */
function slow(text: string): { seq: unknown; prev: unknown; hash: unknown; canonical: string } | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    const { hash, ...rest } = v;
    return { seq: rest.seq, prev: rest.prev, hash, canonical: canonicalJson(rest) };
  } catch {
    return null;
  }
}

function check(input: string | Buffer) {
  const buf = Buffer.concat([Buffer.from('xx\n'), typeof input === 'string' ? Buffer.from(input, 'utf8') : input, Buffer.from('\nyy')]);
  const start = 3;
  const end = buf.length - 3;
  // what the verifier's slow path sees: the bytes (a lone surrogate in `input` became U+FFFD)
  const text = buf.toString('utf8', start, end);
  const fast = scanAuditLine(buf, start, end);
  if (fast) {
    // the caller only takes the fast path when both values are 64 lower-case hex digits
    const prev = buf.toString('latin1', fast.prevAt, fast.prevAt + 64);
    const hash = buf.toString('latin1', fast.hashAt, fast.hashAt + 64);
    if (!/^[0-9a-f]{64}$/.test(prev) || !/^[0-9a-f]{64}$/.test(hash)) return null;
    const s = slow(text);
    expect(s, `fast path accepted a line the slow path cannot read: ${text}`).not.toBeNull();
    expect(fast.seq).toBe(s!.seq);
    expect(prev).toBe(s!.prev);
    expect(hash).toBe(s!.hash);
    const hashedBytes = Buffer.concat([buf.subarray(start, fast.hashMemberAt), Buffer.from('}')]);
    expect(hashedBytes.toString('utf8')).toBe(s!.canonical);
    expect(Buffer.compare(hashedBytes, Buffer.from(s!.canonical, 'utf8'))).toBe(0);
    expect(fast.isRecovery).toBe((JSON.parse(text) as { event?: unknown }).event === 'log.recovered');
  }
  return fast;
}

describe('scanAuditLine (fast path) agrees with parse + canonicalJson (slow path)', () => {
  it('on 3000 random records as the sink writes them, and takes the fast path for ordinary ones', () => {
    const r = prng(1);
    let fastCount = 0;
    for (let i = 1; i <= 3000; i++) {
      const { line } = serializeAuditRecord(randomRecord(r, i));
      if (check(line)) fastCount++;
    }
    // hostile strings (\u escapes), long numbers and fractions go slow; the rest must go fast
    expect(fastCount).toBeGreaterThan(1000);
  });

  it('on 6000 mutated lines: whenever the fast path answers, it answers what the slow path would', () => {
    const r = prng(2);
    for (let i = 1; i <= 6000; i++) {
      const { line } = serializeAuditRecord(randomRecord(r, i));
      check(mutate(line, r));
    }
  });

  it('on 6000 lines with a random byte replaced (invalid UTF-8, control bytes)', () => {
    const r = prng(3);
    for (let i = 1; i <= 6000; i++) {
      const bytes = Buffer.from(serializeAuditRecord(randomRecord(r, i)).line, 'utf8');
      bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      if (bytes.includes(0x0a)) continue; // a newline splits the line: not one line any more
      check(bytes);
    }
  });

  it('takes the fast path for a realistic query record', () => {
    const { line } = serializeAuditRecord({
      id: '6f1c1f9e-5a7d-4d39-9d1b-1c8f2b9e8a11', time: '2026-11-28T10:00:00.000Z', event: 'query', run: 'nightly-42', subject: 'repo:acme/ml', token_id: 'tok-1',
      policy: { name: 'analyst', sha256: 'a'.repeat(64), token_sha256: null }, justification: 'eval "set" é', sql: "SELECT name\n\tFROM crm.customers WHERE note = 'x\\y'",
      statements: ['select'], tables: { read: ['demo.crm.customers'], write: [] }, decision: 'allow', reason: null, code: null, rule: null,
      masked: { columns: { 'demo.crm.customers.email': 'hash' }, detected: { email: 2 } }, warehouse: { kind: 'duckdb', job_id: null, bytes_processed: 123456789012 },
      rows: 3, result_sha256: 'b'.repeat(64), duration_ms: 12, seq: 7, prev: 'c'.repeat(64),
    });
    const fast = check(line);
    expect(fast).not.toBeNull();
    expect(fast!.seq).toBe(7);
  });

  it.each([
    ['hash not last', (l: string) => { const o = JSON.parse(l); const { hash, ...rest } = o; return JSON.stringify({ hash, ...rest }); }],
    ['duplicate key', (l: string) => l.replace('"event":"query"', '"event":"query","event":"query"')],
    ['whitespace', (l: string) => l.replace('"seq":', '"seq": ')],
    ['a \\u escape', (l: string) => l.replace('"run":"r"', '"run":"\\u0072"')],
    ['a fraction', (l: string) => l.replace('"rows":1', '"rows":1.5')],
    ['an upper-case hash', (l: string) => l.replace(/"hash":"([0-9a-f]{64})"/, (_m, h: string) => `"hash":"${h.toUpperCase()}"`)],
    ['an escaped character in prev', (l: string) => l.replace(/"prev":"0/, '"prev":"\\u0030').replace(/0"/, '"')],
    ['trailing garbage', (l: string) => l + ' '],
  ])('declines a line with %s', (_name, edit) => {
    const { line } = serializeAuditRecord({ id: 'i', time: 't', event: 'query', run: 'r', rows: 1, seq: 1, prev: GENESIS_PREV } as unknown as Omit<AuditRecord, 'hash'>);
    expect(check(line)).not.toBeNull();
    expect(check(edit(line))).toBeNull();
  });
});

describe('precheckLines over a whole batch agrees with each line checked alone', () => {
  // one latin1 string per group of lines: the positions of the next backslash, non-ASCII and
  // control byte are carried from line to line, and a line's scan must never read its neighbours
  it('on batches mixing good, mutated, corrupted and hostile lines, most chained to the one before', () => {
    const r = prng(4);
    for (let round = 0; round < 40; round++) {
      const lines: Buffer[] = [];
      let lastHash = GENESIS_PREV;
      for (let i = 1; i <= 150; i++) {
        const chained = r() < 0.8;
        const { line, record } = serializeAuditRecord({ ...randomRecord(r, i), prev: chained ? lastHash : GENESIS_PREV });
        lastHash = record.hash;
        const kind = r();
        let bytes = Buffer.from(kind < 0.5 ? line : kind < 0.8 ? mutate(line, r) : line, 'utf8');
        if (kind >= 0.8) {
          bytes = Buffer.from(bytes);
          bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
        }
        // cut lines: an unterminated string or object must not run on into the next line
        if (r() < 0.05) bytes = bytes.subarray(0, Math.floor(r() * bytes.length));
        if (bytes.includes(0x0a)) continue;
        lines.push(bytes);
      }
      const batch = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
      const starts: number[] = [];
      const ends: number[] = [];
      let at = 0;
      for (const l of lines) {
        starts.push(at);
        ends.push(at + l.length);
        at += l.length + 1;
      }
      const before = Buffer.from(batch);
      const together = precheckLines(batch, starts, ends);
      expect(batch.equals(before)).toBe(true); // the buffer is left as it was
      let fast = 0;
      let linked = 0;
      lines.forEach((l, i) => {
        const alone = precheckLines(Buffer.from(l), [0], [l.length]);
        const got = Array.from(together.subarray(i * LINE_FACTS, (i + 1) * LINE_FACTS));
        // offsets are the batch's, shifted by where the line starts
        const want = alone[FACT_SEQ] === 0 ? [0, 0, 0, 0] : [alone[FACT_SEQ], alone[FACT_PREV_AT] + starts[i], alone[FACT_HASH_AT] + starts[i], alone[FACT_IS_RECOVERY]];
        expect(got.slice(0, 4), `line ${i + 1} of round ${round}: ${l.toString('utf8')}`).toEqual(want);
        // linked: this line and the one before both passed, and this prev is that hash
        const p = (i - 1) * LINE_FACTS;
        const links =
          i > 0 && got[FACT_SEQ] > 0 && together[p + FACT_SEQ] > 0 &&
          batch.toString('latin1', got[FACT_PREV_AT], got[FACT_PREV_AT] + 64) === batch.toString('latin1', together[p + FACT_HASH_AT], together[p + FACT_HASH_AT] + 64);
        expect(got[FACT_LINKS_PREVIOUS], `link of line ${i + 1} of round ${round}`).toBe(links ? 1 : 0);
        if (got[FACT_SEQ] > 0) fast++;
        if (links) linked++;
      });
      expect(fast).toBeGreaterThan(20);
      expect(linked).toBeGreaterThan(5);
    }
  });
});
