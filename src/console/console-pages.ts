/**
 * The console's pages, rendered on the server (html.ts escapes every value). What they show
 * of a query is what the audit log holds, with every SQL literal redacted and never a row of a
 * result: a reviewer sees who, which tables, which masks, why it was held — not data.
 */
import type { ApprovalRequest } from '../approval/approval-store.js';
import { isSamePerson } from '../approval/review-approval.js';
import type { AuditRecord } from '../audit/audit-record.js';
import { html, type Html } from './html.js';
import type { ConsoleSession } from './console-sessions.js';

export interface RunRow {
  run: string;
  policy: string;
  subject: string;
  tokenExpiresAt: string | null;
  queries: number;
  budgetLeft: number | null;
  inFlight: number;
  lastSeen: string | null;
  revoked: boolean;
}

export interface FeedItem {
  id: string;
  time_short: string;
  label: string;
  event: string;
  run: string | null;
  policy: string | null;
  tables: string;
  detail: string;
  refresh_approvals: boolean;
  refresh_runs: boolean;
}

export function layout(title: string, session: ConsoleSession | undefined, body: Html, current = '', refreshTo?: string): string {
  const flash = session?.flash;
  if (session) session.flash = undefined;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
${refreshTo ? html`<meta http-equiv="refresh" content="0; url=${refreshTo}">` : ''}
<title>${title} · hoopq console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">hoopq console</span>
  ${session
    ? html`<nav aria-label="Console">
    <a href="/console"${current === 'overview' ? html` aria-current="page"` : ''}>Overview</a>
    <a href="/console/approvals"${current === 'approvals' ? html` aria-current="page"` : ''}>Approvals</a>
  </nav>
  <div class="who"><span>Signed in as <strong data-operator>${session.operator.name}</strong> <span class="muted">(${session.operator.auth === 'oidc' ? 'SSO' : 'operator key'})</span></span>
    <form class="inline" method="post" action="/console/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button type="submit">Sign out</button></form></div>`
    : ''}
</header>
<main id="main">
${flash ? html`<div class="flash ${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}">${flash.text}</div>` : ''}
${body}
</main>
</body>
</html>
`.text;
}

export function loginPage(csrf: string, oidc: boolean, error?: string): Html {
  return html`<div class="login">
<h1>Sign in</h1>
${error ? html`<div class="flash error" role="alert">${error}</div>` : ''}
${oidc
  ? html`<section><h2>Single sign-on</h2><p><a href="/console/login/oidc" id="sso">Sign in with your identity provider</a></p></section>`
  : ''}
<section>
<h2>Operator key</h2>
<form method="post" action="/console/login">
  <input type="hidden" name="csrf" value="${csrf}">
  <label for="key">Your personal operator key (hoopq operator add NAME)</label>
  <input id="key" name="key" type="password" autocomplete="off" required size="40">
  <p><button type="submit">Sign in</button></p>
</form>
</section>
</div>`;
}

export function overviewPage(data: { pending: ApprovalRequest[]; runs: RunRow[]; feed: FeedItem[]; csrf: string; me: string; fourEyes: boolean }): Html {
  return html`<h1>Overview</h1>
<h2 id="approvals-heading">Waiting for approval</h2>
<div id="approvals">${approvalsSection(data.pending, data.csrf, data.me, data.fourEyes)}</div>
<h2 id="runs-heading">Runs</h2>
<div id="runs">${runsSection(data.runs, data.csrf)}</div>
<h2 id="feed-heading">Live decisions</h2>
<table aria-labelledby="feed-heading">
<thead><tr><th scope="col">Time</th><th scope="col">Decision</th><th scope="col">Event</th><th scope="col">Run</th><th scope="col">Policy</th><th scope="col">Tables</th><th scope="col">Detail</th></tr></thead>
<tbody id="feed-rows" aria-live="polite" aria-relevant="additions">
${data.feed.length === 0 ? html`<tr id="feed-empty"><td colspan="7" class="empty">No records yet.</td></tr>` : ''}
${data.feed.map(
  (f) => html`<tr data-record="${f.id}"><td>${f.time_short}</td><td><span class="badge b-${f.label}">${f.label}</span></td><td><a href="/console/record?id=${encodeURIComponent(f.id)}">${f.event}</a></td><td>${f.run ?? '-'}</td><td>${f.policy ?? '-'}</td><td>${f.tables || '-'}</td><td>${f.detail}</td></tr>`,
)}
</tbody>
</table>`;
}

export function approvalsSection(pending: ApprovalRequest[], csrf: string, me: string, fourEyes: boolean): Html {
  if (pending.length === 0) return html`<p class="empty">No query is waiting for approval.</p>`;
  return html`<table aria-labelledby="approvals-heading">
<thead><tr><th scope="col">Request</th><th scope="col">Who and why</th><th scope="col">SQL (literals redacted)</th><th scope="col">Decision</th></tr></thead>
<tbody>
${pending.map((r) => {
  const s = r.summary;
  const tables = [...new Set([...s.tables.read, ...s.tables.write])];
  const lifted = Object.keys(s.lifted);
  const own = fourEyes && isSamePerson(me, r.subject);
  return html`<tr id="${r.id}" data-request="${r.id}">
<td><code>${r.id}</code><br><span class="muted">expires ${r.expiresAt}</span></td>
<td>run <strong>${r.run}</strong> (${r.subject})<br>policy ${r.policy}<br>
  ${s.rules.map((m) => html`<span class="badge b-pending">${m.rule}</span> ${m.why}<br>`)}
  ${s.statements.join(', ')} on ${tables.join(', ') || '-'}
  ${lifted.length ? html`<br><strong>unmask:</strong> ${lifted.join(', ')}` : ''}
  ${s.bytesEstimate !== null ? html`<br>estimated ${s.bytesEstimate} bytes` : ''}
  ${s.justification ? html`<br><em>“${s.justification}”</em>` : ''}</td>
<td><pre>${s.sql}</pre></td>
<td>
<form class="decide" method="post" action="/console/approvals/decide" aria-label="Decide ${r.id}">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="id" value="${r.id}">
  <div><label for="reason-${r.id}">Reason</label><textarea id="reason-${r.id}" name="reason" required maxlength="4096"></textarea></div>
  <div class="row">
    <div><label for="runs-${r.id}">Runs</label><input id="runs-${r.id}" name="runs" type="number" min="1" max="1000" value="1" size="4"></div>
    <div><label for="for-${r.id}">For</label><select id="for-${r.id}" name="for">
      <option value="">until the request expires</option><option value="15m">15 minutes</option><option value="1h">1 hour</option><option value="8h">8 hours</option></select></div>
  </div>
  ${own ? html`<p class="muted">You made this request: another operator must approve it.</p>` : ''}
  <div class="row"><button class="approve" type="submit" name="decision" value="approve">Approve</button>
  <button class="deny" type="submit" name="decision" value="deny">Deny</button></div>
</form>
</td></tr>`;
})}
</tbody></table>`;
}

export function runsSection(runs: RunRow[], csrf: string): Html {
  if (runs.length === 0) return html`<p class="empty">No active or recent runs.</p>`;
  return html`<table aria-labelledby="runs-heading">
<thead><tr><th scope="col">Run</th><th scope="col">Policy</th><th scope="col" class="hide-narrow">Subject</th><th scope="col">Token expires</th><th scope="col">Queries</th><th scope="col">Budget left</th><th scope="col">In flight</th><th scope="col" class="hide-narrow">Last activity</th><th scope="col">Kill switch</th></tr></thead>
<tbody>
${runs.map(
  (r) => html`<tr data-run="${r.run}">
<td><strong>${r.run}</strong></td><td>${r.policy}</td><td class="hide-narrow">${r.subject}</td>
<td>${r.tokenExpiresAt ?? '-'}</td><td>${r.queries}</td><td>${r.budgetLeft ?? 'no limit'}</td>
<td>${r.inFlight > 0 ? html`<span class="badge b-pending" data-in-flight="${r.inFlight}">${r.inFlight} running</span>` : '0'}</td>
<td class="hide-narrow">${r.lastSeen ?? '-'}</td>
<td>${r.revoked
    ? html`<span class="badge b-denied">revoked</span>`
    : html`<form class="inline" method="post" action="/console/revoke"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="run" value="${r.run}"><button class="revoke" type="submit" aria-label="Revoke run ${r.run}">Revoke</button></form>`}</td>
</tr>`,
)}
</tbody></table>`;
}

export function approvalsPage(pending: ApprovalRequest[], decided: ApprovalRequest[], csrf: string, me: string, fourEyes: boolean): Html {
  return html`<h1>Approvals</h1>
<h2 id="approvals-heading">Waiting</h2>
<div id="approvals">${approvalsSection(pending, csrf, me, fourEyes)}</div>
<h2 id="decided-heading">Decided recently</h2>
${decided.length === 0
  ? html`<p class="empty">Nothing decided yet.</p>`
  : html`<table aria-labelledby="decided-heading"><thead><tr><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Run</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Grant</th></tr></thead><tbody>
${decided.map(
  (r) => html`<tr><td><code>${r.id}</code></td><td><span class="badge b-${r.status === 'approved' ? 'allowed' : 'denied'}">${r.status}</span></td><td>${r.run}</td><td>${r.decidedBy ?? '-'}</td><td>${r.decisionReason ?? '-'}</td><td>${r.grant ? `${r.runsUsed}/${r.grant.runs} runs, until ${r.grant.expiresAt}` : '-'}</td></tr>`,
)}</tbody></table>`}`;
}

export function recordPage(record: AuditRecord, shownSql: string | null, related: AuditRecord[], verified: { ok: boolean; text: string }): Html {
  const masked = Object.entries(record.masked?.columns ?? {});
  const detected = Object.entries(record.masked?.detected ?? {}).filter(([, n]) => n > 0);
  const approval = record.approval as { id?: string } | undefined;
  return html`<h1>Record ${record.seq}: ${record.event}</h1>
<div class="grid2">
  <span class="muted">Decision</span><span><span class="badge b-${labelOf(record)}">${labelOf(record)}</span> ${record.reason ?? ''}</span>
  <span class="muted">Time</span><span>${record.time}</span>
  <span class="muted">Run</span><span>${record.run ?? '-'} <span class="muted">(${record.subject ?? '-'}, token ${record.token_id ?? '-'})</span></span>
  <span class="muted">Policy</span><span>${record.policy?.name ?? '-'} <span class="muted">${record.policy?.sha256 ?? ''}</span></span>
  <span class="muted">Justification</span><span>${record.justification ?? '-'}</span>
  <span class="muted">Statements</span><span>${(record.statements ?? []).join(', ') || '-'}</span>
  <span class="muted">Tables read</span><span>${(record.tables?.read ?? []).join(', ') || '-'}</span>
  <span class="muted">Tables written</span><span>${(record.tables?.write ?? []).join(', ') || '-'}</span>
  <span class="muted">Masks</span><span>${masked.map(([c, m]) => `${c} = ${m}`).join(', ') || '-'}</span>
  <span class="muted">Detector hits</span><span>${detected.map(([d, n]) => `${d}: ${n}`).join(', ') || '-'}</span>
  <span class="muted">Bytes</span><span>${record.warehouse?.bytes_processed ?? '-'}</span>
  <span class="muted">Rows</span><span>${record.rows ?? '-'}</span>
  <span class="muted">Duration</span><span>${record.duration_ms !== null && record.duration_ms !== undefined ? `${record.duration_ms} ms` : '-'}</span>
  ${approval?.id ? html`<span class="muted">Approval</span><span><code>${approval.id}</code></span>` : ''}
  <span class="muted">Chain</span><span>seq ${record.seq}; hash <code>${record.hash}</code>; prev <code>${record.prev}</code></span>
  <span class="muted">Log verifies</span><span><span class="badge b-${verified.ok ? 'allowed' : 'denied'}">${verified.ok ? 'yes' : 'no'}</span> ${verified.text}</span>
</div>
<h2>SQL (literals redacted)</h2>
${shownSql === null ? html`<p class="empty">No SQL in this record.</p>` : html`<pre>${shownSql}</pre>`}
<h2 id="related-heading">Related records</h2>
${related.length === 0
  ? html`<p class="empty">None in the recent log.</p>`
  : html`<table aria-labelledby="related-heading"><thead><tr><th scope="col">Seq</th><th scope="col">Event</th><th scope="col">Decision</th><th scope="col">Time</th></tr></thead><tbody>
${related.map((r) => html`<tr><td>${r.seq}</td><td><a href="/console/record?id=${encodeURIComponent(r.id)}">${r.event}</a></td><td><span class="badge b-${labelOf(r)}">${labelOf(r)}</span></td><td>${r.time}</td></tr>`)}
</tbody></table>`}`;
}

export function errorPage(status: number, message: string): Html {
  return html`<h1>${status === 403 || status === 401 ? 'Refused' : 'Something went wrong'}</h1><div class="flash error" role="alert">${message}</div><p><a href="/console">Back to the console</a></p>`;
}

/** allowed | masked | denied | pending | error, for queries; the event's own name otherwise. */
export function labelOf(r: Pick<AuditRecord, 'event' | 'decision' | 'masked'>): string {
  if (r.decision === 'pending') return 'pending';
  if (r.decision === 'deny') return 'denied';
  if (r.decision === 'error') return 'error';
  const masked = Object.keys(r.masked?.columns ?? {}).length > 0 || Object.values(r.masked?.detected ?? {}).some((n) => n > 0);
  return masked ? 'masked' : 'allowed';
}

