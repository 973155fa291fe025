/**
 * The JSON Schemas editors use and the validators hoopq uses must agree: on a corpus of valid
 * and invalid files, a JSON Schema validator (ajv, draft 2020-12, with formats) and hoopq's own
 * loaders (loadPolicy, loadConfig, loadPolicyTestFile) give the same verdict, and it is the
 * expected one. The shipped schema/*.json must be exactly what the zod objects generate.
 * Files are written as named by their rule of the form `NAME.yaml` / `NAME.test.yaml`, so the
 * rules about file names, which a JSON Schema cannot see, hold by construction.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { DEMO_CONFIG } from '../quickstart/demo-files.js';
import { EDITOR_SCHEMAS, editorJsonSchema, editorJsonSchemaText, type EditorSchemaName } from './editor-schemas.js';
import { loadPolicyTestFile } from './load-policy-test-file.js';
import { loadPolicy } from './load-policy.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'hoopq-schema-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
addFormats.default(ajv);
const validators = {
  policy: ajv.compile(editorJsonSchema('policy')),
  config: ajv.compile(editorJsonSchema('config')),
  test: ajv.compile(editorJsonSchema('test')),
};

let serial = 0;
/** hoopq's verdict: the loader accepts the file, or throws a ConfigError (exit 3). */
function hoopqAccepts(kind: EditorSchemaName, text: string): boolean {
  const sub = join(dir, String(++serial));
  mkdirSync(sub);
  try {
    if (kind === 'policy') {
      const name = /^name: (\S+)$/m.exec(text)?.[1] ?? 'unnamed';
      const file = join(sub, `${/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) ? name : 'unnamed'}.yaml`);
      writeFileSync(file, text);
      loadPolicy(file, { nameMatchesFile: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) });
    } else if (kind === 'config') {
      const file = join(sub, 'hoopq.yaml');
      writeFileSync(file, text);
      loadConfig(file);
    } else {
      const file = join(sub, 'analyst-agent.test.yaml');
      writeFileSync(file, text);
      loadPolicyTestFile(file);
    }
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return false;
  }
}

function schemaAccepts(kind: EditorSchemaName, text: string): boolean {
  return validators[kind](parseYaml(text) ?? {}) === true;
}

const FULL_POLICY = `name: full
description: an analyst
statements: [select, insert]
tables:
  read: ["demo.analytics.*", "demo.crm.customers"]
  write: ["demo.scratch.*"]
  deny: ["demo.crm.payment_cards"]
columns:
  "demo.crm.customers.email": hash
  "*.*.*.phone": partial
detect: [email, iban]
limits: { max_rows: 10, max_queries: 3, max_bytes_billed: 10GiB, timeout: 90s }
require_justification: true
identity:
  - issuer: https://token.actions.githubusercontent.com
    claims: { repository: acme/ml, run_attempt: 1, fork: false }
    audience: [hoopq, other]
impersonate: agent@acme-prod.iam.gserviceaccount.com
allow_external_query: false
`;

/** [what, file text, valid?] */
const POLICIES: Array<[string, string, boolean]> = [
  ['full policy', FULL_POLICY, true],
  ['minimal policy', 'name: min\n', true],
  ['audience as one string', 'name: a\nidentity:\n  - issuer: https://issuer.example\n    audience: hoopq\n', true],
  ['size as a number of bytes', 'name: a\nlimits: { max_bytes_billed: 1000000 }\n', true],
  ['size with spaces', 'name: a\nlimits: { max_bytes_billed: " 1.5 GiB " }\n', true],
  ['tiny positive size', 'name: a\nlimits: { max_bytes_billed: 0.0001KB }\n', true],
  ['duration as seconds', 'name: a\nlimits: { timeout: 2.5 }\n', true],
  ['duration in days', 'name: a\nlimits: { timeout: 1d }\n', true],
  ['tiny positive duration', 'name: a\nlimits: { timeout: 0.1ms }\n', true],
  ['empty tables block', 'name: a\ntables: {}\n', true],
  ['name with dots', 'name: team.analyst-1\n', true],
  ['missing name', 'statements: [select]\n', false],
  ['empty file', '', false],
  ['unknown top-level key', 'name: a\nstatments: [select]\n', false],
  ['unknown key in tables', 'name: a\ntables:\n  reed: []\n', false],
  ['unknown key in limits', 'name: a\nlimits: { rows: 3 }\n', false],
  ['unknown key in identity', 'name: a\nidentity:\n  - issuer: https://issuer.example\n    subject: x\n', false],
  ['bad statement kind', 'name: a\nstatements: [exec]\n', false],
  ['statements not a list', 'name: a\nstatements: select\n', false],
  ['bad mask method', 'name: a\ncolumns:\n  "a.b.c.d": scramble\n', false],
  ['three-part column glob', 'name: a\ncolumns:\n  "b.c.d": hash\n', false],
  ['five-part column glob (a field of a STRUCT column)', 'name: a\ncolumns:\n  "a.b.c.d.e": hash\n', true],
  ['metadata table glob', 'name: a\ntables:\n  read: ["p.region-us.INFORMATION_SCHEMA.JOBS"]\n', true],
  ['routines and destinations', 'name: a\nroutines:\n  allow: ["p.udfs.*"]\ndestinations: ["gs://b/x/*", "p.us.conn"]\n', true],
  ['two-part routine glob', 'name: a\nroutines:\n  allow: ["udfs.f"]\n', false],
  ['a destination neither URI nor connection', 'name: a\ndestinations: ["bucket"]\n', false],
  ['unknown key in routines', 'name: a\nroutines:\n  call: []\n', false],
  ['empty part in column glob', 'name: a\ncolumns:\n  "a..c.d": hash\n', false],
  ['two-part table glob', 'name: a\ntables:\n  read: ["crm.customers"]\n', false],
  ['four-part table glob', 'name: a\ntables:\n  deny: ["a.b.c.d"]\n', false],
  ['trailing dot in table glob', 'name: a\ntables:\n  write: ["a.b."]\n', false],
  ['bad detector', 'name: a\ndetect: [passport]\n', false],
  ['zero max_rows', 'name: a\nlimits: { max_rows: 0 }\n', false],
  ['fractional max_queries', 'name: a\nlimits: { max_queries: 1.5 }\n', false],
  ['negative max_rows', 'name: a\nlimits: { max_rows: -1 }\n', false],
  ['bad duration', 'name: a\nlimits: { timeout: soon }\n', false],
  ['zero duration', 'name: a\nlimits: { timeout: 0s }\n', false],
  ['zero seconds', 'name: a\nlimits: { timeout: 0 }\n', false],
  ['duration without unit', 'name: a\nlimits: { timeout: "60" }\n', false],
  ['bad size', 'name: a\nlimits: { max_bytes_billed: lots }\n', false],
  ['zero size', 'name: a\nlimits: { max_bytes_billed: 0GiB }\n', false],
  ['fractional byte count', 'name: a\nlimits: { max_bytes_billed: 1.5 }\n', false],
  ['bad size unit', 'name: a\nlimits: { max_bytes_billed: 10GB/s }\n', false],
  ['issuer not a URL', 'name: a\nidentity:\n  - issuer: not a url\n', false],
  ['issuer missing', 'name: a\nidentity:\n  - claims: { repository: acme/ml }\n', false],
  ['claim value a list', 'name: a\nidentity:\n  - issuer: https://issuer.example\n    claims: { repository: [a, b] }\n', false],
  ['impersonate not an email', 'name: a\nimpersonate: agent-at-acme\n', false],
  ['require_justification a string', 'name: a\nrequire_justification: "yes"\n', false],
  ['bad name characters', 'name: "bad name"\n', false],
  ['name starting with a dot', 'name: .hidden\n', false],
  ['policy not a mapping', '- name: a\n', false],
];

const CONFIGS: Array<[string, string, boolean]> = [
  ['the quickstart config', DEMO_CONFIG, true],
  ['duckdb, path only', 'warehouse: { kind: duckdb, path: ./w.duckdb }\n', true],
  ['bigquery, every key', 'warehouse:\n  kind: bigquery\n  project: acme-prod\n  location: US\n  credentials: ./sa.json\n  api_endpoint: http://127.0.0.1:9050\n  iam_endpoint: http://127.0.0.1:9051\n  default_project: acme-prod\n  default_dataset: crm\npolicies: ./p\naudit: https://gw.example:8765\nkeys: ./k\nstate: ./s.db\ngateway: https://gw.example:8765\naudit_checkpoint_every: 1000\n', true],
  ['missing warehouse', 'policies: ./policies\n', false],
  ['empty file', '', false],
  ['duckdb without path', 'warehouse: { kind: duckdb }\n', false],
  ['duckdb with an empty path', 'warehouse: { kind: duckdb, path: "" }\n', false],
  ['bigquery without project', 'warehouse: { kind: bigquery, location: US }\n', false],
  ['unknown kind', 'warehouse: { kind: snowflake, path: ./x }\n', false],
  ['kind missing', 'warehouse: { path: ./x.duckdb }\n', false],
  ['bigquery key on duckdb', 'warehouse: { kind: duckdb, path: ./w.duckdb, location: US }\n', false],
  ['duckdb key on bigquery', 'warehouse: { kind: bigquery, project: p, path: ./w.duckdb }\n', false],
  ['unknown top-level key', 'warehouse: { kind: duckdb, path: ./w.duckdb }\npolicy: ./p\n', false],
  ['api_endpoint not a URL', 'warehouse: { kind: bigquery, project: p, api_endpoint: localhost }\n', false],
  ['gateway not a URL', 'warehouse: { kind: duckdb, path: ./w.duckdb }\ngateway: not a url\n', false],
  ['checkpoint every 0', 'warehouse: { kind: duckdb, path: ./w.duckdb }\naudit_checkpoint_every: 0\n', false],
  ['checkpoint every too many', 'warehouse: { kind: duckdb, path: ./w.duckdb }\naudit_checkpoint_every: 1000001\n', false],
  ['policies a number', 'warehouse: { kind: duckdb, path: ./w.duckdb }\npolicies: 3\n', false],
];

const TEST_CASE = `  - name: counts by city
    sql: SELECT city, count(*) FROM customers GROUP BY city
    expect: { decision: allow }
`;
const TESTS: Array<[string, string, boolean]> = [
  ['one case', `tests:\n${TEST_CASE}`, true],
  [
    'every key',
    `policy: analyst-agent
justification: nightly checks
tests:
  - name: masked
    sql: SELECT email FROM crm.customers
    justification: null
    expect:
      decision: deny
      exit_code: 5
      rule: require_justification
      code: policy.justification_required
      reason_includes: justification
      statements: [select]
      tables: { read: [demo.crm.customers], write: [] }
      masks: { demo.crm.customers.email: hash }
`,
    true,
  ],
  ['rule null when allowed', `tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: allow, rule: null, code: null, masks: {} }\n`, true],
  ['no tests', 'tests: []\n', false],
  ['tests missing', 'policy: analyst-agent\n', false],
  ['empty file', '', false],
  ['case without expect', 'tests:\n  - name: a\n    sql: SELECT 1\n', false],
  ['expect without decision', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { rule: tables.deny }\n', false],
  ['bad decision', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: maybe }\n', false],
  ['case without sql', 'tests:\n  - name: a\n    expect: { decision: allow }\n', false],
  ['empty name', 'tests:\n  - name: ""\n    sql: SELECT 1\n    expect: { decision: allow }\n', false],
  ['unknown key in a case', 'tests:\n  - name: a\n    sql: SELECT 1\n    expected: { decision: allow }\n    expect: { decision: allow }\n', false],
  ['unknown key in expect', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: allow, masked: {} }\n', false],
  ['unknown top-level key', `policy: a\nfixtures: []\ntests:\n${TEST_CASE}`, false],
  ['exit code out of range', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: deny, exit_code: 42 }\n', false],
  ['bad statement kind', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: allow, statements: [query] }\n', false],
  ['two-part table', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: allow, tables: { read: [crm.customers] } }\n', false],
  ['bad mask method', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: allow, masks: { a.b.c.d: blur } }\n', false],
  ['three-part mask column', 'tests:\n  - name: a\n    sql: SELECT 1\n    expect: { decision: allow, masks: { b.c.d: hash } }\n', false],
  ['bad policy name', `policy: "two words"\ntests:\n${TEST_CASE}`, false],
];

describe('JSON Schema and validator agree', () => {
  const shipped = (kind: EditorSchemaName, folder: string, match: RegExp) =>
    readdirSync(join(ROOT, folder))
      .filter((f) => match.test(f))
      .map((f) => [`shipped ${folder}/${f}`, readFileSync(join(ROOT, folder, f), 'utf8'), true] as [string, string, boolean]);

  const corpus: Array<[EditorSchemaName, string, string, boolean]> = [
    ...[...POLICIES, ...shipped('policy', 'policies', /^(?!.*\.test\.ya?ml$).*\.ya?ml$/)].map(([w, t, v]) => ['policy', w, t, v] as [EditorSchemaName, string, string, boolean]),
    ...CONFIGS.map(([w, t, v]) => ['config', w, t, v] as [EditorSchemaName, string, string, boolean]),
    ...[...TESTS, ...shipped('test', 'policies', /\.test\.ya?ml$/)].map(([w, t, v]) => ['test', w, t, v] as [EditorSchemaName, string, string, boolean]),
  ];

  it.each(corpus)('%s: %s', (kind, _what, text, valid) => {
    expect({ hoopq: hoopqAccepts(kind, text), schema: schemaAccepts(kind, text) }).toEqual({ hoopq: valid, schema: valid });
  });

  it('the corpus has valid and invalid files of every kind, and ships test files for the quickstart policies', () => {
    for (const kind of ['policy', 'config', 'test'] as const) {
      const own = corpus.filter(([k]) => k === kind);
      expect(own.some(([, , , v]) => v)).toBe(true);
      expect(own.filter(([, , , v]) => !v).length).toBeGreaterThanOrEqual(10);
    }
    expect(corpus.map(([, w]) => w)).toEqual(expect.arrayContaining(['shipped policies/analyst-agent.test.yaml', 'shipped policies/scratch-writer.test.yaml']));
  });
});

describe('shipped schema files', () => {
  it.each(Object.keys(EDITOR_SCHEMAS) as EditorSchemaName[])('schema/%s is what the zod schema generates (run `npm run schemas` after changing a schema)', (name) => {
    const file = join(ROOT, 'schema', EDITOR_SCHEMAS[name].file);
    expect(readFileSync(file, 'utf8')).toBe(editorJsonSchemaText(name));
  });

  it.each([
    ['policies/analyst-agent.yaml', '../schema/policy.schema.json'],
    ['policies/scratch-writer.yaml', '../schema/policy.schema.json'],
    ['policies/analyst-agent.test.yaml', '../schema/policy-test.schema.json'],
  ])('%s names its schema for editors', (file, ref) => {
    expect(readFileSync(join(ROOT, file), 'utf8').split('\n')[0]).toBe(`# yaml-language-server: $schema=${ref}`);
  });
});
