/**
 * Docs that run: every ```sh block of docs/policies.md (editor schemas, policy tests and their
 * CI step, a backtest, a diff), in order, in one shell, with `hoopq` on PATH as the built
 * binary and no HOOPQ_* variable set, must succeed, and leave what the text says they leave.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkoutHoopqOnPath, docBlocks, docsEnv, prepareScript, readDoc, runBash } from './doc-harness.js';

const work = mkdtempSync(join(tmpdir(), 'hoopq-policy-docs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('the shell blocks of docs/policies.md run as written', () => {
  const blocks = docBlocks(readDoc('docs/policies.md'), 'sh');
  expect(blocks.length).toBeGreaterThanOrEqual(5);
  const { script } = prepareScript(blocks.map((b) => b.text).join('\n'));
  const r = runBash(script, work, docsEnv(checkoutHoopqOnPath(work)), 240_000);
  expect(r.stderr).not.toMatch(/command not found|No such file/);
  expect(r.code, r.stderr).toBe(0);
  const demo = join(work, 'policy-demo');
  expect(readFileSync(join(demo, 'policy-tests.xml'), 'utf8')).toMatch(/<testsuites name="hoopq policy test" tests="\d+" failures="0" errors="0"/);
  const backtest = JSON.parse(readFileSync(join(demo, 'backtest.json'), 'utf8'));
  expect(backtest.changes.deny_to_allow.records).toBe(1);
  expect(backtest.changes.masks_removed.records).toBe(1);
  const diff = readFileSync(join(demo, 'policy-diff.md'), 'utf8');
  expect(diff).toContain('- `tables.deny`: no longer denies demo.crm.payment_cards');
  expect(diff).toMatch(/\*\*Takes away\*\*\n- nothing\n/);
  expect(JSON.parse(readFileSync(join(work, 'schema', 'policy.schema.json'), 'utf8')).title).toBe('hoopq policy');
}, 300_000);
