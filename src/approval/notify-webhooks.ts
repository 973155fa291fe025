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

export function slackMessage(r: ApprovalRequest, reviewUrl: string | undefined): { text: string; blocks: unknown[] } {
  const s = r.summary;
  const tables = [...new Set([...s.tables.read, ...s.tables.write])];
  const why = s.rules.map((m) => `${m.rule}: ${m.why}`).join('; ');
  const text =
    `hoopq: approval needed for request ${r.id}: run ${r.run} (${r.subject}, policy ${r.policy}) wants to run ${s.statements.join(', ') || 'a query'}` +
    `${tables.length ? ` on ${tables.join(', ')}` : ''} (${why}); expires ${r.expiresAt}` +
    (reviewUrl ? `. Review: ${reviewUrl}` : `. Review: hoopq review show ${r.id}`);
  const lifted = Object.keys(s.lifted);
  const fields = [
    `*Run*\n${esc(r.run)}`,
    `*Requested by*\n${esc(r.subject)}`,
    `*Policy*\n${esc(r.policy)}`,
    `*Expires*\n${esc(r.expiresAt)}`,
    `*Statements*\n${esc(s.statements.join(', ') || '-')}`,
    `*Tables*\n${esc(tables.join(', ') || '-')}`,
    ...(lifted.length ? [`*Unmask*\n${esc(lifted.join(', '))}`] : []),
    ...(s.bytesEstimate !== null ? [`*Estimated bytes*\n${s.bytesEstimate}`] : []),
  ];
  return {
    text: esc(text),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${r.id}` } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Why:* ${esc(why)}${s.justification ? `\n*Justification:* ${esc(s.justification)}` : ''}` } },
      { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: f })) },
      { type: 'section', text: { type: 'mrkdwn', text: '```' + esc(s.sql.slice(0, 2800)) + '```' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: reviewUrl ? `<${reviewUrl}|Review in the hoopq console> or \`hoopq review approve ${r.id}\`` : `\`hoopq review approve ${r.id} --reason …\`` }] },
    ],
  };
}
