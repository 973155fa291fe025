/**
 * `hoopq token mint|inspect|revoke|list|exchange`: the run-token lifecycle, on the deployment
 * directly or through its gateway (open-deployment.ts). Mint, list and revoke are operator
 * commands (through a gateway: $HOOPQ_OPERATOR_KEY; a run token may revoke its own run);
 * every lifecycle event is written to the audit log. The token itself is printed once, on
 * stdout, and never logged.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../config/units.js';
import { UsageError } from '../errors.js';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';
import { parsePositiveInt } from './query-target.js';

export function registerTokenCommands(program: Command, state: CliState): void {
  const token = program.command('token').description('run tokens: mint, inspect, revoke, list, exchange');

  token
    .command('mint')
    .description('print one run token on stdout (operator command: the signing key here, or $HOOPQ_OPERATOR_KEY through a gateway)')
    .requiredOption('--policy <name>', 'the policy the token is bound to')
    .requiredOption('--run <run>', 'the run id (one pipeline run)')
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h (at most 12h)', '1h')
    .option('--subject <text>', 'who the run acts for (default: operator:USER, or operator:gateway through a gateway)')
    .option('--max-queries <n>', 'a per-run query budget, only tighter than the policy\'s', parsePositiveInt)
    .action(async (opts: { policy: string; run: string; ttl: string; subject?: string; maxQueries?: number }, cmd: Command) => {
      const minted = await withDeployment(cmd, (deployment) =>
        deployment.mintToken({ policy: opts.policy, run: opts.run, ttlSeconds: ttlSeconds(opts.ttl), subject: opts.subject, maxQueries: opts.maxQueries }),
      );
      process.stdout.write(minted.token + '\n');
    });

  token
    .command('inspect')
    .description('verify a token and print its claims as JSON (never the token itself)')
    .argument('[token]', 'the token (default: $HOOPQ_TOKEN)')
    .action(async (arg: string | undefined, _opts: unknown, cmd: Command) => {
      const inspection = await withDeployment(cmd, (deployment) => deployment.inspectToken(arg ?? process.env.HOOPQ_TOKEN));
      process.stdout.write(JSON.stringify(inspection, null, 2) + '\n');
    });

  token
    .command('revoke')
    .description('revoke a run (every token of it) or one token; running queries of the run are cancelled')
    .option('--run <run>', 'the run to revoke')
    .option('--id <tokenId>', 'the token id (jti) to revoke')
    .option('--reason <text>', 'recorded in the audit log')
    .option('--token <token>', 'through a gateway without $HOOPQ_OPERATOR_KEY: the run token revoking its own run or itself (default: $HOOPQ_TOKEN)')
    .action(async (opts: { run?: string; id?: string; reason?: string; token?: string }, cmd: Command) => {
      if (Boolean(opts.run) === Boolean(opts.id)) {
        throw new UsageError('usage.revoke_target', 'give exactly one of --run RUN or --id TOKEN_ID');
      }
      const revoked = await withDeployment(cmd, (deployment) =>
        deployment.revoke({ run: opts.run, tokenId: opts.id, reason: opts.reason, token: opts.token ?? process.env.HOOPQ_TOKEN }),
      );
      process.stderr.write(`hoopq: revoked ${revoked.kind} ${revoked.value} (${revoked.matched_tokens} known token(s)); running queries of it are being cancelled\n`);
    });

  token
    .command('list')
    .description('active tokens: run, policy, subject, expiry (never the tokens themselves)')
    .option('--format <format>', 'pretty or json', 'pretty')
    .action(async (opts: { format: string }, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      const tokens = await withDeployment(cmd, (deployment) => deployment.listTokens());
      if (opts.format === 'json') {
        process.stdout.write(JSON.stringify(tokens) + '\n');
        return;
      }
      if (tokens.length === 0) process.stderr.write('hoopq: no active tokens\n');
      for (const t of tokens) {
        process.stdout.write(`${t.run}\t${t.policy}\t${t.subject}\texpires ${new Date(t.expiresAt * 1000).toISOString()}\tqueries ${t.queriesStarted}${t.maxQueries ? '/' + t.maxQueries : ''}\tid ${t.id}\n`);
      }
    });

  token
    .command('exchange')
    .description('swap a CI provider\'s OIDC ID token for a run token, if the policy\'s identity rules accept it')
    .requiredOption('--policy <name>', 'the policy to ask for')
    .option('--oidc-token <token>', 'the OIDC ID token')
    .option('--oidc-token-file <file>', 'read the OIDC ID token from a file')
    .option('--audience <aud>', 'expected aud claim (default: hoopq, or the policy rule\'s)')
    .option('--ttl <duration>', 'lifetime of the run token (at most 12h)', '1h')
    .action(async (opts: { policy: string; oidcToken?: string; oidcTokenFile?: string; audience?: string; ttl: string }, cmd: Command) => {
      const oidcToken = opts.oidcToken ?? (opts.oidcTokenFile ? readTokenFile(opts.oidcTokenFile) : undefined);
      if (!oidcToken) throw new UsageError('usage.oidc_token', 'give --oidc-token T or --oidc-token-file F');
      const minted = await withDeployment(cmd, (deployment) =>
        deployment.exchangeToken({ policy: opts.policy, oidcToken, audience: opts.audience, ttlSeconds: ttlSeconds(opts.ttl) }),
      );
      process.stdout.write(minted.token + '\n');
    });
}

function ttlSeconds(v: string): number {
  const ms = parseDuration(/^\d+$/.test(v) ? `${v}s` : v);
  if (ms === undefined) throw new UsageError('usage.ttl', `"${v}" is not a duration`, { hint: 'write e.g. 30m, 1h or 12h (maximum 12h)' });
  return Math.ceil(ms / 1000);
}

function readTokenFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError('usage.oidc_token_file', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}
