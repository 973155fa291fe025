/**
 * Black-box: the audit log from the command line (issue 5's acceptance). Parallel writers
 * leave a chain that verifies; every way of editing a copy of it — a field, the SQL, a deleted,
 * swapped or inserted line, a cut tail, an edited line re-hashed, the whole rest of the chain
 * re-hashed — makes `audit verify` exit 9 and name the first bad line. Records carry every
 * field of CONTRACT.md, denials their reasons; list/show/export read them back; replay works
 * on recorded ids; an unwritable sink stops the query before the warehouse sees it; raw values
 * of masked columns typed into SQL never reach the log, stdout or stderr.
 * The canonical form is re-implemented here from docs/audit.md (nothing is imported from src).
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { createHash, generateKeyPairSync, sign as signBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, type CliResult, type Demo } from './cli-harness.js';

const J = { HOOPQ_JUSTIFICATION: 'black-box audit test' };
const CONTRACT_FIELDS = ['seq', 'id', 'time', 'event', 'run', 'subject', 'token_id', 'policy', 'justification', 'sql', 'statements', 'tables', 'decision', 'reason', 'masked', 'warehouse', 'rows', 'result_sha256', 'duration_ms', 'prev', 'hash'];

let demo: Demo;
let analyst: string;
let work: string;

beforeAll(() => {
  demo = createDemo();
  analyst = demo.mint('analyst-agent', 'bb-audit');
  work = mkdtempSync(join(tmpdir(), 'hoopq-audit-copies-'));
});

afterAll(() => {
  rmSync(demo.dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const logPath = () => join(demo.dir, 'audit.jsonl');
const logLines = () => readFileSync(logPath(), 'utf8').split('\n').filter(Boolean);

function queryAsync(sql: string, token: string | null = analyst, env: Record<string, string> = {}): Promise<CliResult> {
  return demo.runAsync(['query', '--format', 'json', sql], { env: { ...J, ...(token ? { HOOPQ_TOKEN: token } : {}), ...env } });
}

/** docs/audit.md "Canonical form": keys sorted by UTF-16 code units, no whitespace, JSON.stringify escapes. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/** docs/audit.md "The line as stored": canonical text without hash, then `,"hash":"…"` before the final brace. */
function sealLine(record: Record<string, unknown>): string {
  const { hash: _drop, ...rest } = record;
  const text = canonical(rest);
  return `${text.slice(0, -1)},"hash":"${createHash('sha256').update(text).digest('hex')}"}`;
}

describe('parallel writers, then tampering with copies', () => {
  beforeAll(async () => {
    // select-only policies: DuckDB opens read-only, so the 16 processes share the file
    const other = demo.mint('analyst-agent', 'bb-audit-other');
    const sqls = [
      'SELECT count(*) AS n FROM analytics.events',
      'SELECT * FROM crm.payment_cards',
      'SELECT id, email, ssn FROM customers ORDER BY id LIMIT 3',
      'SELECT event_type, count(*) AS n FROM analytics.events GROUP BY 1 ORDER BY 1',
    ];
    // 16 processes at once: allowed, denied, masked, a second run, no token, no justification
    const results = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => queryAsync(sqls[i % sqls.length]!)),
      ...Array.from({ length: 2 }, () => queryAsync('SELECT count(*) AS n FROM analytics.events', other)),
      queryAsync('SELECT count(*) AS n FROM analytics.events', null),
      queryAsync('SELECT 1', analyst, { HOOPQ_JUSTIFICATION: '' }),
    ]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 5, 5, 5, 5].sort());
    // one more, alone, so that the records the tampering tests pick are never the last line
    expect((await queryAsync('SELECT count(*) AS n FROM analytics.events')).code).toBe(0);
  }, 180_000);

  it('the untouched log verifies (exit 0), seq is contiguous and every prev links', () => {
    const r = demo.run(['audit', 'verify']);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.code).toBe(0);
    const records = demo.auditRecords();
    expect(r.stdout).toContain(`${records.length} records`);
    records.forEach((rec, i) => {
      expect(rec.seq).toBe(i + 1);
      expect(rec.prev).toBe(i === 0 ? '0'.repeat(64) : records[i - 1]!.hash);
    });
    // the test's own canonical form reproduces every stored line byte for byte
    for (const line of logLines()) expect(sealLine(JSON.parse(line))).toBe(line);
  });

  describe('each tampering of a copy exits 9 and names the first bad line', () => {
    let lines: string[];
    let deny: number; // 0-based index of a denied query record
    let allowed: number; // 0-based index of another, allowed query record
    let copies = 0;

    beforeAll(() => {
      lines = logLines();
      deny = lines.findIndex((l) => JSON.parse(l).event === 'query' && JSON.parse(l).decision === 'deny' && JSON.parse(l).code === 'policy.table_denied');
      allowed = lines.findIndex((l) => JSON.parse(l).event === 'query' && JSON.parse(l).decision === 'allow');
      expect(deny).toBeGreaterThan(0);
      expect(allowed).toBeGreaterThan(0);
      expect(Math.max(deny, allowed)).toBeLessThan(lines.length - 2);
    });

    /** Writes the tampered lines and the untouched checkpoints to a fresh folder; verifies with the deployment's keys. */
    function verifyCopy(tampered: string[]): CliResult {
      const dir = join(work, `copy-${++copies}`);
      mkdirSync(dir);
      const file = join(dir, 'audit.jsonl');
      writeFileSync(file, tampered.map((l) => l + '\n').join(''));
      copyFileSync(`${logPath()}.checkpoints`, `${file}.checkpoints`);
      return demo.run(['audit', 'verify', '--file', file]);
    }

    function edit(i: number, change: (r: Record<string, any>) => void, rehash = false): string[] {
      const out = [...lines];
      const r = JSON.parse(out[i]!);
      change(r);
      out[i] = rehash ? sealLine(r) : JSON.stringify(r);
      return out;
    }

    function expectBadLine(r: CliResult, line: number, problem?: RegExp): void {
      expect(r.code).toBe(9);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`line ${line}`);
      if (problem) expect(r.stderr).toMatch(problem);
    }

    it('an exact copy with its checkpoints verifies, signatures included', () => {
      const r = verifyCopy(lines);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/[1-9]\d* signed checkpoint\(s\) verified/);
    });

    it('a field edited (decision deny -> allow)', () => {
      expectBadLine(verifyCopy(edit(deny, (r) => { r.decision = 'allow'; r.reason = null; })), deny + 1, /changed/);
    });

    it('the SQL edited', () => {
      expectBadLine(verifyCopy(edit(allowed, (r) => { r.sql = String(r.sql).replace('SELECT', 'SELECT 1,'); })), allowed + 1, /changed/);
    });

    it('a line deleted', () => {
      expectBadLine(verifyCopy(lines.filter((_, i) => i !== deny)), deny + 1, /missing/);
    });

    it('two lines swapped', () => {
      const out = [...lines];
      [out[deny], out[deny + 1]] = [out[deny + 1]!, out[deny]!];
      expectBadLine(verifyCopy(out), deny + 1);
    });

    it('a line inserted (a copy of an earlier one)', () => {
      // two lines after the original, never right before it (a copy there would be the
      // identical record at its right place, and the original the first bad line)
      const out = [...lines];
      out.splice(deny + 2, 0, lines[deny]!);
      expectBadLine(verifyCopy(out), deny + 3, /out of order|inserted/);
    });

    it('the tail cut (the last 3 lines dropped)', () => {
      expectBadLine(verifyCopy(lines.slice(0, -3)), lines.length - 2, /cut/);
    });

    it('an edited line re-hashed with the documented canonical form', () => {
      const out = edit(deny, (r) => { r.decision = 'allow'; r.reason = null; }, true);
      const r = verifyCopy(out);
      expect(r.code).toBe(9);
      // the edited line is self-consistent: the break is the next line's prev, or the checkpoint signed over it
      expect(r.stderr).toMatch(new RegExp(`line (${deny + 1}|${deny + 2})\\b`));
      expect(Number(/line (\d+)/.exec(r.stderr)?.[1])).toBeLessThanOrEqual(deny + 2);
    });

    it('an edit with the whole rest of the chain re-hashed is caught by the signed checkpoints', () => {
      const out = edit(deny, (r) => { r.decision = 'allow'; r.reason = null; }, true);
      for (let i = deny + 1; i < out.length; i++) {
        const r = JSON.parse(out[i]!);
        r.prev = JSON.parse(out[i - 1]!).hash;
        out[i] = sealLine(r);
      }
      const r = verifyCopy(out);
      expect(r.code).toBe(9);
      // every hash is consistent: only a signature tells, and it narrows the edit to the records
      // since the last checkpoint that still matches; the line named is the first of them
      expect(r.stderr).toMatch(/rewritten/);
      const named = Number(/line (\d+)/.exec(r.stderr)?.[1]);
      expect(named).toBeGreaterThan(0);
      expect(named).toBeLessThanOrEqual(deny + 1);
      const range = /seq (\d+) to (\d+)/.exec(r.stderr);
      expect(Number(range?.[1])).toBeLessThanOrEqual(deny + 1);
      expect(Number(range?.[2])).toBeGreaterThanOrEqual(deny + 1);
    });
  });

  it('a rewrite re-signed with a key of the attacker\'s own fails against the deployment\'s keys, verifies only against the attacker\'s', () => {
    const lines = logLines();
    const deny = lines.findIndex((l) => JSON.parse(l).code === 'policy.table_denied');
    const out = [...lines];
    for (let i = deny; i < out.length; i++) {
      const r = JSON.parse(out[i]!);
      if (i === deny) Object.assign(r, { decision: 'allow', reason: null });
      else r.prev = JSON.parse(out[i - 1]!).hash;
      out[i] = sealLine(r);
    }
    // docs/audit.md "Signed checkpoints": Ed25519 over a prefix line and the canonical checkpoint
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
    const sizes: number[] = [];
    out.reduce((n, l, i) => (sizes[i] = n + Buffer.byteLength(l) + 1), 0);
    const forged = readFileSync(`${logPath()}.checkpoints`, 'utf8').split('\n').filter(Boolean).map((l) => {
      const cp = JSON.parse(l);
      const unsigned = { seq: cp.seq, hash: JSON.parse(out[cp.seq - 1]!).hash, time: cp.time, key_id: keyId, log_size_bytes: sizes[cp.seq - 1] };
      const signature = signBytes(null, Buffer.from('hoopq-audit-checkpoint/v1\n' + canonical(unsigned)), privateKey).toString('base64');
      return canonical({ ...unsigned, signature });
    });
    const dir = mkdtempSync(join(work, 'forged-'));
    const file = join(dir, 'audit.jsonl');
    writeFileSync(file, out.map((l) => l + '\n').join(''));
    writeFileSync(`${file}.checkpoints`, forged.map((l) => l + '\n').join(''));
    const attackerKeys = join(dir, 'keys');
    mkdirSync(attackerKeys);
    writeFileSync(join(attackerKeys, `audit-checkpoint-${keyId}.pub`), publicKey.export({ type: 'spki', format: 'pem' }));

    const trusted = demo.run(['audit', 'verify', '--file', file]);
    expect(trusted.code).toBe(9);
    expect(trusted.stderr).toMatch(/not trusted|signed by/);
    const explicit = demo.run(['audit', 'verify', '--file', file, '--keys', join(demo.dir, '.hoopq', 'keys')]);
    expect(explicit.code).toBe(9);
    // control: the forgery is internally consistent, so trust in the key is all that caught it
    const fooled = demo.run(['audit', 'verify', '--file', file, '--keys', attackerKeys], { cwd: dir, env: { HOOPQ_CONFIG: join(dir, 'none.yaml') } });
    expect(fooled.stderr).toBe('');
    expect(fooled.code).toBe(0);
    expect(fooled.stdout).toContain(`${forged.length} signed checkpoint(s) verified`);
  });

  it('--signatures latest checks only the newest signature, but still compares every checkpoint with the log', () => {
    const lines = logLines();
    const cps = readFileSync(`${logPath()}.checkpoints`, 'utf8').split('\n').filter(Boolean);
    const newest = Math.max(...cps.map((l) => JSON.parse(l).seq));
    const older = cps.findIndex((l) => JSON.parse(l).seq < newest);
    expect(older).toBeGreaterThanOrEqual(0); // 16 processes: a checkpoint each
    const copy = (logText: string[], cpLines: string[]) => {
      const dir = mkdtempSync(join(work, 'latest-'));
      const file = join(dir, 'audit.jsonl');
      writeFileSync(file, logText.map((l) => l + '\n').join(''));
      writeFileSync(`${file}.checkpoints`, cpLines.map((l) => l + '\n').join(''));
      return file;
    };
    // an older checkpoint's signature broken (one byte of it changed)
    const broken = [...cps];
    const cp = JSON.parse(broken[older]!);
    const sig = Buffer.from(cp.signature, 'base64');
    sig[0] ^= 1;
    broken[older] = canonical({ ...cp, signature: sig.toString('base64') });
    const file = copy(lines, broken);
    const all = demo.run(['audit', 'verify', '--file', file]);
    expect(all.code).toBe(9);
    expect(all.stderr).toMatch(/invalid signature/);
    const latest = demo.run(['audit', 'verify', '--file', file, '--signatures', 'latest', '--format', 'json']);
    expect(latest.code).toBe(0);
    expect(JSON.parse(latest.stdout).checkpoints.verified).toBe(cps.filter((l) => JSON.parse(l).seq === newest).length);
    // a record under that older checkpoint, edited and re-hashed down the chain: still caught
    const rewritten = [...lines];
    for (let i = 0; i < rewritten.length; i++) {
      const r = JSON.parse(rewritten[i]!);
      if (i === 0) r.run = 'rewritten';
      else r.prev = JSON.parse(rewritten[i - 1]!).hash;
      rewritten[i] = sealLine(r);
    }
    const caught = demo.run(['audit', 'verify', '--file', copy(rewritten, cps), '--signatures', 'latest']);
    expect(caught.code).toBe(9);
    expect(caught.stderr).toMatch(/chain was rewritten/);
    const bad = demo.run(['audit', 'verify', '--signatures', 'some']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--signatures must be all or latest/);
  });

  it('query records carry every contract field, allowed and denied; denials their reasons', () => {
    const queries = demo.auditRecords().filter((r) => r.event === 'query');
    expect(queries.some((r) => r.decision === 'allow')).toBe(true);
    expect(queries.some((r) => r.decision === 'deny')).toBe(true);
    for (const r of queries) {
      for (const f of CONTRACT_FIELDS) expect(r, `${r.id} ${f}`).toHaveProperty(f);
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(Object.keys(r.policy)).toEqual(expect.arrayContaining(['name', 'sha256']));
      expect(Object.keys(r.tables).sort()).toEqual(['read', 'write']);
      // the contract's two fields, and hoopq's id of the hash key when a hash mask applied
      expect(Object.keys(r.masked).filter((k) => k !== 'hash_key').sort()).toEqual(['columns', 'detected']);
      if ('hash_key' in r.masked) expect(r.masked.hash_key).toMatch(/^[0-9a-f]{16}$/);
      expect(Object.keys(r.warehouse)).toEqual(expect.arrayContaining(['kind', 'job_id', 'bytes_processed']));
      expect(typeof r.sql).toBe('string');
      expect(Array.isArray(r.statements)).toBe(true);
      expect(typeof r.duration_ms).toBe('number');
      if (r.decision === 'deny') {
        expect(typeof r.reason).toBe('string');
        expect(r.reason.length).toBeGreaterThan(10);
      } else {
        expect(r.reason).toBeNull();
        expect(r.result_sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(typeof r.rows).toBe('number');
      }
    }
    const byCode = (code: string) => queries.find((r) => r.code === code);
    expect(byCode('policy.table_denied')).toMatchObject({ tables: { read: ['demo.crm.payment_cards'] }, policy: { name: 'analyst-agent' }, run: 'bb-audit' });
    expect(byCode('token.missing')).toMatchObject({ decision: 'deny', run: null });
    expect(queries.find((r) => r.decision === 'deny' && /justification/i.test(r.reason))).toBeDefined();
    expect(queries.find((r) => r.decision === 'allow' && r.tables.read.includes('demo.crm.customers'))!.masked.columns).toMatchObject({
      'demo.crm.customers.email': 'hash',
      'demo.crm.customers.ssn': 'redact',
    });
  });

  it('audit list filters by run, decision and time; show prints one record; export gives jsonl and OCSF 6005', async () => {
    const records = demo.auditRecords();
    const middle = records[Math.floor(records.length / 2)]!;
    const [byRun, denied, since, show, jsonl, ocsf] = await Promise.all([
      demo.runAsync(['audit', 'list', '--run', 'bb-audit-other', '--format', 'jsonl']),
      demo.runAsync(['audit', 'list', '--decision', 'deny', '--format', 'jsonl']),
      demo.runAsync(['audit', 'list', '--since', middle.time, '--format', 'jsonl']),
      demo.runAsync(['audit', 'show', middle.id]),
      demo.runAsync(['audit', 'export', '--format', 'jsonl']),
      demo.runAsync(['audit', 'export', '--format', 'ocsf']),
    ]);
    const parse = (r: CliResult) => {
      expect(r.code).toBe(0);
      return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    };
    expect(parse(byRun).map((r) => r.id)).toEqual(records.filter((r) => r.run === 'bb-audit-other').map((r) => r.id));
    expect(parse(byRun).length).toBeGreaterThanOrEqual(3); // mint + intent/outcome pairs
    expect(parse(denied).map((r) => r.id)).toEqual(records.filter((r) => r.decision === 'deny').map((r) => r.id));
    expect(parse(since).map((r) => r.id)).toEqual(records.filter((r) => r.time >= middle.time).map((r) => r.id));
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual(middle);
    expect(parse(jsonl)).toEqual(records);

    const events = parse(ocsf);
    expect(events).toHaveLength(records.length);
    events.forEach((e, i) => {
      expect(e.class_uid).toBe(6005);
      expect(e.metadata.uid).toBe(records[i]!.id);
      expect(e.type_uid).toBe(600500 + e.activity_id);
    });
    const deniedQuery = events.find((e) => e.metadata.uid === records.find((r) => r.code === 'policy.table_denied')!.id);
    expect(deniedQuery).toMatchObject({ activity_id: 4, activity_name: 'Query', type_uid: 600504, disposition_id: 2, table: { name: 'demo.crm.payment_cards' } });
    expect(deniedQuery.status_detail).toMatch(/payment_cards/);
  });
});

describe('replay', () => {
  let allowedId: string;
  let allowedIntent: string;
  let deniedId: string;
  let literalId: string;

  beforeAll(async () => {
    await Promise.all([
      queryAsync('SELECT event_type, count(*) AS n FROM analytics.events GROUP BY 1 ORDER BY 1'),
      queryAsync('SELECT card_number FROM crm.payment_cards'),
      queryAsync("SELECT count(*) AS n FROM customers WHERE city = 'Denver'"),
    ]);
    const records = demo.auditRecords().filter((r) => r.event === 'query');
    const outcome = records.find((r) => r.sql === 'SELECT event_type, count(*) AS n FROM analytics.events GROUP BY 1 ORDER BY 1' && r.decision === 'allow' && r.run === 'bb-audit')!;
    allowedId = outcome.id;
    allowedIntent = outcome.intent;
    deniedId = records.find((r) => r.sql === 'SELECT card_number FROM crm.payment_cards')!.id;
    // masked policy: the log shows the literal redacted; replay must still run the exact text
    const literal = records.find((r) => /city = '\[REDACTED\]'/.test(r.sql) && r.decision === 'allow')!;
    expect(literal.sql).not.toContain('Denver');
    literalId = literal.id;
  }, 60_000);

  const replay = (args: string[]) => {
    const r = demo.run(['replay', ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  };

  it('an allowed and a denied record keep their decision; an intent id replays its query', async () => {
    const [a, d, i] = await Promise.all([allowedId, deniedId, allowedIntent].map((id) => demo.runAsync(['replay', id])));
    for (const r of [a, d, i]) expect(r.code).toBe(0);
    expect(JSON.parse(a!.stdout)).toMatchObject({ id: allowedId, same_decision: true, now: { decision: 'allow' }, recorded: { decision: 'allow' } });
    expect(JSON.parse(d!.stdout)).toMatchObject({ id: deniedId, same_decision: true, now: { decision: 'deny', rule: expect.stringMatching(/deny/) }, recorded: { decision: 'deny' } });
    expect(JSON.parse(i!.stdout)).toMatchObject({ id: allowedId, same_decision: true });
  });

  it('--execute reruns under a fresh token and finds the same digest, also for SQL the log shows redacted', () => {
    const a = replay([allowedId, '--execute']);
    expect(a.execution).toMatchObject({ verdict: 'same' });
    expect(a.execution.result_sha256).toBe(a.recorded.result_sha256);
    const l = replay([literalId, '--execute']);
    expect(l.execution).toMatchObject({ verdict: 'same', rows: 1 });
    const rerun = demo.auditRecords().find((r) => r.id === a.execution.record);
    expect(rerun).toMatchObject({ event: 'query', decision: 'allow', replay_of: allowedId });
  });

  it('after the policy is edited to deny the table: decision differs, with why; --execute is now refused', () => {
    const file = join(demo.dir, 'policies', 'analyst-agent.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('    - demo.crm.payment_cards', '    - demo.crm.payment_cards\n    - demo.analytics.events'));
    try {
      const r = replay([allowedId]);
      expect(r.same_decision).toBe(false);
      expect(r.policy.changed).toBe(true);
      expect(r.now.decision).toBe('deny');
      expect(r.why).toMatch(/denies/);
      expect(r.why).toMatch(/analytics\.events/);
      const x = replay([allowedId, '--execute']);
      expect(x.execution.verdict).toBe('now refused');
    } finally {
      writeFileSync(file, original);
    }
  });

  it('refuses an id that is not a query, and an unknown id (exit 2)', async () => {
    const mintId = demo.auditRecords().find((r) => r.event === 'token.mint')!.id;
    const [m, u] = await Promise.all([demo.runAsync(['replay', mintId]), demo.runAsync(['replay', '00000000-0000-0000-0000-000000000000'])]);
    expect(m.code).toBe(2);
    expect(u.code).toBe(2);
  });
});

describe('an unwritable audit sink: exit 8, nothing runs', () => {
  it.each([
    ['a path in a missing directory', './no-such-dir/audit.jsonl', () => {}],
    ['a directory where the log should be', './audit-is-a-dir.jsonl', () => mkdirSync(join(demo.dir, 'audit-is-a-dir.jsonl'))],
  ])('%s', async (_what, auditPath, prepare) => {
    prepare();
    const config = join(demo.dir, `hoopq-broken-${auditPath.length}.yaml`);
    writeFileSync(config, readFileSync(demo.config, 'utf8').replace('audit: ./audit.jsonl', `audit: ${auditPath}`));
    const writer = demo.mint('scratch-writer', `bb-sink-${auditPath.length}`);
    const before = demo.auditRecords().length;
    const r = demo.run(['query', '--format', 'json', 'CREATE TABLE scratch.must_not_exist AS SELECT 1 AS x'], { env: { HOOPQ_CONFIG: config, HOOPQ_TOKEN: writer } });
    expect(r.code).toBe(8);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr.trim()).message).toMatch(/audit/);
    expect(demo.auditRecords().length).toBe(before);
    const db = await DuckDBInstance.create(join(demo.dir, 'demo.duckdb'), { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    try {
      const rows = (await conn.runAndReadAll("SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_name = 'must_not_exist'")).getRowObjectsJson();
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});

describe('raw values of masked columns never reach the log, stdout or stderr', () => {
  it('typed as literals in allowed, denied, unparseable and unauthenticated queries', async () => {
    const db = await DuckDBInstance.create(join(demo.dir, 'demo.duckdb'), { access_mode: 'READ_ONLY' });
    const conn = await db.connect();
    let rows: Array<{ email: string; ssn: string; phone: string }>;
    try {
      rows = (await conn.runAndReadAll('SELECT email, ssn, phone FROM demo.crm.customers ORDER BY id LIMIT 3')).getRowObjectsJson() as typeof rows;
    } finally {
      conn.closeSync();
      db.closeSync();
    }
    const [a, b, c] = rows;
    // the sealing key exists before any agent query (created at mint): parallel first uses never race for it
    expect(statSync(join(demo.dir, '.hoopq', 'keys', 'audit-sql.key')).mode & 0o777).toBe(0o600);
    const digits = (s: string) => s.replace(/\D/g, '');
    const rev = (s: string) => [...s].reverse().join('');
    const hex = (s: string) => Buffer.from(s).toString('hex');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const sqls = [
      `SELECT id FROM customers WHERE ssn = '${a!.ssn}'`,
      `SELECT id FROM customers WHERE email = '${a!.email}'`,
      `SELECT id FROM customers WHERE upper(email) = '${a!.email.toUpperCase()}'`,
      `SELECT id FROM customers WHERE reverse(ssn) = '${rev(b!.ssn)}'`,
      `SELECT id FROM customers WHERE replace(ssn, '-', '') = '${digits(b!.ssn)}'`,
      `SELECT id FROM customers WHERE hex(ssn) = '${hex(c!.ssn)}' OR to_base64(email::BLOB) = '${b64(c!.email)}'`,
      `SELECT id FROM customers WHERE phone = "${c!.phone}"`,
      `SELECT id FROM customers WHERE id = ${digits(a!.ssn)} /* ${b!.email} */`,
      `SELECT id FROM customers WHERE ssn = '${c!.ssn}' ANDD x`,
      `SELECT card_number FROM crm.payment_cards WHERE customer_id = (SELECT id FROM customers WHERE ssn = '${b!.ssn}')`,
      `SELECT email, ssn, phone, notes FROM customers WHERE id <= 3 ORDER BY id`,
    ];
    const results = await Promise.all([...sqls.map((s) => queryAsync(s)), queryAsync(`SELECT id FROM customers WHERE email = '${b!.email}'`, null)]);
    const codes = results.map((r) => r.code);
    // hex()/to_base64() of masked values run (0); a double-quoted "value" is a column DuckDB cannot bind (7)
    expect(codes.slice(0, 8)).toEqual([0, 0, 0, 0, 0, 0, 7, 0]);
    expect(codes.slice(8)).toEqual([6, 5, 0, 4]);
    // masks apply inside WHERE: comparing the masked value to a raw one matches nothing
    expect(JSON.parse(results[0]!.stdout)).toEqual([]);

    const forms = rows
      .flatMap((r) => [r.email, r.ssn, r.phone])
      .flatMap((v) => [v, v.toUpperCase(), v.toLowerCase(), rev(v), hex(v), b64(v).replace(/=+$/, ''), digits(v)])
      .filter((f) => f.length >= 8);
    const haystacks: Array<[string, string]> = [['audit log', readFileSync(logPath(), 'utf8')], ...results.flatMap((r, i) => [[`stdout ${i}`, r.stdout], [`stderr ${i}`, r.stderr]] as Array<[string, string]>)];
    for (const [where, text] of haystacks) {
      for (const f of forms) expect(text.includes(f), `${where} holds ${f}`).toBe(false);
    }
    const redacted = demo.auditRecords().filter((r) => r.event === 'query' && typeof r.sql === 'string' && r.sql.includes('[REDACTED]'));
    expect(redacted.length).toBeGreaterThanOrEqual(8);
  }, 120_000);
});
