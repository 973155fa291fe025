/**
 * Black-box: policies as code (issue 17's acceptance). Against a quickstart demo and an audit
 * log written by real `hoopq query` runs: a proposed policy that newly allows a denied table
 * and newly unmasks a column is backtested, and every record whose decision or masks change is
 * reported with its id (and no other); sealed SQL is replayed exactly and never printed.
 * `policy test` on passing, failing and invalid files: exit codes 0, 10 and 3, and JUnit XML
 * a CI system reads. `policy diff`, `policy schema` and `explain --format pretty` from outside.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, type CliResult, type Demo } from './cli-harness.js';

let demo: Demo;
let analyst: string;
let later: string;
const SECRET_LITERAL = 'ada.secret@example.org';

/** The queries the log records, with what the proposed policy changes for them. */
const QUERIES = {
  cards: 'SELECT * FROM crm.payment_cards', // denied by tables.deny -> allowed
  cardsByBrand: "SELECT id FROM crm.payment_cards WHERE brand = 'Visa'", // denied, sealed (a literal) -> allowed
  cardsViaView: 'SELECT brand, spent FROM analytics.card_spend', // denied through a view -> allowed
  email: 'SELECT id, email FROM crm.customers ORDER BY id LIMIT 2', // email hashed -> clear
  emailByValue: `SELECT id FROM crm.customers WHERE email = '${SECRET_LITERAL}'`, // masked, sealed -> email unmasked
  events: 'SELECT event_type, count(*) AS n FROM analytics.events GROUP BY 1 ORDER BY 1', // unchanged
  directory: 'SELECT city FROM crm.customer_directory ORDER BY city LIMIT 1', // email hashed through a view -> clear
  delete: 'DELETE FROM analytics.events', // denied by statements, unchanged
  unanalysable: "SELECT * FROM read_csv('/etc/passwd')", // exit 6, unchanged
};

function query(sql: string, token: string, env: Record<string, string> = {}): CliResult {
  return demo.run(['query', '--format', 'json', sql], { env: { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'policy-as-code test', ...env } });
}

function proposedPolicy(): string {
  const current = readFileSync(join(demo.dir, 'policies', 'analyst-agent.yaml'), 'utf8');
  const proposed = current
    .replace('  deny:\n    - demo.crm.payment_cards\n', '  deny: []\n')
    .replace('    - demo.crm.customers\n', '    - demo.crm.customers\n    - demo.crm.payment_cards\n')
    .replace('  demo.crm.customers.email: hash\n', '');
  expect(proposed).not.toBe(current);
  expect(proposed).not.toContain('email: hash');
  const file = join(demo.dir, 'proposed-analyst.yaml');
  writeFileSync(file, proposed);
  return file;
}

beforeAll(() => {
  demo = createDemo();
  analyst = demo.mint('analyst-agent', 'pac-run-1');
  later = demo.mint('analyst-agent', 'pac-run-2');
  const writer = demo.mint('scratch-writer', 'pac-writer');
  const expected: Record<string, number> = { cards: 5, cardsByBrand: 5, cardsViaView: 5, email: 0, emailByValue: 0, events: 0, directory: 0, delete: 5, unanalysable: 6 };
  for (const [name, sql] of Object.entries(QUERIES)) expect(query(sql, analyst).code, name).toBe(expected[name]);
  // a second run repeats some (the same SQL decided once, reported for every record)
  expect(query(QUERIES.cards, later).code).toBe(5);
  expect(query(QUERIES.email, later).code).toBe(0);
  // another policy's records are out of scope by default
  expect(query('SELECT count(*) AS n FROM analytics.events', writer).code).toBe(0);
  // refused before the policy decided: no justification is a policy decision; a bad token is not
  expect(query(QUERIES.events, analyst, { HOOPQ_JUSTIFICATION: '' }).code).toBe(5);
  expect(query(QUERIES.events, 'not-a-token').code).toBe(4);
}, 180_000);

afterAll(() => rmSync(demo.dir, { recursive: true, force: true }));

/** Outcome records (event query) of analyst-agent whose SQL, as executed, is one of `sqls`. */
function recordIds(sqls: string[], filter: (r: Record<string, any>) => boolean = () => true): string[] {
  // the log shows SQL under a masking policy with its string literals redacted
  const logged = new Set(sqls.map((s) => s.replace(/'[^']*'/g, "'[REDACTED]'")));
  return demo
    .auditRecords()
    .filter((r) => r.event === 'query' && r.policy?.name === 'analyst-agent' && logged.has(r.sql) && filter(r))
    .map((r) => r.id)
    .sort();
}

describe('policy backtest', () => {
  let report: Record<string, any>;
  let text: CliResult;

  beforeAll(() => {
    const file = proposedPolicy();
    const json = demo.run(['policy', 'backtest', '--policy', file, '--format', 'json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    report = JSON.parse(json.stdout);
    text = demo.run(['policy', 'backtest', '--policy', file]);
    expect(text.code).toBe(0);
  }, 120_000);

  const idsOf = (kind: string) => (report.changes[kind].groups as Array<{ records: string[] }>).flatMap((g) => g.records).sort();

  it('reports every newly allowed record, with its id, grouped by the rule that refused it', () => {
    const expected = recordIds([QUERIES.cards, QUERIES.cardsByBrand, QUERIES.cardsViaView], (r) => r.decision === 'deny');
    expect(expected).toHaveLength(4);
    expect(idsOf('deny_to_allow')).toEqual(expected);
    expect(report.changes.deny_to_allow.records).toBe(4);
    for (const g of report.changes.deny_to_allow.groups) {
      expect(g.rule).toBe('tables.deny');
      expect(g.count).toBe(g.records.length);
      expect(g.tables).toContain('demo.crm.payment_cards');
      expect(g.example.recorded.decision).toBe('deny');
      expect(g.example.now.decision).toBe('allow');
      expect(g.records).toContain(g.example.id);
    }
  });

  it('reports every record that newly sees a column unmasked, with its id and its intent', () => {
    const expected = recordIds([QUERIES.email, QUERIES.emailByValue, QUERIES.directory], (r) => r.decision === 'allow');
    expect(expected).toHaveLength(4);
    const groups = report.changes.masks_removed.groups as Array<Record<string, any>>;
    expect(groups.map((g) => [g.column, g.from])).toEqual([['demo.crm.customers.email', 'hash']]);
    expect(idsOf('masks_removed')).toEqual(expected);
    const intents = demo.auditRecords().filter((r) => expected.includes(r.id)).map((r) => r.intent).sort();
    expect([...groups[0]!.intents].sort()).toEqual(intents);
    expect(groups[0]!.example.now.masks).not.toHaveProperty('demo.crm.customers.email');
    expect(groups[0]!.example.recorded.masks['demo.crm.customers.email']).toBe('hash');
  });

  it('reports nothing else, counts what it replayed and what it skipped', () => {
    expect(idsOf('allow_to_deny')).toEqual([]);
    expect(idsOf('masks_added')).toEqual([]);
    expect(idsOf('masks_changed')).toEqual([]);
    const inScope = demo.auditRecords().filter((r) => r.event === 'query' && r.policy?.name === 'analyst-agent');
    // the bad token's record names no policy: out of scope, like the writer's
    expect(report.replayed).toBe(inScope.length);
    expect(report.changed).toBe(8);
    expect(report.unchanged).toBe(inScope.length - 8);
    expect(report.other_policies['scratch-writer']).toBe(1);
    expect(report.distinct_sql).toBeLessThan(report.replayed);
  });

  it('prints every changed record id in the text report too', () => {
    for (const id of [...idsOf('deny_to_allow'), ...idsOf('masks_removed')]) expect(text.stdout).toContain(id);
    expect(text.stdout).toMatch(/denied -> allowed: 4 queries/);
    expect(text.stdout).toMatch(/masks removed: 4 queries/);
    expect(text.stdout).toMatch(/demo\.crm\.customers\.email: was hash, now unmasked/);
  });

  it('replays the sealed exact SQL but never prints a literal the log keeps sealed', () => {
    const sealed = demo.auditRecords().filter((r) => r.event === 'query' && typeof r.sql_sealed === 'string');
    expect(sealed.length).toBeGreaterThan(0);
    expect(JSON.stringify(report)).not.toContain(SECRET_LITERAL);
    expect(text.stdout).not.toContain(SECRET_LITERAL);
    // the sealed `WHERE brand = '…'` query was decided on its exact text: it is among the newly allowed
    const sealedCards = sealed.filter((r) => r.sql.includes("brand = '[REDACTED]'")).map((r) => r.id);
    expect(sealedCards).toHaveLength(1);
    expect(idsOf('deny_to_allow')).toEqual(expect.arrayContaining(sealedCards));
  });

  it('--run and --since narrow the records replayed', () => {
    const file = join(demo.dir, 'proposed-analyst.yaml');
    const one = JSON.parse(demo.run(['policy', 'backtest', '--policy', file, '--run', 'pac-run-2', '--format', 'json']).stdout);
    expect(one.replayed).toBe(2);
    expect(one.changed).toBe(2);
    const none = JSON.parse(demo.run(['policy', 'backtest', '--policy', file, '--since', new Date(Date.now() + 60_000).toISOString(), '--format', 'json']).stdout);
    expect(none.replayed).toBe(0);
  });

  it('without the sealing key, sealed records are skipped and counted, not guessed from the redacted text', () => {
    const key = join(demo.dir, '.hoopq', 'keys', 'audit-sql.key');
    renameSync(key, `${key}.away`);
    try {
      const r = demo.run(['policy', 'backtest', '--policy', join(demo.dir, 'proposed-analyst.yaml'), '--format', 'json']);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      const sealed = demo.auditRecords().filter((x) => x.event === 'query' && x.policy?.name === 'analyst-agent' && typeof x.sql_sealed === 'string');
      expect(out.skipped.sealed_sql_unreadable).toBe(sealed.length);
      expect(out.replayed).toBe(report.replayed - sealed.length);
      expect(r.stderr).toMatch(/sealed SQL were skipped/);
    } finally {
      renameSync(`${key}.away`, key);
    }
  });

  it('the current policy itself changes nothing', () => {
    const r = JSON.parse(demo.run(['policy', 'backtest', '--policy', 'analyst-agent', '--format', 'json']).stdout);
    expect(r.changed).toBe(0);
    expect(r.unchanged).toBe(r.replayed);
  });

  it('a proposal that denies what was allowed reports allowed -> denied with the new rule and table', () => {
    const file = join(demo.dir, 'stricter.yaml');
    writeFileSync(file, readFileSync(join(demo.dir, 'policies', 'analyst-agent.yaml'), 'utf8').replace('  deny:\n', '  deny:\n    - demo.analytics.events\n'));
    const r = JSON.parse(demo.run(['policy', 'backtest', '--policy', file, '--format', 'json']).stdout);
    const expected = recordIds([QUERIES.events], (x) => x.decision === 'allow');
    expect(expected.length).toBeGreaterThan(0);
    const groups = r.changes.allow_to_deny.groups as Array<Record<string, any>>;
    expect(groups.map((g) => [g.rule, g.table])).toEqual([['tables.deny', 'demo.analytics.events']]);
    expect(groups[0]!.records.sort()).toEqual(expected);
  });

  it('a new policy (a name the log has never seen) is backtested against every recorded query, and the report says so', () => {
    const file = join(demo.dir, 'analyst-agent-v2.yaml');
    writeFileSync(file, readFileSync(join(demo.dir, 'proposed-analyst.yaml'), 'utf8').replace('name: analyst-agent', 'name: analyst-agent-v2'));
    const r = JSON.parse(demo.run(['policy', 'backtest', '--policy', file, '--format', 'json']).stdout);
    expect(r.scope).toMatchObject({ recorded_policy: null });
    expect(r.scope.note).toMatch(/no query of policy analyst-agent-v2/);
    expect(idsOf('deny_to_allow').every((id) => r.changes.deny_to_allow.groups.some((g: { records: string[] }) => g.records.includes(id)))).toBe(true);
    const strict = JSON.parse(demo.run(['policy', 'backtest', '--policy', file, '--recorded-policy', 'analyst-agent-v2', '--format', 'json']).stdout);
    expect(strict.replayed).toBe(0);
  });

  it('refuses an unknown proposal with a usage error', () => {
    const r = demo.run(['policy', 'backtest', '--policy', 'nope.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such file/);
  });
});

describe('policy test', () => {
  const failing = `policy: analyst-agent
justification: black-box
tests:
  - name: cards stay denied
    sql: SELECT * FROM crm.payment_cards
    expect: { decision: deny, rule: tables.deny, exit_code: 5 }
  - name: a wrong expectation <&>
    sql: SELECT email FROM crm.customers
    expect:
      decision: allow
      masks: { demo.crm.customers.email: redact }
`;

  it('the quickstart ships passing tests for its two policies: exit 0', () => {
    const r = demo.run(['policy', 'test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/policies\/analyst-agent\.test\.yaml/);
    expect(r.stdout).toMatch(/policies\/scratch-writer\.test\.yaml/);
    expect(r.stdout).toMatch(/(\d+) tests: \1 passed, 0 failed/);
  });

  it('--format junit: one testsuite per file, one testcase per case, no failures, exit 0', () => {
    const r = demo.run(['policy', 'test', '--format', 'junit']);
    expect(r.code).toBe(0);
    const xml = r.stdout;
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')).toBe(true);
    expect(xml).toMatch(/<testsuites name="hoopq policy test" tests="(\d+)" failures="0" errors="0"/);
    expect(xml.match(/<testsuite /g)).toHaveLength(2);
    const cases = xml.match(/<testcase /g)!.length;
    expect(Number(/<testsuites [^>]*tests="(\d+)"/.exec(xml)![1])).toBe(cases);
    expect(xml).not.toMatch(/<failure/);
  });

  it('a failing case: exit 10, the diff in text, a <failure> in JUnit with the expected and actual masks', () => {
    const file = join(demo.dir, 'failing.test.yaml');
    writeFileSync(file, failing);
    const r = demo.run(['policy', 'test', file]);
    expect(r.code).toBe(10);
    expect(r.stdout).toMatch(/✓ cards stay denied/);
    expect(r.stdout).toMatch(/✗ a wrong expectation/);
    expect(r.stdout).toContain('- demo.crm.customers.email: redact');
    expect(r.stdout).toContain('+ demo.crm.customers.email: hash');
    expect(r.stdout).toMatch(/2 tests: 1 passed, 1 failed/);
    expect(r.stderr).toMatch(/1 of 2 policy tests failed/);
    const j = demo.run(['policy', 'test', '--format', 'junit', file]);
    expect(j.code).toBe(10);
    expect(j.stdout).toMatch(/<testsuites name="hoopq policy test" tests="2" failures="1" errors="0"/);
    expect(j.stdout).toMatch(/<testcase name="cards stay denied" classname="analyst-agent"[^>]*\/>/);
    expect(j.stdout).toMatch(/<testcase name="a wrong expectation &lt;&amp;&gt;"[^>]*>\s*<failure message="masks: expected \{demo\.crm\.customers\.email: redact\}, got [^"]*" type="PolicyExpectation">[^<]*- demo\.crm\.customers\.email: redact/);
    // well-formed enough for a CI parser: every testcase is closed
    expect(j.stdout.match(/<testcase /g)!.length).toBe((j.stdout.match(/<testcase [^>]*\/>/g) ?? []).length + (j.stdout.match(/<\/testcase>/g) ?? []).length);
  });

  it('a test file that is not valid: exit 3 with file:line:col, the other files still reported', () => {
    const bad = join(demo.dir, 'bad.test.yaml');
    writeFileSync(bad, 'policy: analyst-agent\ntests:\n  - name: x\n    sql: SELECT 1\n    expect: { decision: perhaps }\n');
    const r = demo.run(['policy', 'test', bad, join(demo.dir, 'policies', 'analyst-agent.test.yaml')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad\.test\.yaml:5:\d+: invalid policy test file/);
    expect(r.stdout).toMatch(/analyst-agent\.test\.yaml/);
    const j = demo.run(['policy', 'test', '--format', 'junit', bad]);
    expect(j.code).toBe(3);
    expect(j.stdout).toMatch(/errors="1"/);
    expect(j.stdout).toMatch(/<error message="[^"]*bad\.test\.yaml:5/);
  });

  it('a test file naming an unknown policy cannot run: exit 3', () => {
    const f = join(demo.dir, 'ghost.test.yaml');
    writeFileSync(f, 'tests:\n  - name: x\n    sql: SELECT 1\n    expect: { decision: allow }\n');
    const r = demo.run(['policy', 'test', f]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no policy "ghost"/);
  });

  it('test files beside the policies are not policies: policy validate still passes', () => {
    const r = demo.run(['policy', 'validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\.test\.yaml/);
  });
});

describe('policy diff, policy schema, explain --format pretty', () => {
  it('diff says what the proposal grants, in the rules and in the warehouse', () => {
    const r = demo.run(['policy', 'diff', join(demo.dir, 'policies', 'analyst-agent.yaml'), proposedPolicy()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Grants:\n(.*\n)*  \+ tables\.deny: no longer denies demo\.crm\.payment_cards/);
    expect(r.stdout).toMatch(/\+ columns: no longer masks demo\.crm\.customers\.email \(was hash\)/);
    expect(r.stdout).toMatch(/\+ demo\.crm\.payment_cards becomes readable/);
    expect(r.stdout).toMatch(/\+ demo\.crm\.customers\.email: hash -> clear when reading demo\.crm\.customer_directory, demo\.crm\.customers/);
  });

  it('schema prints the JSON Schema of policies (and of the config and test files)', () => {
    const policy = JSON.parse(demo.run(['policy', 'schema']).stdout);
    expect(policy.properties.tables.properties.deny.items.pattern).toBeDefined();
    expect(policy.additionalProperties).toBe(false);
    expect(JSON.parse(demo.run(['policy', 'schema', 'config']).stdout).properties.warehouse.oneOf).toHaveLength(2);
    expect(JSON.parse(demo.run(['policy', 'schema', 'test']).stdout).required).toEqual(['tests']);
    expect(demo.run(['policy', 'schema', 'nope']).code).toBe(2);
    // the quickstart's files name schemas that exist beside them
    for (const [file, schema] of [['hoopq.yaml', 'schema/hoopq.schema.json'], ['policies/analyst-agent.yaml', 'schema/policy.schema.json']]) {
      const ref = /^# yaml-language-server: \$schema=(\S+)$/m.exec(readFileSync(join(demo.dir, file), 'utf8'))![1]!;
      expect(join(demo.dir, file, '..', ref)).toBe(join(demo.dir, schema));
      expect(JSON.parse(readFileSync(join(demo.dir, schema), 'utf8')).$schema).toMatch(/json-schema\.org/);
    }
  });

  it('explain --format pretty: the verdict and the rule, what is read through the view, what is masked and how', () => {
    const denied = demo.run(['explain', '--format', 'pretty', '--policy', 'analyst-agent', '--justification', 'x', QUERIES.cardsViaView]);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toMatch(/^DENIED \(exit 5\) by rule tables\.deny of policy analyst-agent/);
    expect(denied.stdout).toMatch(/demo\.analytics\.card_spend \(view over demo\.analytics\.events, demo\.crm\.payment_cards\)/);
    const masked = demo.run(['explain', '--format', 'pretty', '--policy', 'analyst-agent', '--justification', 'x', QUERIES.email]);
    expect(masked.stdout).toMatch(/^ALLOWED under policy analyst-agent/);
    expect(masked.stdout).toMatch(/demo\.crm\.customers\.email\s+hash\s+hex SHA-256 of the value/);
    expect(demo.run(['explain', '--format', 'yaml', '--policy', 'analyst-agent', 'SELECT 1']).code).toBe(2);
  });
});
