/**
 * Docs that run: the walk-through of docs/approvals.md (a held DELETE, an operator's personal
 * key, review list/show/approve, the approved query running once, the audit trail), in order,
 * in one shell with `hoopq` on PATH and no HOOPQ_* variable set, succeeds and leaves what the
 * text says it leaves.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runDocShellBlocks } from '../cli/cli-harness.js';

const work = mkdtempSync(join(tmpdir(), 'hoopq-approval-docs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('the shell blocks of docs/approvals.md run as written', () => {
  const r = runDocShellBlocks('approvals.md', work);
  expect(r.blocks).toBe(3);
  expect(r.stderr).not.toMatch(/command not found|No such file/);
  expect(r.code, r.stderr).toBe(0);
  const demo = join(work, 'approvals-demo');
  const held = JSON.parse(readFileSync(join(demo, 'held.json'), 'utf8')) as { status: string; request: string; new: boolean; rules: unknown };
  expect(held).toMatchObject({ status: 'pending', new: true, policy: 'scratch-writer', rules: [{ rule: 'deletes', why: 'delete statement' }], notified: [] });
  const again = JSON.parse(readFileSync(join(demo, 'again.json'), 'utf8')) as { status: string; request: string; new: boolean };
  expect(again).toMatchObject({ status: 'pending', new: true });
  expect(again.request).not.toBe(held.request);
  expect(statSync(join(demo, 'alice.key')).mode & 0o777).toBe(0o600);

  const records = readFileSync(join(demo, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const trail = records.filter((x) => x.approval?.id === held.request).map((x) => x.event);
  expect(trail).toEqual(['approval.requested', 'approval.approved', 'approval.executed', 'query.intent', 'query']);
  expect(records.find((x) => x.event === 'approval.approved')).toMatchObject({ operator: { name: 'alice@example.com', auth: 'key', via: 'cli' }, reason: 'cleanup of scratch is fine' });
  expect(records.find((x) => x.event === 'query' && x.approval?.id === held.request)).toMatchObject({ decision: 'allow', run: 'cleanup-42', statements: ['delete'], approval: { use: 1, of: 1, approved_by: 'alice@example.com' } });
  expect(records.find((x) => x.approval?.id === again.request)).toMatchObject({ event: 'approval.requested', approval: { supersedes: held.request } });
}, 300_000);
