/**
 * The schema of a policy test file (`policies/NAME.test.yaml`, docs/policies.md "Testing
 * policies"): example queries with the decision a policy must reach for them. Strict, like
 * policies; `hoopq policy test` validates with it and `schema/policy-test.schema.json` is
 * generated from it.
 */
import { z } from 'zod';
import { STATEMENT_KINDS } from '../analysis/query-analysis.js';
import { MASK_METHODS } from './policy.js';
import { COLUMN_GLOB_PATTERN, POLICY_NAME_PATTERN, TABLE_GLOB_PATTERN } from './policy-schema.js';

const tableList = z.array(z.string().regex(TABLE_GLOB_PATTERN, 'must be a table name project.dataset.table'));

const expectation = z
  .object({
    decision: z.enum(['allow', 'deny']).describe('what `hoopq query` would decide'),
    exit_code: z.number().int().min(0).max(9).optional().describe('0 allowed, 5 denied by policy, 6 not analysable with certainty'),
    rule: z.string().nullable().optional().describe('the rule that refused (tables.deny, statements, require_justification …); null when allowed'),
    code: z.string().nullable().optional().describe('the stable refusal code (policy.table_denied …); null when allowed'),
    reason_includes: z.string().min(1).optional().describe('text the refusal message must contain'),
    statements: z.array(z.enum(STATEMENT_KINDS)).optional().describe('statement kinds found, in any order'),
    tables: z
      .object({
        read: tableList.optional().describe('every table read (views and the tables behind them), in any order'),
        write: tableList.optional().describe('every table written, in any order'),
      })
      .strict()
      .optional(),
    masks: z
      .record(z.string().regex(COLUMN_GLOB_PATTERN, 'must be a column project.dataset.table.column'), z.enum(MASK_METHODS))
      .optional()
      .describe('exactly the masks that apply: column -> method ({} for none)'),
  })
  .strict()
  .describe('what must hold; keys left out are not checked');

const testCase = z
  .object({
    name: z.string().min(1).describe('shown by the test runner and in JUnit reports'),
    sql: z.string().min(1),
    justification: z.string().nullable().optional().describe("overrides the file's justification for this case; null for none"),
    expect: expectation,
  })
  .strict();

export const policyTestFileSchema = z
  .object({
    policy: z
      .string()
      .regex(POLICY_NAME_PATTERN, 'may hold only letters, digits, "_", "-" and "."')
      .optional()
      .describe('the policy under test: NAME.yaml beside this file, else in the configured policies folder; default: this file name without .test.yaml'),
    justification: z.string().nullable().optional().describe('justification given with every case unless the case says otherwise; default none'),
    tests: z.array(testCase).min(1),
  })
  .strict()
  .describe('hoopq policy tests (docs/policies.md "Testing policies")');

export type PolicyTestFileContent = z.output<typeof policyTestFileSchema>;
export type PolicyTestCase = PolicyTestFileContent['tests'][number];
export type PolicyTestExpectation = PolicyTestCase['expect'];
