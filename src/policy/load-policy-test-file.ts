/**
 * Loads a policy test file (`NAME.test.yaml`): strict schema (policy-test-schema.ts, errors
 * with file:line:col, exit 3), then normalisation: the policy it tests (default: the file
 * name without .test.yaml) and each case's justification (its own, else the file's, else none).
 */
import { basename } from 'node:path';
import { fail, locate, readYamlFile, validateYaml } from '../config/yaml-file.js';
import { policyTestFileSchema, type PolicyTestExpectation } from './policy-test-schema.js';

export interface PolicyTestFile {
  /** The path as given. */
  file: string;
  /** The name of the policy under test. */
  policy: string;
  cases: PolicyTestCaseSpec[];
}

export interface PolicyTestCaseSpec {
  name: string;
  sql: string;
  justification: string | null;
  expect: PolicyTestExpectation;
  /** "file:line:col" of the case, for reports. */
  at: string;
}

export function loadPolicyTestFile(file: string): PolicyTestFile {
  const yaml = readYamlFile(file, 'policy test file');
  const raw = validateYaml(yaml, policyTestFileSchema, 'policy test file');
  const stem = /\.test\.ya?ml$/.test(file) ? basename(file).replace(/\.test\.ya?ml$/, '') : undefined;
  const policy = raw.policy ?? stem;
  if (policy === undefined) {
    fail(yaml, [], 'policy test file', 'it does not say which policy it tests', 'name the file NAME.test.yaml, or set `policy: NAME`');
  }
  return {
    file,
    policy,
    cases: raw.tests.map((t, i) => ({
      name: t.name,
      sql: t.sql,
      justification: t.justification !== undefined ? t.justification : (raw.justification ?? null),
      expect: t.expect,
      at: locate(yaml, ['tests', i]),
    })),
  };
}
