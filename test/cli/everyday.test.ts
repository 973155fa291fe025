/**
 * Black-box: the everyday experience of an operator and an agent. Listings piped into
 * `head -1` end quietly with exit 0; operating-system faults are exit-coded user errors with
 * a hint; an empty HOOPQ_CONFIG or HOOPQ_TOKEN is understood; quickstart does not nest;
 * a misspelt column under masks is told without quoting the rewrite; explain --exit-code
 * gates like query; help says what agents need; hoopq query's JSON types
 * follow one rule per SQL type; progress lines (query, audit export, policy backtest) appear
 * on a terminal only.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOPQ, createDemo, hoopq, type Demo } from './cli-harness.js';

let demo: Demo;
let token: string;
let bigLog: string;
const J = 'everyday test';

beforeAll(() => {
  demo = createDemo();
  token = demo.mint('analyst-agent', 'everyday');
  // a log far larger than a pipe's buffer, so a reader that stops early makes hoopq's next write fail
  const line = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8').split('\n')[0]!;
  bigLog = join(demo.dir, 'big-audit.jsonl');
  writeFileSync(bigLog, (line + '\n').repeat(20_000));
}, 120_000);

afterAll(() => rmSync(demo.dir, { recursive: true, force: true }));

/** Runs `hoopq ARGS | head -1` in a shell; hoopq's own exit code and stderr. */
function pipedIntoHead(args: string[], env: Record<string, string> = {}): { code: number; stderr: string; first: string } {
  const errFile = join(demo.dir, `pipe-${process.hrtime.bigint()}.err`);
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${HOOPQ}" ${quoted} 2>"${errFile}" | head -1; echo "exit=\${PIPESTATUS[0]}" >&2`], {
    encoding: 'utf8',
    cwd: demo.dir,
    env: { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J, ...env },
  });
  const code = Number(/exit=(\d+)/.exec(r.stderr)?.[1]);
  return { code, stderr: readFileSync(errFile, 'utf8'), first: r.stdout };
}

describe('a pipe closed by its reader ends quietly with exit 0', () => {
  it.each([
    [['audit', 'list', '--file', '$BIG']],
    [['audit', 'list', '--format', 'jsonl', '--file', '$BIG']],
    [['audit', 'export', '--file', '$BIG']],
    [['audit', 'export', '--format', 'ocsf', '--file', '$BIG']],
    [['query', '--format', 'ndjson', '-n', '1000', 'SELECT * FROM analytics.events']],
    [['query', '--format', 'prettyjson', '--max-rows', '1000', 'SELECT * FROM analytics.events']],
    [['bq', '--format=prettyjson', 'query', '-n', '1000', 'SELECT * FROM analytics.events']],
    [['bq', 'head', '-n', '1000', 'analytics.events']],
    [['bq', 'ls']],
    [['ls', 'analytics']],
    [['token', 'list']],
  ])('%j | head -1', (args) => {
    const r = pipedIntoHead(args.map((a) => (a === '$BIG' ? bigLog : a)));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.first.length).toBeGreaterThan(0);
  });
});

describe('operating-system faults are user errors with an exit code and a hint, never "a bug"', () => {
  let busy: Server;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  it('gateway --listen on a busy port: exit 2, the address, what to do', () => {
    const port = (busy.address() as { port: number }).port;
    const r = demo.admin(['gateway', '--listen', `127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use\\. Stop the process that holds it, or pass --listen`));
    expect(r.stderr).not.toMatch(/bug|internal/i);
  });

  it('a configuration file that is a folder: exit 3 with the path, not a bug', () => {
    const r = hoopq(['ls'], { cwd: demo.dir, env: { HOOPQ_CONFIG: join(demo.dir, 'policies'), HOOPQ_TOKEN: token } });
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(/bug|internal/i);
  });
});

describe('environment variables as people set them', () => {
  it('HOOPQ_CONFIG= (empty) means unset: ./hoopq.yaml is used', () => {
    const r = hoopq(['ls', '--format=json'], { cwd: demo.dir, env: { HOOPQ_CONFIG: '', HOOPQ_TOKEN: token } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((d: { id: string }) => d.id)).toEqual(['demo:analytics', 'demo:crm']);
  });

  it('HOOPQ_TOKEN= (a mint that failed inside $(…)) is refused with its likely cause', () => {
    const r = hoopq(['query', 'SELECT 1'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: '' } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^hoopq: run token refused: no run token was given: HOOPQ_TOKEN is set but empty\. The command that set it probably failed/);
  });
});

describe('ls of a dataset it cannot list', () => {
  it('a dataset a read rule reaches but that holds no readable table: exit 6, never an empty table', () => {
    writeFileSync(join(demo.dir, 'policies', 'wide.yaml'), 'name: wide\ntables:\n  read: ["demo.*.*"]\n  deny: ["demo.crm.payment_cards"]\n');
    const wide = demo.mint('wide', 'everyday-wide');
    const r = demo.run(['ls', 'nosuchds'], { env: { HOOPQ_TOKEN: wide } });
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^hoopq: refused: dataset demo\.nosuchds holds no table this run may read/);
    const ok = demo.run(['ls', 'crm', '--format=json'], { env: { HOOPQ_TOKEN: wide } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('payment_cards');
  });
});

describe('query: rows and types', () => {
  it('--max_rows=1 gets one row and no "result cut" notice; a cut by the policy is still told', () => {
    const r = demo.run(['query', '--max_rows=1', '--format', 'csv', 'SELECT id FROM analytics.events'], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
    const cut = demo.run(['query', '--format', 'csv', 'SELECT id FROM analytics.events'], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
    expect(cut.stderr).toBe('hoopq: result cut at 1000 rows (limit max_rows of policy analyst-agent)\n');
  });

  it('JSON: every integer type a number (count(*) too), DECIMAL an exact string, NaN a string', () => {
    const sql = 'SELECT count(*) AS n, 1::INTEGER AS i, 9007199254740993::BIGINT AS big, 12.50::DECIMAL(10,2) AS d, 2.5::DOUBLE AS f, \'nan\'::DOUBLE AS nan FROM analytics.events';
    const r = demo.run(['query', '--format', 'json', sql], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[\{"n":\d+,"i":1,"big":9007199254740993,"d":"12.50","f":2.5,"nan":"NaN"\}\]\n$/);
  });
});

describe('a mistake in the SQL over masked columns', () => {
  it("a misspelt column: exit 7 naming the column and the candidates, never quoting the mask rewrite the caller did not write", () => {
    const r = demo.run(['query', '--format', 'json', "SELECT nme FROM crm.customers WHERE city <> 'Atlantis-9931'"], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
    expect(r.code).toBe(7);
    const e = JSON.parse(r.stderr);
    expect(e.message).toMatch(/column "nme" not found/);
    expect(e.message).toContain('"name"'); // DuckDB's candidate
    expect(e.message).not.toMatch(/REPLACE|sha256|LINE \d|Atlantis/);
    expect(e.hint).toContain('hoopq explain');
    const logged = demo.auditRecords().at(-1)!;
    expect(logged).toMatchObject({ code: 'warehouse.sql_error', exit_code: 7 });
    expect(logged.reason).not.toMatch(/REPLACE|sha256/);
    // a table without masks: the same message, naming the column; the engine's quote of the SQL
    // it ran is never shown (sanitizeError keeps only the engine's own words, issue 12), and the
    // hint does not send the caller to explain for a rewrite there was none of
    const plain = demo.run(['query', '--format', 'json', 'SELECT nme FROM analytics.events'], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
    expect(plain.code).toBe(7);
    const p = JSON.parse(plain.stderr);
    expect(p.message).toMatch(/column "nme" not found/);
    expect(p.message).not.toMatch(/LINE \d/);
    expect(p.hint).not.toContain('hoopq explain');
  });
});

describe('explain --exit-code', () => {
  const explain = (sql: string, extra: string[] = []) => demo.run(['explain', ...extra, sql], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
  it('exits with the code query would, after printing the explanation', () => {
    const denied = explain('SELECT * FROM crm.payment_cards', ['--exit-code']);
    expect(denied.code).toBe(5);
    expect(JSON.parse(denied.stdout)).toMatchObject({ decision: 'deny', exit_code: 5 });
    expect(explain('SELECT * FROM read_csv(\'/etc/passwd\')', ['--exit-code']).code).toBe(6);
    expect(explain('SELECT 1', ['--exit-code']).code).toBe(0);
    expect(explain('SELECT * FROM crm.payment_cards').code).toBe(0); // without the flag, explaining is a success
  });
});

describe('help', () => {
  it('hoopq --help names the environment and the exit codes', () => {
    const r = hoopq(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('HOOPQ_GATEWAY');
    expect(r.stdout).toContain('HOOPQ_TOKEN');
    expect(r.stdout).toMatch(/Exit codes:[\s\S]*5 denied by policy/);
    expect(r.stdout).toContain('docs/reference.md');
  });

  it('query --help lists bq\'s spellings and the exit codes; no default is printed twice', () => {
    const q = hoopq(['query', '--help']);
    expect(q.stdout).toContain('--use_legacy_sql=false');
    expect(q.stdout).toContain('--max_rows=N');
    expect(q.stdout).toMatch(/Exit codes: 0 ok/);
    const mint = hoopq(['token', 'mint', '--help']).stdout;
    expect(mint).toMatch(/--ttl <duration> +lifetime, e\.g\. 30m, 1h \(at most 12h\) \(default: "1h"\)/);
    expect(mint).not.toMatch(/default 1h/);
  });

  it('a policy with an unknown key points at the policy keys, not the configuration\'s', () => {
    const file = join(demo.dir, 'bad-policy.yaml');
    writeFileSync(file, 'name: bad-policy\ntabels: {}\n');
    const r = demo.admin(['policy', 'validate', file]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('docs/reference.md ("Policy keys")');
    expect(r.stderr).not.toContain('configuration.md');
  });
});

describe('quickstart', () => {
  it('run inside a demo folder, it refuses to nest a second demo', () => {
    const r = hoopq(['quickstart', '--no-tour'], { cwd: demo.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hoopq: refused to create a demo in \.\/hoopq-demo: this folder holds hoopq\.yaml/);
    expect(existsSync(join(demo.dir, 'hoopq-demo'))).toBe(false);
  });

  it('"Next:" mints a fresh run id, so export HOOPQ_TOKEN=$(…) never gets an empty token', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-qs-'));
    try {
      const r = hoopq(['quickstart', join(dir, 'demo')], { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('RUN=explore-$(date +%s)');
      expect(r.stderr).toContain('token mint --policy analyst-agent --run $RUN');
      expect(r.stderr).not.toContain('my-first-run');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('progress on a terminal, and only there', () => {
  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('audit export over a large log draws a live line on a TTY; none in a pipe or with --quiet', () => {
    const huge = join(demo.dir, 'huge-audit.jsonl');
    writeFileSync(huge, readFileSync(bigLog, 'utf8').repeat(10)); // 200,000 records
    const command = `"${process.execPath}" "${HOOPQ}" audit export --file "${huge}" > /dev/null`;
    const tty = spawnSync('script', ['-q', '-e', '-c', command, '/dev/null'], { encoding: 'utf8', cwd: demo.dir, env: { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, TERM: 'dumb' } });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/hoopq: audit export: [\d.]+s, [\d,]+ records exported/);
    const quiet = spawnSync('script', ['-q', '-e', '-c', command.replace('audit export', '--quiet audit export'), '/dev/null'], { encoding: 'utf8', cwd: demo.dir, env: { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, TERM: 'dumb' } });
    expect(quiet.stdout).not.toContain('hoopq: audit export:');
    const piped = demo.admin(['audit', 'export', '--file', huge]);
    expect(piped.stderr).toBe('');
  }, 300_000);
  it.skipIf(!hasScript)('policy backtest over a large log counts the queries replayed on a TTY; nothing in a pipe', () => {
    expect(demo.run(['query', 'SELECT 1 AS x'], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } }).code).toBe(0);
    const record = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"query"') && l.includes('"decision":"allow"'))
      .at(-1)!;
    const log = join(demo.dir, 'backtest-audit.jsonl');
    writeFileSync(log, (record + '\n').repeat(100_000));
    const command = `"${process.execPath}" "${HOOPQ}" policy backtest --policy analyst-agent --file "${log}" > /dev/null`;
    const tty = spawnSync('script', ['-q', '-e', '-c', command, '/dev/null'], { encoding: 'utf8', cwd: demo.dir, env: { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, TERM: 'dumb' } });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/hoopq: policy backtest: [\d.]+s, [\d,]+ quer(y|ies) replayed/);
    const piped = demo.admin(['policy', 'backtest', '--policy', 'analyst-agent', '--file', log]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain('hoopq: policy backtest:');
  }, 300_000);

  it.skipIf(!hasScript)('a long query draws elapsed time and its stage on a TTY; nothing in a pipe', () => {
    // billions of joined rows counted: seconds of work for DuckDB, one row of result
    const sql = 'SELECT count(*) AS n FROM analytics.events a, analytics.events b, (SELECT 1 FROM analytics.events LIMIT 160) c';
    const env = { PATH: process.env.PATH, HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J, TERM: 'dumb' };
    const tty = spawnSync('script', ['-q', '-e', '-c', `"${process.execPath}" "${HOOPQ}" query --format csv "${sql}" > /dev/null`, '/dev/null'], { encoding: 'utf8', cwd: demo.dir, env });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/\r\u001b\[2Khoopq: query: [\d.]+s, running/);
    const piped = demo.run(['query', '--format', 'csv', sql], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J } });
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
  }, 300_000);
});
