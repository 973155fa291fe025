import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from './approval-store.js';
import { SLACK_LIMITS, slackMessage } from './notify-webhooks.js';

function request(over: { sql?: string; justification?: string | null; tables?: string[]; why?: string } = {}): ApprovalRequest {
  return {
    id: 'apr_abcdefghijklmnop',
    run: 'nightly-42',
    tokenId: 'tok',
    subject: 'agent@example.com',
    policy: 'scratch-writer',
    policySha256: 'a'.repeat(64),
    sqlSha256: 'b'.repeat(64),
    requestSha256: 'c'.repeat(64),
    planSha256: 'd'.repeat(64),
    recordId: 'rec',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T01:00:00.000Z',
    tokenExpiresAt: '2026-01-01T01:00:00.000Z',
    status: 'pending',
    notified: [],
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
    grant: null,
    runsUsed: 0,
    summary: {
      sql: over.sql ?? "DELETE FROM scratch.tmp WHERE id < ?",
      statements: ['delete'],
      tables: { read: over.tables ?? ['demo.scratch.tmp'], write: ['demo.scratch.tmp'] },
      masks: {},
      lifted: {},
      rules: [{ rule: 'deletes', why: over.why ?? 'delete statement' }],
      justification: over.justification === undefined ? 'cleanup' : over.justification,
      bytesEstimate: null,
      params: [],
      warehouse: 'duckdb',
    },
  };
}

type Block = { type: string; text?: { type: string; text: string }; fields?: Array<{ type: string; text: string }>; elements?: Array<{ text: string }> };

function texts(blocks: Block[]): Array<{ kind: 'header' | 'section' | 'field'; text: string }> {
  return blocks.flatMap((b) => [
    ...(b.text ? [{ kind: b.type === 'header' ? ('header' as const) : ('section' as const), text: b.text.text }] : []),
    ...(b.fields ?? []).map((f) => ({ kind: 'field' as const, text: f.text })),
  ]);
}

describe('slackMessage', () => {
  it('carries the summary, escapes markup, and links to the console when there is one', () => {
    const m = slackMessage(request({ justification: '<!channel> & <http://evil|click>' }), 'https://hoopq.internal/console/approvals#apr_abcdefghijklmnop');
    expect(m.text).toContain('request apr_abcdefghijklmnop: run nightly-42 (agent@example.com, policy scratch-writer)');
    const all = JSON.stringify(m.blocks);
    expect(all).toContain('&lt;!channel&gt; &amp; &lt;http://evil|click&gt;');
    expect(all).not.toContain('<!channel>');
    expect(all).toContain('<https://hoopq.internal/console/approvals#apr_abcdefghijklmnop|Review in the hoopq console>');
  });

  it.each([
    ['a long SQL text of characters escaping makes longer', { sql: 'SELECT ' + '<'.repeat(5000) }],
    ['a long justification and reason', { justification: '&'.repeat(4000), why: 'x'.repeat(4000) }],
    ['a long table list', { tables: Array.from({ length: 400 }, (_, i) => `demo.scratch.table_${i}`) }],
  ])('keeps every text within Slack\'s limits: %s', (_what, over) => {
    const m = slackMessage(request(over), undefined);
    for (const t of texts(m.blocks as Block[])) {
      expect(t.text.length).toBeLessThanOrEqual(SLACK_LIMITS[t.kind]);
      // cut after escaping, never inside an entity
      expect(t.text).not.toMatch(/&(?:a|am|amp|l|lt|g|gt)?…/);
    }
  });
});
