import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadPolicy } from './load-policy.js';

function write(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-policy-'));
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, text);
  return f;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadPolicy', () => {
  it('normalises a full policy', () => {
    const p = loadPolicy(
      write('full', `name: full
statements: [select, insert]
tables:
  read: ["demo.analytics.*"]
  write: ["demo.scratch.*"]
  deny: ["demo.crm.payment_cards"]
columns:
  "demo.crm.customers.email": hash
detect: [email, iban]
limits: { max_rows: 10, max_queries: 3, max_bytes_billed: 10GiB, timeout: 90s }
require_justification: true
identity:
  - issuer: https://token.actions.githubusercontent.com
    claims: { repository: acme/ml, run_attempt: 1 }
`),
    );
    expect(p.statements).toEqual(['select', 'insert']);
    expect(p.limits).toEqual({ maxRows: 10, maxQueries: 3, maxBytesBilled: 10 * 2 ** 30, timeoutMs: 90_000 });
    expect(p.identity[0]!.claims).toEqual({ repository: 'acme/ml', run_attempt: '1' });
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(p.requireJustification).toBe(true);
  });

  it('defaults to select only, no tables', () => {
    const p = loadPolicy(write('min', 'name: min\n'));
    expect(p.statements).toEqual(['select']);
    expect(p.tables).toEqual({ read: [], write: [], deny: [] });
    expect(p.requireJustification).toBe(false);
  });

  it.each([
    ['unknown top-level key', 'name: bad\nstatments: [select]\n', /bad\.yaml:2:1: .*unknown key "statments"/],
    ['unknown nested key', 'name: bad\ntables:\n  read: []\n  reed: []\n', /bad\.yaml:4:3: .*unknown key "reed"/],
    ['bad statement kind', 'name: bad\nstatements: [select, exec]\n', /bad\.yaml:2:22: /],
    ['bad mask method', 'name: bad\ncolumns:\n  "a.b.c.d": scramble\n', /bad\.yaml:3:14: /],
    ['two-part table glob', 'name: bad\ntables:\n  read: ["crm.customers"]\n', /bad\.yaml:3:10: .*three dot-separated parts/],
    ['three-part column glob', 'name: bad\ncolumns:\n  "crm.customers.email": hash\n', /bad\.yaml:3:.*at least four dot-separated parts/],
    ['name differs from file', 'name: other\n', /bad\.yaml:1:7: .*must equal the file name/],
    ['bad duration', 'name: bad\nlimits: { timeout: soon }\n', /bad\.yaml:2:20: .*not a duration/],
    ['bad size', 'name: bad\nlimits: { max_bytes_billed: lots }\n', /not a size/],
    ['yaml syntax', 'name: bad\ntables: [\n', /bad\.yaml:\d+:\d+: policy is not valid YAML/],
    ['duplicate key', 'name: bad\nname: bad\n', /not valid YAML/],
    ['negative limit', 'name: bad\nlimits: { max_rows: -1 }\n', /bad\.yaml:2:/],
    ['four-part table glob that is not metadata', 'name: bad\ntables:\n  read: ["p.d.t.x"]\n', /bad\.yaml:3:10: .*INFORMATION_SCHEMA/],
    ['two-part routine glob', 'name: bad\nroutines:\n  allow: ["udfs.f"]\n', /bad\.yaml:3:11: .*project\.dataset\.routine/],
    ['a destination that is neither URI nor connection', 'name: bad\ndestinations: ["bucket"]\n', /bad\.yaml:2:16: .*neither a URI/],
    ['a destination with a space', 'name: bad\ndestinations: ["gs://b/a b/*"]\n', /neither a URI/],
  ])('%s -> exit 3 with file:line:col', (_what, text, pattern) => {
    const err = errorOf(() => loadPolicy(write('bad', text)));
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(pattern);
  });

  it('accepts metadata globs, nested field masks, routines and destinations (the examples in docs/policies.md and docs/analysis.md)', () => {
    const p = loadPolicy(
      write('meta', `name: meta
tables:
  read: ["acme.sales.*", "acme.region-us.INFORMATION_SCHEMA.JOBS_BY_USER", "p.*.INFORMATION_SCHEMA.*"]
  deny: ["acme.hr.INFORMATION_SCHEMA.*"]
columns:
  "acme.sales.customers.address.email": hash
  "acme.sales.*.contacts.value": redact
routines:
  allow: ["acme.udfs.*"]
  deny: ["acme.udfs.raw_*"]
destinations: ["gs://acme-exports/agents/*", "gs://acme-exports/deep/**", "acme.us.exports"]
`),
    );
    expect(p.tables.read).toContain('acme.region-us.INFORMATION_SCHEMA.JOBS_BY_USER');
    expect(p.columns).toEqual({ 'acme.sales.customers.address.email': 'hash', 'acme.sales.*.contacts.value': 'redact' });
    expect(p.routines).toEqual({ allow: ['acme.udfs.*'], deny: ['acme.udfs.raw_*'] });
    expect(p.destinations).toEqual(['gs://acme-exports/agents/*', 'gs://acme-exports/deep/**', 'acme.us.exports']);
  });

  it('defaults to no routines and no destinations (fail closed)', () => {
    const p = loadPolicy(write('bare', 'name: bare\n'));
    expect(p.routines).toEqual({ allow: [], deny: [] });
    expect(p.destinations).toEqual([]);
  });
});
