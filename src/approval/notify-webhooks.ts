/**
 * Tells people that a query waits for approval: a Slack-compatible JSON POST (`text` and
 * `blocks`, what Slack's incoming webhooks and most chat tools accept) to each webhook.
 * Input: the request and the webhooks to tell. Output: one NotifyResult per webhook, never
 * a throw: a webhook that is down must not turn a held query into an error (the request
 * still waits in `hoopq review list` and the console).
 * Invariants: only https, or http to a loopback address, is posted to; no redirects; 5 s per
 * webhook, all at once; the message carries the SQL with its literals redacted, never values.
 */
import type { WebhookConfig } from './approvals-config.js';
import type { ApprovalRequest } from './approval-store.js';

export interface NotifyResult {
  name: string;
  ok: boolean;
  /** HTTP status, when the webhook answered. */
  status?: number;
  error?: string;
}

const TIMEOUT_MS = 5_000;

export async function notifyWebhooks(webhooks: readonly WebhookConfig[], request: ApprovalRequest, reviewUrl: string | undefined): Promise<NotifyResult[]> {
  const body = JSON.stringify(slackMessage(request, reviewUrl));
  return Promise.all(webhooks.map((w) => post(w, body)));
}

async function post(webhook: WebhookConfig, body: string): Promise<NotifyResult> {
  let url: URL;
  try {
    url = new URL(webhook.url);
  } catch {
    return { name: webhook.name, ok: false, error: 'not a URL' };
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    return { name: webhook.name, ok: false, error: 'refused: only https (or http on loopback) is posted to' };
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    return { name: webhook.name, ok: res.ok, status: res.status, ...(res.ok ? {} : { error: `HTTP ${res.status}` }) };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { name: webhook.name, ok: false, error: e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS} ms` : (e.cause?.code ?? e.message) };
  }
}

/** Slack's mrkdwn needs &, < and > escaped; nothing else in a request is markup. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack refuses a whole message (invalid_blocks) when one text is over its limit (section
 * 3000, field 2000, header 150 characters), so long SQL, justifications and table lists are
 * cut — after escaping, which can make a text longer, and never inside an entity.
 */
export const SLACK_LIMITS = { section: 3000, field: 2000, header: 150 } as const;

function clip(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  let cut = escaped.slice(0, max - 1);
  const amp = cut.lastIndexOf('&');
  if (amp >= 0 && amp > cut.length - 5 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return cut + '…';
}

export function slackMessage(r: ApprovalRequest, reviewUrl: string | undefined): { text: string; blocks: unknown[] } {
  const s = r.summary;
  const tables = [...new Set([...s.tables.read, ...s.tables.write])];
  const why = s.rules.map((m) => `${m.rule}: ${m.why}`).join('; ');
  const text =
    `hoopq: approval needed for request ${r.id}: run ${r.run} (${r.subject}, policy ${r.policy}) wants to run ${s.statements.join(', ') || 'a query'}` +
    `${tables.length ? ` on ${tables.join(', ')}` : ''} (${why}); expires ${r.expiresAt}` +
    (reviewUrl ? `. Review: ${reviewUrl}` : `. Review: hoopq review show ${r.id}`);
  const lifted = Object.keys(s.lifted);
  const field = (label: string, value: string) => `*${label}*\n${clip(esc(value), SLACK_LIMITS.field - label.length - 3)}`;
  const fields = [
    field('Run', r.run),
    field('Requested by', r.subject),
    field('Policy', r.policy),
    field('Expires', r.expiresAt),
    field('Statements', s.statements.join(', ') || '-'),
    field('Tables', tables.join(', ') || '-'),
    ...(lifted.length ? [field('Unmask', lifted.join(', '))] : []),
    ...(s.bytesEstimate !== null ? [field('Estimated bytes', String(s.bytesEstimate))] : []),
  ];
  const half = Math.floor(SLACK_LIMITS.section / 2) - 20;
  return {
    text: esc(text),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${r.id}`.slice(0, SLACK_LIMITS.header) } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Why:* ${clip(esc(why), half)}${s.justification ? `\n*Justification:* ${clip(esc(s.justification), half)}` : ''}` } },
      { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: f })) },
      { type: 'section', text: { type: 'mrkdwn', text: '```' + clip(esc(s.sql), SLACK_LIMITS.section - 6) + '```' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: reviewUrl ? `<${reviewUrl}|Review in the hoopq console> or \`hoopq review approve ${r.id}\`` : `\`hoopq review approve ${r.id} --reason …\`` }] },
    ],
  };
}
