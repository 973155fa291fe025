/**
 * Loads policies: strict schema (policy-schema.ts: unknown keys, glob shapes, units; errors
 * reported with file:line:col), then the named cross-field rule the schema cannot state
 * (name equals file name), then normalisation (units, defaults). The digest is of the file's
 * bytes as read.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseBytes, parseDuration } from '../config/units.js';
import { ConfigError } from '../errors.js';
import { fail, readYamlFile, validateYaml } from '../config/yaml-file.js';
import type { Policy } from './policy.js';
import { POLICY_NAME_PATTERN, policySchema } from './policy-schema.js';

export interface LoadPolicyOptions {
  /**
   * Whether `name` must equal the file name (default true). Off only for files read as a
   * proposal or a copy (`policy diff`, `policy backtest --policy FILE`): `git show
   * main:policies/a.yaml > /tmp/old.yaml` is still policy `a`.
   */
  nameMatchesFile?: boolean;
}

export function loadPolicy(file: string, options: LoadPolicyOptions = {}): Policy {
  const yaml = readYamlFile(file, 'policy');
  const raw = validateYaml(yaml, policySchema, 'policy');
  const stem = basename(file).replace(/\.ya?ml$/, '');
  if (options.nameMatchesFile !== false && raw.name !== stem) {
    fail(yaml, ['name'], 'policy', `name "${raw.name}" must equal the file name "${stem}"`, `rename the file to ${raw.name}.yaml or set name: ${stem}`);
  }
  const limits: Policy['limits'] = {};
  if (raw.limits.max_rows !== undefined) limits.maxRows = raw.limits.max_rows;
  if (raw.limits.max_queries !== undefined) limits.maxQueries = raw.limits.max_queries;
  if (raw.limits.max_bytes_billed !== undefined) {
    const b = parseBytes(raw.limits.max_bytes_billed);
    if (b === undefined) fail(yaml, ['limits', 'max_bytes_billed'], 'policy', `"${raw.limits.max_bytes_billed}" is not a size`, 'write a size such as 10GiB, 500MB or 1000000');
    limits.maxBytesBilled = b;
  }
  if (raw.limits.timeout !== undefined) {
    const t = parseDuration(raw.limits.timeout);
    if (t === undefined) fail(yaml, ['limits', 'timeout'], 'policy', `"${raw.limits.timeout}" is not a duration`, 'write a duration such as 500ms, 60s, 5m or 1h');
    limits.timeoutMs = t;
  }
  return {
    name: raw.name,
    sha256: createHash('sha256').update(yaml.bytes).digest('hex'),
    file: resolve(file),
    statements: [...new Set(raw.statements)],
    tables: raw.tables,
    columns: raw.columns,
    routines: raw.routines,
    destinations: raw.destinations,
    detect: [...new Set(raw.detect)],
    limits,
    requireJustification: raw.require_justification,
    identity: raw.identity.map((r) => ({
      issuer: r.issuer,
      claims: Object.fromEntries(Object.entries(r.claims).map(([k, v]) => [k, String(v)])),
      ...(r.audience !== undefined ? { audience: Array.isArray(r.audience) ? r.audience : [r.audience] } : {}),
    })),
    ...(raw.impersonate ? { impersonate: raw.impersonate } : {}),
    allowExternalQuery: raw.allow_external_query,
  };
}

/** The policy named `name` in `dir`. Unknown policy -> ConfigError unless `onMissing` says otherwise. */
export function findPolicyFile(dir: string, name: string): string | undefined {
  if (!POLICY_NAME_PATTERN.test(name) || isPolicyTestFile(name + '.yaml')) return undefined;
  for (const ext of ['.yaml', '.yml']) {
    const f = join(dir, name + ext);
    if (listPolicyFiles(dir).includes(f)) return f;
  }
  return undefined;
}

export function listPolicyFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f) && !isPolicyTestFile(f))
      .sort()
      .map((f) => join(dir, f));
  } catch (err) {
    throw new ConfigError('config.policies_unreadable', `cannot read the policies folder ${dir} (${(err as NodeJS.ErrnoException).code ?? err})`, {
      hint: 'set `policies:` in hoopq.yaml to a folder of policy files',
    });
  }
}

/** `NAME.test.yaml` beside a policy holds its tests (`hoopq policy test`), not a policy. */
export function isPolicyTestFile(file: string): boolean {
  return /\.test\.ya?ml$/.test(file);
}
