/** `hoopq query [SQL]`: the main job. Flags per CONTRACT.md, with bq's spellings accepted (bq-flags.ts). */
import { Command, Option } from 'commander';
import { AuthError, UsageError } from '../errors.js';
import { remoteQuery } from '../gateway/gateway-client.js';
import { checkGatewayUrl } from '../gateway/listen-address.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../output/create-result-writer.js';
import { runQuery } from '../pipeline/run-query.js';
import type { QueryParameter } from '../warehouse/warehouse.js';
import { loadCliContext, type CliContext } from './cli-context.js';
import type { CliState } from './main.js';
import { readSql } from './read-sql.js';
import { withApprovalWait, type WaitOptions } from './wait-for-approval.js';
import { parseDuration } from '../config/units.js';
import { remoteGetApproval } from '../gateway/review-client.js';

export function registerQueryCommand(program: Command, state: CliState): void {
  program
    .command('query')
    .description('run SQL under the run token\'s policy: analysed, checked, masked, audited')
    .argument('[sql]', 'the SQL; "-" or absent reads stdin')
    .option('--file <file>', 'read the SQL from a file')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .option('--justification <text>', 'why this query is needed (default: $HOOPQ_JUSTIFICATION)')
    .addOption(new Option('--format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('pretty'))
    .option('--max-rows <n>', 'return at most N rows (the policy limit still applies)', parsePositiveInt)
    .option('--dry-run', 'analyse, check policy and ask the warehouse for its estimate; run nothing')
    .option('--parameter <name:type:value>', 'a query parameter (repeatable), as bq', collectParameter, [] as QueryParameter[])
    .option('--unmask <columns>', 'ask to lift the masks of these columns: comma-separated globs project.dataset.table.column, or "*" for every masked column the query reads; needs an approval')
    .option('--wait', 'when the query is held for approval, wait for the decision, then run it (exit 0) or report the denial (exit 5)')
    .option('--wait-timeout <duration>', 'with --wait: give up after DURATION and exit 11 (default: when the request expires)')
    .action(async (sqlArg: string | undefined, opts: QueryOpts, cmd: Command) => {
      const format = opts.format as OutputFormat;
      state.machineErrors = format === 'json' || format === 'ndjson';
      const sql = await readSql(sqlArg, opts.file, process.stdin);
      const target = await openQueryTarget(cmd);
      const unmask = unmaskList(opts.unmask);
      const wait = waitOptions(opts.wait, opts.waitTimeout, target, opts.token ?? process.env.HOOPQ_TOKEN);
      if (target.kind === 'remote') {
        // gateway mode: the same request, forwarded; stdout, stderr and exit code as in direct mode
        const outcome = await withApprovalWait(() => remoteQuery({
          gateway: target.gateway,
          token: remoteToken(opts.token ?? process.env.HOOPQ_TOKEN),
          body: {
            sql,
            justification: opts.justification ?? process.env.HOOPQ_JUSTIFICATION ?? null,
            format,
            max_rows: opts.maxRows,
            dry_run: opts.dryRun ? true : undefined,
            params: opts.parameter.length > 0 ? opts.parameter : undefined,
            unmask,
          },
          stdout: process.stdout,
          notice: (m) => process.stderr.write(m + '\n'),
        }), wait);
        if (outcome.dry_run) {
          process.stdout.write(JSON.stringify({ dry_run: true, record: outcome.record, ...outcome.dry_run }) + '\n');
        }
        return;
      }
      const ctx = target.ctx;
      try {
        const outcome = await withApprovalWait(() => runQuery(ctx.parts, {
          sql,
          token: opts.token ?? process.env.HOOPQ_TOKEN,
          justification: opts.justification ?? process.env.HOOPQ_JUSTIFICATION ?? null,
          format,
          maxRows: opts.maxRows,
          dryRun: Boolean(opts.dryRun),
          params: opts.parameter.length > 0 ? opts.parameter : undefined,
          unmask,
          out: process.stdout,
          notice: (m) => process.stderr.write(m + '\n'),
        }), wait);
        if (outcome.dryRun) {
          process.stdout.write(JSON.stringify({ dry_run: true, record: outcome.recordId, ...outcome.dryRun }) + '\n');
        }
      } finally {
        await ctx.close();
      }
    });
}

interface QueryOpts {
  file?: string;
  token?: string;
  justification?: string;
  format: string;
  maxRows?: number;
  dryRun?: boolean;
  parameter: QueryParameter[];
  unmask?: string;
  wait?: boolean;
  waitTimeout?: string;
}

function unmaskList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const globs = v.split(',').map((g) => g.trim()).filter(Boolean);
  for (const g of globs) {
    if (g !== '*' && g.split('.').length !== 4) throw new UsageError('usage.unmask', `--unmask "${g}" is not a column glob project.dataset.table.column`, { hint: 'e.g. --unmask demo.crm.customers.email, or --unmask "*" for every masked column the query reads' });
  }
  return globs;
}

/** How --wait reads a request's status: the local store, or the gateway (with the run token that made it). */
function waitOptions(wait: boolean | undefined, timeout: string | undefined, target: Awaited<ReturnType<typeof openQueryTarget>>, token: string | undefined): WaitOptions {
  let waitMs: number | undefined = wait ? Infinity : undefined;
  if (timeout !== undefined) {
    if (!wait) throw new UsageError('usage.wait', '--wait-timeout needs --wait');
    waitMs = parseDuration(timeout);
    if (waitMs === undefined) throw new UsageError('usage.wait', `--wait-timeout "${timeout}" is not a duration`, { hint: 'write e.g. 10m' });
  }
  const statusOf =
    target.kind === 'remote'
      ? async (id: string) => String((await remoteGetApproval(target.gateway, remoteToken(token), id)).status)
      : async (id: string) => {
          const r = target.ctx.parts.approvals!.store().get(id);
          return r ? (r.status === 'pending' && Date.parse(r.expiresAt) <= Date.now() ? 'expired' : r.status) : 'expired';
        };
  return { waitMs, statusOf, notice: (m) => process.stderr.write(m + '\n'), stdout: process.stdout };
}

/**
 * Gateway mode when HOOPQ_GATEWAY is set (no config file is read at all: the agent's side
 * holds nothing but its token) or when the config names a `gateway:`; else direct mode.
 */
export async function openQueryTarget(cmd: Command): Promise<{ kind: 'remote'; gateway: URL } | { kind: 'local'; ctx: CliContext }> {
  const fromEnv = process.env.HOOPQ_GATEWAY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { kind: 'remote', gateway: checkGatewayUrl(fromEnv) };
  const ctx = loadCliContext(cmd);
  if (ctx.config.gateway) {
    await ctx.close();
    return { kind: 'remote', gateway: checkGatewayUrl(ctx.config.gateway, `gateway: in ${ctx.configPath}`) };
  }
  return { kind: 'local', ctx };
}

/** The token as the verifier would read it; one that cannot travel in an HTTP header is refused here, as malformed. */
export function remoteToken(token: string | undefined): string | undefined {
  const compact = token?.trim();
  if (!compact) return undefined;
  if (!/^[\x21-\x7e]+$/.test(compact)) {
    throw new AuthError('token.malformed', 'run token refused: the token is malformed: it contains characters a token never has', {
      rule: 'token.malformed',
      hint: 'pass the run token exactly as minted (three base64url parts separated by dots)',
    });
  }
  return compact;
}

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError('usage.not_positive', `"${v}" is not a positive whole number`);
  return n;
}

function collectParameter(v: string, acc: QueryParameter[]): QueryParameter[] {
  // bq: name:type:value; an empty name is a positional parameter; type may be omitted (STRING)
  const first = v.indexOf(':');
  const second = first === -1 ? -1 : v.indexOf(':', first + 1);
  if (first === -1) throw new UsageError('usage.parameter', `--parameter "${v}" must be name:type:value (as bq)`);
  const name = v.slice(0, first);
  const type = second === -1 ? 'STRING' : v.slice(first + 1, second) || 'STRING';
  const value = second === -1 ? v.slice(first + 1) : v.slice(second + 1);
  return [...acc, { name, type: type.toUpperCase(), value: value === 'NULL' ? null : value }];
}
