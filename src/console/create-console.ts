/**
 * The operators' web console, served by the gateway at /console when `console:` is configured.
 * Input: the gateway's parts (approvals, state, operators, audit sink and log), the console's
 * origin. Output: route handlers for the gateway's route table, and `close`.
 *
 * Pages: overview (requests waiting, runs with their budgets and a revoke button, a live
 * feed of decisions), approvals, one record's detail. Actions: approve/deny (the same
 * reviewApproval as the CLI and API), revoke a run (the same state-store revocation the CLI
 * writes, so its running queries stop within the pipeline's watch interval).
 *
 * Security (docs/console.md): every request must name this console's host (no DNS
 * rebinding); every POST must come from this console's origin and carry the session's CSRF
 * token; the session cookie is HttpOnly, SameSite=Strict, Secure (relaxed only for plain HTTP
 * on loopback); every page has a CSP allowing only this origin's script and style; no page
 * shows a SQL literal (SQL is shown literal-redacted) or a result value (none is ever read).
 */
import type { IncomingMessage } from 'node:http';
import { statSync } from 'node:fs';
import type { ApprovalRequest } from '../approval/approval-store.js';
import { reviewApproval } from '../approval/review-approval.js';
import type { AuditRecord } from '../audit/audit-record.js';
import { findAuditRecord } from '../audit/read-audit-log.js';
import { verifyAuditLogOf, withAuditLogFile, type AuditLogSource } from '../audit/audit-log-source.js';
import { PgAuditSink } from '../postgres/pg-audit-sink.js';
import { parseDuration } from '../config/units.js';
import { AuthError, isHoopqError, PolicyDeniedError, UsageError, type HoopqError } from '../errors.js';
import { approvalsOf } from '../gateway/approval-routes.js';
import type { Gateway, RequestContext, RouteHandler } from '../gateway/gateway-context.js';
import { statusOf } from '../gateway/send-error.js';
import { redactSql } from '../masking/redact-sql.js';
import { OidcLogin } from '../operator/oidc-login.js';
import { operatorKeyDigest } from '../operator/operator-store.js';
import { operatorRef, type Operator } from '../operator/operator.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import { warehouseDialectOf } from '../warehouse/open-warehouse.js';
import { AuditFeed } from './audit-feed.js';
import { PgAuditFeed } from '../postgres/pg-audit-feed.js';
import { CONSOLE_CSS, CONSOLE_JS } from './console-assets.js';
import { approvalsPage, approvalsSection, errorPage, labelOf, layout, loginPage, overviewPage, recordPage, runsSection, type FeedItem, type RunRow } from './console-pages.js';
import { ConsoleSessions, isSameToken, type ConsoleSession } from './console-sessions.js';
import { html, type Html } from './html.js';

export interface ConsoleOptions {
  /** The origin browsers use (console.url, else the gateway's listen URL); known once the gateway listens. */
  origin(): string;
  /** The gateway's own listen URL (also accepted as Host/Origin). */
  listenUrl(): string;
  /** Whether cookies must be Secure: TLS, or any address that is not loopback. */
  secureCookies: boolean;
  log(line: string): void;
}

export interface HoopqConsole {
  routes: Record<string, Record<string, RouteHandler>>;
  close(): void;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const MAX_FORM_BYTES = 64 * 1024;

export function createConsole(gateway: Gateway, options: ConsoleOptions): HoopqConsole {
  const config = gateway.config.console!;
  const auditLog = gateway.config.audit;
  // the live feed tails a local file, or reads a log in PostgreSQL after the last seq it saw
  // (record pages and verification read the log whole, through a copy for PostgreSQL)
  const logSource: AuditLogSource | undefined = auditLog.kind === 'gateway' ? undefined : auditLog;
  const feed = auditLog.kind === 'file' ? new AuditFeed(auditLog.path) : auditLog.kind === 'postgres' ? new PgAuditFeed(auditLog.url) : undefined;
  feed?.start();
  const sessions = new ConsoleSessions(config.sessionTtlMs, options.secureCookies);
  const oidc = gateway.config.operators.oidc ? new OidcLogin(gateway.config.operators.oidc) : undefined;
  const dialect = warehouseDialectOf(gateway.config.warehouse.kind).sql;
  let verifyCache: { key: string; result: { ok: boolean; text: string } } | undefined;
  // open live feeds, ended when the gateway shuts down (they would otherwise hold it for its grace period)
  const streams = new Set<() => void>();

  type Handler = (ctx: RequestContext, session: ConsoleSession | undefined) => Promise<void>;

  /** Every console route: host check, security headers, session; failures as an HTML page. */
  function route(handler: Handler, access: 'public' | 'session'): RouteHandler {
    return async (_gateway, ctx) => {
      let session = sessions.find(ctx.req);
      // a session opened with a personal key ends when that key is removed or replaced
      if (session?.keySha256 && !gateway.operators().isCurrentKey(session.operator.name, session.keySha256)) {
        sessions.end(ctx.req);
        session = undefined;
      }
      try {
        checkHost(ctx);
        if (ctx.req.method === 'POST') checkOrigin(ctx);
        if (access === 'session' && !session) {
          if (ctx.req.method === 'GET' && !ctx.url.pathname.startsWith('/console/events') && !ctx.url.pathname.startsWith('/console/fragment')) return redirect(ctx, '/console/login');
          throw new AuthError('console.login_required', 'refused: sign in to the console first', { rule: 'console.session', hint: 'open /console/login' });
        }
        await handler(ctx, session);
      } catch (err) {
        if (ctx.res.headersSent) {
          ctx.res.destroy();
          return;
        }
        const error: HoopqError = isHoopqError(err) ? err : new UsageError('console.internal', 'internal error in the console');
        if (!isHoopqError(err)) options.log(`hoopq gateway: console ${ctx.route}: ${(err as Error)?.stack ?? String(err)}`);
        sendPage(ctx, statusOf(error), layout('Refused', session, errorPage(statusOf(error), error.message)));
      }
    };
  }

  function allowedOrigins(): string[] {
    return [...new Set([new URL(options.origin()).origin, new URL(options.listenUrl()).origin])];
  }

  function checkHost(ctx: RequestContext): void {
    const host = ctx.req.headers.host;
    if (!allowedOrigins().some((o) => new URL(o).host === host)) {
      throw new PolicyDeniedError('console.host', `refused: the console answers only to ${allowedOrigins().map((o) => new URL(o).host).join(' or ')}`, {
        rule: 'console.host',
        hint: 'open the console at its configured address (console.url)',
      });
    }
  }

  function checkOrigin(ctx: RequestContext): void {
    const origin = ctx.req.headers.origin;
    const site = ctx.req.headers['sec-fetch-site'];
    // a browser that sends no usable Origin (some send "null" for privacy) still says where a request came from in Sec-Fetch-Site
    const ok = typeof origin === 'string' && origin !== 'null' ? allowedOrigins().includes(origin) : site === 'same-origin';
    if (!ok) {
      throw new PolicyDeniedError('console.origin', 'refused: this form was not sent from the console itself', { rule: 'console.origin', hint: 'use the console\'s own pages' });
    }
  }

  function requireCsrf(session: ConsoleSession, form: URLSearchParams): void {
    if (!isSameToken(form.get('csrf'), session.csrf)) {
      throw new PolicyDeniedError('console.csrf', 'refused: the form\'s CSRF token does not match your session', { rule: 'console.csrf', hint: 'reload the page and try again' });
    }
  }

  async function audit(body: Parameters<typeof newAuditBody>[2] & { event: string }): Promise<void> {
    const { event, ...fields } = body;
    await (await gateway.parts.audit()).append(newAuditBody(event, gateway.parts.now(), { via: 'console', ...fields }));
  }

  async function openSession(ctx: RequestContext, operator: Operator, keySha256?: string): Promise<string> {
    const { id } = sessions.create(operator, keySha256);
    await audit({ event: 'console.login', subject: `operator:${operator.name}`, operator: operatorRef(operator, 'console'), src_endpoint: ctx.remote });
    return sessions.sessionCookieHeader(id);
  }

  async function loginRefused(ctx: RequestContext, reason: string, auth: string): Promise<void> {
    await audit({ event: 'console.login', decision: 'deny', reason, code: 'console.login_refused', operator: { auth, via: 'console' }, src_endpoint: ctx.remote });
  }

  function runRows(): RunRow[] {
    const state = gateway.state();
    const rows = new Map<string, RunRow>();
    for (const t of state.listActiveTokens(gateway.parts.now())) {
      const policy = gateway.parts.policies.get(t.policy);
      const limits = [policy?.limits.maxQueries, t.maxQueries ?? undefined].filter((n): n is number => n !== undefined);
      const limit = limits.length ? Math.min(...limits) : undefined;
      const existing = rows.get(t.run);
      const expires = new Date(t.expiresAt * 1000).toISOString();
      rows.set(t.run, {
        run: t.run,
        policy: t.policy,
        subject: t.subject,
        tokenExpiresAt: existing?.tokenExpiresAt && existing.tokenExpiresAt > expires ? existing.tokenExpiresAt : expires,
        queries: t.queriesStarted,
        budgetLeft: limit === undefined ? null : Math.max(0, limit - t.queriesStarted),
        inFlight: 0,
        lastSeen: null,
        revoked: false,
      });
    }
    const recent = feed?.latest(2000) ?? [];
    for (const r of recent) {
      if (!r.run) continue;
      let row = rows.get(r.run);
      if (!row) {
        if (rows.size >= 200 || !String(r.event).startsWith('query')) continue;
        row = { run: r.run, policy: r.policy?.name ?? '-', subject: r.subject ?? '-', tokenExpiresAt: null, queries: state.queriesStarted(r.run), budgetLeft: null, inFlight: 0, lastSeen: null, revoked: state.isRunRevoked(r.run) };
        rows.set(r.run, row);
      }
      row.lastSeen ??= r.time;
    }
    for (const intent of feed?.running() ?? []) {
      const row = intent.run ? rows.get(intent.run) : undefined;
      if (row) row.inFlight += 1;
    }
    return [...rows.values()].sort((a, b) => b.inFlight - a.inFlight || String(b.lastSeen ?? '').localeCompare(String(a.lastSeen ?? '')) || a.run.localeCompare(b.run));
  }

  function feedItem(r: AuditRecord): FeedItem {
    const tables = [...new Set([...(r.tables?.read ?? []), ...(r.tables?.write ?? [])])].join(', ');
    const masked = Object.keys(r.masked?.columns ?? {});
    const detail =
      r.decision === 'deny' || r.decision === 'error' || r.decision === 'pending'
        ? String(r.code ?? r.reason ?? '')
        : masked.length
          ? `masked ${masked.join(', ')}`
          : r.rows !== null && r.rows !== undefined
            ? `${r.rows} rows`
            : '';
    const event = String(r.event);
    return {
      id: r.id,
      time_short: String(r.time).slice(11, 19),
      label: labelOf(r),
      event,
      run: r.run ?? null,
      policy: r.policy?.name ?? null,
      tables,
      detail,
      refresh_approvals: event.startsWith('approval.'),
      refresh_runs: event.startsWith('query') || event.startsWith('token.'),
    };
  }

  function decisionsFeed(): FeedItem[] {
    return (feed?.latest(60) ?? []).map(feedItem);
  }

  function pending(): ApprovalRequest[] {
    return approvalsOf(gateway).store().list({ status: 'pending' }, gateway.parts.now());
  }

  function shownSql(r: AuditRecord): string | null {
    if (typeof r.sql !== 'string') return null;
    // a sealed record's `sql` is already redacted; otherwise it is exact, and is redacted here
    return r.sql_sealed ? r.sql : redactSql(r.sql, dialect, { trusted: true }).text;
  }

  async function verification(): Promise<{ ok: boolean; text: string }> {
    if (!logSource) return { ok: false, text: 'the audit log is kept by another gateway' };
    const key = await logVersion(logSource);
    if (verifyCache?.key === key) return verifyCache.result;
    const report = await verifyAuditLogOf(logSource, { keyDir: gateway.config.keysDir, signatures: 'latest' });
    const result = report.ok
      ? { ok: true, text: `${report.records} records, chain intact, ${report.checkpoints.verified} signed checkpoint(s) verified` }
      : { ok: false, text: `first bad line ${report.firstBad?.line}: ${report.firstBad?.problem}` };
    verifyCache = { key, result };
    return result;
  }

  /** Changes whenever the log does: the file's size and time, or the database's head. */
  async function logVersion(source: AuditLogSource): Promise<string> {
    if (source.kind === 'file') {
      const st = statSync(source.path);
      return `${st.size}:${st.mtimeMs}`;
    }
    const sink = await gateway.parts.audit();
    return sink instanceof PgAuditSink ? sink.headKey() : String(Date.now());
  }

  function backTo(ctx: RequestContext): string {
    const ref = ctx.req.headers.referer;
    try {
      const u = new URL(String(ref));
      if (allowedOrigins().includes(u.origin) && ['/console', '/console/approvals'].includes(u.pathname)) return u.pathname;
    } catch {
      // no usable referer: the overview
    }
    return '/console';
  }

  const pages: Record<string, Record<string, RouteHandler>> = {
    '/console': {
      GET: route(async (ctx, s) => {
        sendPage(ctx, 200, layout('Overview', s, overviewPage({ pending: pending(), runs: runRows(), feed: decisionsFeed(), csrf: s!.csrf, me: s!.operator.name, fourEyes: gateway.config.operators.fourEyes }), 'overview'));
      }, 'session'),
    },
    '/console/approvals': {
      GET: route(async (ctx, s) => {
        const all = approvalsOf(gateway).store().list({ limit: 60 }, gateway.parts.now());
        sendPage(ctx, 200, layout('Approvals', s, approvalsPage(all.filter((r) => r.status === 'pending'), all.filter((r) => r.status !== 'pending'), s!.csrf, s!.operator.name, gateway.config.operators.fourEyes), 'approvals'));
      }, 'session'),
    },
    '/console/approvals/decide': {
      POST: route(async (ctx, s) => {
        const form = await readForm(ctx.req);
        requireCsrf(s!, form);
        const decision = form.get('decision');
        if (decision !== 'approve' && decision !== 'deny') throw new UsageError('console.bad_form', 'choose approve or deny');
        const forValue = form.get('for') ?? '';
        const windowMs = forValue === '' ? undefined : parseDuration(forValue);
        if (forValue !== '' && windowMs === undefined) throw new UsageError('console.bad_form', `"${forValue}" is not a duration`);
        const runs = Number(form.get('runs') || '1');
        const id = form.get('id') ?? '';
        try {
          const r = await reviewApproval(
            { approvals: approvalsOf(gateway), sink: await gateway.parts.audit(), now: gateway.parts.now },
            s!.operator,
            { id, approve: decision === 'approve', reason: form.get('reason') ?? '', runs, windowMs: decision === 'approve' ? windowMs : undefined },
            'console',
          );
          s!.flash = { kind: 'ok', text: `${r.id} ${r.status} by ${s!.operator.name}${r.grant ? ` (${r.grant.runs} run(s) until ${r.grant.expiresAt})` : ''}` };
        } catch (err) {
          if (!isHoopqError(err) || err.exitCode === 1) throw err;
          s!.flash = { kind: 'error', text: err.message };
        }
        redirect(ctx, backTo(ctx));
      }, 'session'),
    },
    '/console/revoke': {
      POST: route(async (ctx, s) => {
        const form = await readForm(ctx.req);
        requireCsrf(s!, form);
        const run = form.get('run') ?? '';
        if (run === '' || run.length > 200) throw new UsageError('console.bad_form', 'which run?');
        const reason = `revoked from the console by ${s!.operator.name}`;
        const result = gateway.state().revokeRun(run, reason);
        await audit({
          event: 'token.revoke',
          run,
          subject: `operator:${s!.operator.name}`,
          reason,
          revoked: { kind: result.kind, value: result.value, matched_tokens: result.matchedTokens, new: result.isNew },
          revoked_by: operatorRef(s!.operator, 'console'),
          src_endpoint: ctx.remote,
        });
        s!.flash = { kind: 'ok', text: `run ${run} revoked: its running queries are being cancelled and its tokens refused` };
        redirect(ctx, backTo(ctx));
      }, 'session'),
    },
    '/console/record': {
      GET: route(async (ctx, s) => {
        const id = ctx.url.searchParams.get('id') ?? '';
        const record = (id && id.length <= 100 && (feed?.get(id) ?? (logSource ? await withAuditLogFile(logSource, (log) => findAuditRecord(log, id)) : undefined))) || undefined;
        if (!record) throw new UsageError('gateway.not_found', `no audit record ${id.slice(0, 100)}`);
        sendPage(ctx, 200, layout(`Record ${record.seq}`, s, recordPage(record, shownSql(record), feed?.related(record) ?? [], await verification())));
      }, 'session'),
    },
    '/console/fragment': {
      GET: route(async (ctx, s) => {
        const part = ctx.url.searchParams.get('part');
        const body: Html =
          part === 'approvals' ? approvalsSection(pending(), s!.csrf, s!.operator.name, gateway.config.operators.fourEyes) : part === 'runs' ? runsSection(runRows(), s!.csrf) : html``;
        send(ctx, 200, 'text/html; charset=utf-8', body.text);
      }, 'session'),
    },
    '/console/events': {
      GET: route(async (ctx) => {
        ctx.res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' });
        ctx.res.write(': hoopq decisions\n\n');
        await new Promise<void>((resolve) => {
          const unsubscribe = feed?.subscribe((r) => ctx.res.write(`event: record\ndata: ${JSON.stringify(feedItem(r))}\n\n`));
          const ping = setInterval(() => ctx.res.write(': ping\n\n'), 15_000);
          const end = () => {
            streams.delete(end);
            clearInterval(ping);
            unsubscribe?.();
            ctx.res.end();
            resolve();
          };
          streams.add(end);
          if (ctx.signal.aborted) return end();
          ctx.signal.addEventListener('abort', end, { once: true });
          ctx.res.once('close', end);
        });
      }, 'session'),
    },
    '/console/login': {
      GET: route(async (ctx, s) => {
        if (s) return redirect(ctx, '/console');
        const { id, login } = sessions.startLogin();
        sendPage(ctx, 200, layout('Sign in', undefined, loginPage(login.csrf, oidc !== undefined, errorParam(ctx))), { 'set-cookie': sessions.loginCookieHeader(id) });
      }, 'public'),
      POST: route(async (ctx) => {
        const form = await readForm(ctx.req);
        const login = sessions.findLogin(ctx.req, false);
        if (!login || !isSameToken(form.get('csrf'), login.csrf)) throw new PolicyDeniedError('console.csrf', 'refused: the sign-in form is stale or was not sent from this console', { rule: 'console.csrf', hint: 'open /console/login again' });
        const key = form.get('key') ?? undefined;
        const operator = gateway.operators().authenticate(key);
        if (!operator) {
          await loginRefused(ctx, 'not an operator key of this deployment', 'key');
          sendPage(ctx, 401, layout('Sign in', undefined, loginPage(login.csrf, oidc !== undefined, 'That is not an operator key of this deployment.')));
          return;
        }
        sessions.findLogin(ctx.req, true);
        redirect(ctx, '/console', { 'set-cookie': await openSession(ctx, operator, operatorKeyDigest(key!)) });
      }, 'public'),
    },
    '/console/login/oidc': {
      GET: route(async (ctx) => {
        if (!oidc) throw new UsageError('gateway.not_found', 'single sign-on is not configured (operators.oidc)');
        const start = await oidc.start(callbackUrl());
        const { id } = sessions.startLogin({ state: start.state, nonce: start.nonce, verifier: start.verifier });
        redirect(ctx, start.url, { 'set-cookie': sessions.loginCookieHeader(id) }, 302);
      }, 'public'),
    },
    '/console/oidc/callback': {
      GET: route(async (ctx) => {
        if (!oidc) throw new UsageError('gateway.not_found', 'single sign-on is not configured (operators.oidc)');
        const login = sessions.findLogin(ctx.req, true);
        const q = ctx.url.searchParams;
        const fail = async (why: string) => {
          await loginRefused(ctx, why, 'oidc');
          sendPage(ctx, 401, layout('Sign in', undefined, html`<div class="login"><h1>Sign-in refused</h1><div class="flash error" role="alert">${why}</div><p><a href="/console/login">Try again</a></p></div>`));
        };
        if (q.get('error')) return fail(`the identity provider refused: ${String(q.get('error')).slice(0, 100)}`);
        if (!login?.oidc || !isSameToken(q.get('state'), login.oidc.state)) return fail('this sign-in was not started here, or took longer than 10 minutes (state)');
        let operator: Operator;
        try {
          operator = await oidc.finish(q.get('code') ?? '', login.oidc, callbackUrl());
        } catch (err) {
          if (isHoopqError(err) && err.exitCode !== 1) return fail(err.message);
          throw err;
        }
        // a page, not a redirect: the provider's redirect was cross-site, and a SameSite=Strict
        // cookie set now is sent with a navigation this page starts, not with that redirect chain
        const body = html`<div class="login"><h1>Signed in</h1><p>Signed in as <strong>${operator.name}</strong>. <a href="/console" id="continue">Continue to the console</a>.</p></div>`;
        const page = layout('Signed in', undefined, body, '', '/console');
        sendPage(ctx, 200, page, { 'set-cookie': await openSession(ctx, operator) });
      }, 'public'),
    },
    '/console/logout': {
      POST: route(async (ctx, s) => {
        const form = await readForm(ctx.req);
        requireCsrf(s!, form);
        sessions.end(ctx.req);
        redirect(ctx, '/console/login', { 'set-cookie': sessions.clearSessionCookieHeader() });
      }, 'session'),
    },
    '/console/assets/console.css': { GET: route(async (ctx) => send(ctx, 200, 'text/css; charset=utf-8', CONSOLE_CSS, { 'cache-control': 'no-cache' }), 'public') },
    '/console/assets/console.js': { GET: route(async (ctx) => send(ctx, 200, 'text/javascript; charset=utf-8', CONSOLE_JS, { 'cache-control': 'no-cache' }), 'public') },
  };

  function callbackUrl(): string {
    return new URL('/console/oidc/callback', options.origin()).toString();
  }

  function securityHeaders(): Record<string, string> {
    return {
      'content-security-policy': CSP,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'permissions-policy': 'camera=(), microphone=(), geolocation=()',
      'cache-control': 'no-store',
      ...(options.secureCookies ? { 'strict-transport-security': 'max-age=31536000' } : {}),
    };
  }

  function send(ctx: RequestContext, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
    ctx.res.writeHead(status, { ...securityHeaders(), 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
    ctx.res.end(body);
  }

  function sendPage(ctx: RequestContext, status: number, page: string, headers: Record<string, string> = {}): void {
    send(ctx, status, 'text/html; charset=utf-8', page, headers);
  }

  function redirect(ctx: RequestContext, location: string, headers: Record<string, string> = {}, status = 303): void {
    ctx.res.writeHead(status, { ...securityHeaders(), location, 'content-length': '0', ...headers });
    ctx.res.end();
  }

  return {
    routes: pages,
    close: () => {
      for (const end of [...streams]) end();
      feed?.stop();
    },
  };
}

function errorParam(ctx: RequestContext): string | undefined {
  return ctx.url.searchParams.has('expired') ? 'Your session ended; sign in again.' : undefined;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new UsageError('gateway.unsupported_media_type', 'refused: the console takes forms (application/x-www-form-urlencoded)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new UsageError('gateway.request_too_large', `refused a form of more than ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
