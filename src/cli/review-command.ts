/**
 * `hoopq review list|show|approve|deny`: the operator's side of approvals. With HOOPQ_GATEWAY
 * set it calls the gateway's API; otherwise it works on the deployment's state store and
 * audit log (direct mode), as `hoopq token revoke` does.
 * Who decides: the person whose personal operator key is given (`--operator-key-file F` or
 * $HOOPQ_OPERATOR_KEY; `hoopq operator add NAME` makes one). Listing needs no key in direct
 * mode (whoever reads the config reads the state) and an operator key through a gateway.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { ApprovalStatus } from '../approval/approval-store.js';
import { listLine, operatorView, showText } from '../approval/request-view.js';
import { reviewApproval } from '../approval/review-approval.js';
import { parseDuration } from '../config/units.js';
import { AuthError, ConfigError, UsageError } from '../errors.js';
import { checkGatewayUrl } from '../gateway-client/gateway-url.js';
import { remoteDecide, remoteGetApproval, remoteListApprovals } from '../gateway/review-client.js';
import type { Operator } from '../operator/operator.js';
import { loadCliContext, type CliContext } from './cli-context.js';
import type { CliState } from './main.js';
import { parsePositiveInt } from './query-target.js';

interface KeyOpts {
  operatorKeyFile?: string;
  format?: string;
}

export function registerReviewCommands(program: Command, state: CliState): void {
  const review = program.command('review').description('requests for approval: list, show, approve, deny (docs/approvals.md)');
  const keyOption = () => new Option('--operator-key-file <file>', 'your personal operator key (default: $HOOPQ_OPERATOR_KEY)');
  const formatOption = () => new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');

  review
    .command('list')
    .description('requests for approval, newest first (default: those waiting)')
    .addOption(new Option('--status <status>', 'which').choices(['pending', 'approved', 'denied', 'expired', 'all']).default('pending'))
    .addOption(keyOption())
    .addOption(formatOption())
    .action(async (opts: KeyOpts & { status: string }, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      const views = await withTarget(cmd, async (t) =>
        t.kind === 'remote'
          ? remoteListApprovals(t.gateway, operatorKey(opts), opts.status)
          : t.ctx.parts.approvals!.store().list({ status: opts.status === 'all' ? undefined : (opts.status as ApprovalStatus) }).map(operatorView),
      );
      if (opts.format === 'json') process.stdout.write(JSON.stringify(views) + '\n');
      else for (const v of views) process.stdout.write(listLine(v) + '\n');
      if (views.length === 0 && opts.format !== 'json') process.stderr.write(`hoopq: no ${opts.status === 'all' ? '' : opts.status + ' '}requests\n`);
    });

  review
    .command('show')
    .description('one request: who, what (SQL with literals redacted), why it is held, its status')
    .argument('<id>', 'the request id (apr_…)')
    .addOption(keyOption())
    .addOption(formatOption())
    .action(async (id: string, opts: KeyOpts, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      const view = await withTarget(cmd, async (t) => {
        if (t.kind === 'remote') return remoteGetApproval(t.gateway, operatorKey(opts), id);
        const request = t.ctx.parts.approvals!.store().get(id);
        if (!request) throw new UsageError('usage.unknown_request', `no request for approval ${id}`, { hint: 'hoopq review list shows them' });
        return operatorView(request);
      });
      process.stdout.write(opts.format === 'json' ? JSON.stringify(view) + '\n' : showText(view));
    });

  for (const approve of [true, false]) {
    const cmd = review
      .command(approve ? 'approve' : 'deny')
      .description(approve ? 'let the request run: once by default, or --runs N within --for DURATION' : 'refuse the request; the same query under that token stays refused')
      .argument('<id>', 'the request id (apr_…)')
      .requiredOption('--reason <text>', 'why (recorded in the audit log and shown to the agent)')
      .addOption(keyOption())
      .addOption(formatOption());
    if (approve) {
      cmd.option('--runs <n>', 'how many times the approved query may run (default 1)', parsePositiveInt);
      cmd.option('--for <duration>', 'how long the approval lasts (default: until the request would have expired; never past the run token)');
    }
    cmd.action(async (id: string, opts: KeyOpts & { reason: string; runs?: number; for?: string }, c: Command) => {
      state.machineErrors = opts.format === 'json';
      const windowMs = opts.for === undefined ? undefined : parseDuration(opts.for);
      if (opts.for !== undefined && windowMs === undefined) throw new UsageError('usage.review_window', `"${opts.for}" is not a duration`, { hint: 'write e.g. 15m, 1h or 8h' });
      const view = await withTarget(c, async (t) => {
        const key = operatorKey(opts);
        if (t.kind === 'remote') return remoteDecide(t.gateway, key, approve, { id, reason: opts.reason, runs: opts.runs, for: opts.for });
        const operator = localOperator(t.ctx, key);
        const request = await reviewApproval(
          { approvals: t.ctx.parts.approvals!, sink: await t.ctx.parts.audit(), now: t.ctx.parts.now },
          operator,
          { id, approve, reason: opts.reason, runs: opts.runs, windowMs },
          'cli',
        );
        return operatorView(request);
      });
      if (opts.format === 'json') process.stdout.write(JSON.stringify(view) + '\n');
      else process.stderr.write(`hoopq: ${id} ${view.status} by ${view.decided_by}${approve && view.grant ? ` (${(view.grant as { runs: number }).runs} run(s) until ${(view.grant as { expires_at: string }).expires_at})` : ''}\n`);
    });
  }
}

type Target = { kind: 'remote'; gateway: URL } | { kind: 'local'; ctx: CliContext };

async function withTarget<T>(cmd: Command, fn: (t: Target) => Promise<T>): Promise<T> {
  const fromEnv = process.env.HOOPQ_GATEWAY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fn({ kind: 'remote', gateway: checkGatewayUrl(fromEnv) });
  const ctx = loadCliContext(cmd);
  try {
    if (ctx.config.gateway) return await fn({ kind: 'remote', gateway: checkGatewayUrl(ctx.config.gateway, `gateway: in ${ctx.configPath}`) });
    return await fn({ kind: 'local', ctx });
  } finally {
    await ctx.close();
  }
}

function operatorKey(opts: KeyOpts): string | undefined {
  if (opts.operatorKeyFile) {
    try {
      return readFileSync(opts.operatorKeyFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('keys.secret_missing', `cannot read the operator key file ${opts.operatorKeyFile} (${(err as NodeJS.ErrnoException).code ?? err})`, { rule: 'keys.secret' });
    }
  }
  const fromEnv = process.env.HOOPQ_OPERATOR_KEY?.trim();
  return fromEnv ? fromEnv : undefined;
}

function localOperator(ctx: CliContext, key: string | undefined): Operator {
  const operator = ctx.operators().authenticate(key);
  if (operator) return operator;
  throw new AuthError('approval.operator_key', key ? 'refused: the operator key is not one of this deployment\'s operators' : 'refused: a decision needs your personal operator key', {
    rule: 'approval.review',
    hint: 'pass --operator-key-file FILE or set HOOPQ_OPERATOR_KEY; an operator gets a key with hoopq operator add NAME',
  });
}
