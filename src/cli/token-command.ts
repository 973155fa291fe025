/**
 * `hoopq token mint|inspect|revoke|list|exchange`: the run-token lifecycle. Mint and revoke
 * are operator commands (they need the signing key / the state store); every lifecycle event
 * is written to the audit log. The token itself is printed once, on stdout, and never logged.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { loadOrCreateSqlSealKey } from '../audit/seal-sql.js';
import { parseDuration } from '../config/units.js';
import { AuthError, UsageError } from '../errors.js';
import { mintRunToken } from '../identity/run-token.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { fillTokenFields, newAuditBody } from '../pipeline/audit-body.js';
import { resolveRunPolicy } from '../pipeline/resolve-run-policy.js';
import { loadCliContext, type CliContext } from './cli-context.js';
import type { CliState } from './main.js';
import { parsePositiveInt } from './query-target.js';

export function registerTokenCommands(program: Command, state: CliState): void {
  const token = program.command('token').description('run tokens: mint, inspect, revoke, list, exchange');

  token
    .command('mint')
    .description('print one run token on stdout (operator command: needs the signing key)')
    .requiredOption('--policy <name>', 'the policy the token is bound to')
    .requiredOption('--run <run>', 'the run id (one pipeline run)')
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h (at most 12h)', '1h')
    .option('--subject <text>', 'who the run acts for (default: the operator\'s user name)')
    .option('--max-queries <n>', 'a per-run query budget, only tighter than the policy\'s', parsePositiveInt)
    .action(async (opts: { policy: string; run: string; ttl: string; subject?: string; maxQueries?: number }, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        const minted = await issueRunToken(ctx, {
          policy: opts.policy,
          run: opts.run,
          ttlSeconds: ttlSeconds(opts.ttl),
          subject: opts.subject ?? `operator:${safeUser()}`,
          maxQueries: opts.maxQueries,
        });
        process.stdout.write(minted.token + '\n');
      } finally {
        await ctx.close();
      }
    });

  token
    .command('inspect')
    .description('verify a token and print its claims as JSON (never the token itself)')
    .argument('[token]', 'the token (default: $HOOPQ_TOKEN)')
    .action(async (arg: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        const identity = await ctx.parts.identity.verify(arg ?? process.env.HOOPQ_TOKEN);
        // verified as query verifies it: a token whose policy is gone is refused here too (exit 4)
        const policy = resolveRunPolicy(ctx.parts, identity);
        process.stdout.write(
          JSON.stringify({
            run: identity.run,
            subject: identity.subject,
            token_id: identity.tokenId,
            policy: identity.policy,
            policy_sha256: identity.policySha256,
            policy_current_sha256: policy.sha256,
            issued_at: new Date(identity.issuedAt * 1000).toISOString(),
            expires_at: new Date(identity.expiresAt * 1000).toISOString(),
            max_queries: identity.maxQueries ?? null,
            queries_started: ctx.state().queriesStarted(identity.run),
            kid: identity.kid,
          }, null, 2) + '\n',
        );
      } finally {
        await ctx.close();
      }
    });

  token
    .command('revoke')
    .description('revoke a run (every token of it) or one token; running queries of the run are cancelled')
    .option('--run <run>', 'the run to revoke')
    .option('--id <tokenId>', 'the token id (jti) to revoke')
    .option('--reason <text>', 'recorded in the audit log')
    .action(async (opts: { run?: string; id?: string; reason?: string }, cmd: Command) => {
      if (Boolean(opts.run) === Boolean(opts.id)) {
        throw new UsageError('usage.revoke_target', 'give exactly one of --run RUN or --id TOKEN_ID');
      }
      const ctx = loadCliContext(cmd);
      try {
        const store = ctx.state();
        const result = opts.run ? store.revokeRun(opts.run, opts.reason ?? null) : store.revokeToken(opts.id!, opts.reason ?? null);
        const sink = await ctx.parts.audit();
        await sink.append(
          newAuditBody('token.revoke', ctx.parts.now(), {
            run: opts.run ?? null,
            token_id: opts.id ?? null,
            subject: `operator:${safeUser()}`,
            reason: opts.reason ?? null,
            revoked: { kind: result.kind, value: result.value, matched_tokens: result.matchedTokens, new: result.isNew },
          }),
        );
        process.stderr.write(`hoopq: revoked ${result.kind} ${result.value} (${result.matchedTokens} known token(s)); running queries of it are being cancelled\n`);
      } finally {
        await ctx.close();
      }
    });

  token
    .command('list')
    .description('active tokens: run, policy, subject, expiry (never the tokens themselves)')
    .option('--format <format>', 'pretty or json', 'pretty')
    .action(async (opts: { format: string }, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      const ctx = loadCliContext(cmd);
      try {
        const tokens = ctx.state().listActiveTokens(new Date());
        if (opts.format === 'json') {
          process.stdout.write(JSON.stringify(tokens) + '\n');
          return;
        }
        if (tokens.length === 0) process.stderr.write('hoopq: no active tokens\n');
        for (const t of tokens) {
          process.stdout.write(`${t.run}\t${t.policy}\t${t.subject}\texpires ${new Date(t.expiresAt * 1000).toISOString()}\tqueries ${t.queriesStarted}${t.maxQueries ? '/' + t.maxQueries : ''}\tid ${t.id}\n`);
        }
      } finally {
        await ctx.close();
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
      const ctx = loadCliContext(cmd);
      try {
        const { exchangeOidcToken } = await import('../identity/oidc-exchange.js');
        const policy = ctx.parts.policies.get(opts.policy);
        if (!policy) throw new AuthError('token.unknown_policy', `refused: no policy named "${opts.policy}"`, { rule: 'token.policy', hint: `policies: ${ctx.parts.policies.names().join(', ')}` });
        const sink = await ctx.parts.audit();
        prepareAgentKeys(ctx);
        const body = newAuditBody('token.exchange', ctx.parts.now(), { policy: { name: policy.name, sha256: policy.sha256 } });
        try {
          const minted = await exchangeOidcToken({
            oidcToken,
            policy,
            audience: opts.audience,
            keysDir: ctx.config.keysDir,
            state: ctx.state(),
            ttlSeconds: ttlSeconds(opts.ttl),
          });
          fillTokenFields(body, minted.identity);
          await sink.append(body);
          process.stdout.write(minted.token + '\n');
        } catch (err) {
          body.decision = 'deny';
          body.reason = (err as Error).message;
          body.code = (err as { code?: string }).code ?? null;
          await sink.append(body);
          throw err;
        }
      } finally {
        await ctx.close();
      }
    });
}

export interface IssueTokenInput {
  policy: string;
  run: string;
  subject: string;
  ttlSeconds: number;
  maxQueries?: number;
}

/** Mint + record in the state store + audit `token.mint`. Used by `token mint` and the quickstart tour. */
export async function issueRunToken(ctx: CliContext, input: IssueTokenInput): Promise<{ token: string; identity: RunIdentity }> {
  const policy = ctx.parts.policies.get(input.policy);
  if (!policy) {
    throw new UsageError('usage.unknown_policy', `no policy named "${input.policy}" in ${ctx.config.policiesDir}`, {
      hint: `policies: ${ctx.parts.policies.names().join(', ') || '(none)'}`,
    });
  }
  prepareAgentKeys(ctx);
  const minted = await mintRunToken({
    keysDir: ctx.config.keysDir,
    policy: { name: policy.name, sha256: policy.sha256, limits: { maxQueries: policy.limits.maxQueries } },
    run: input.run,
    subject: input.subject,
    ttlSeconds: input.ttlSeconds,
    maxQueries: input.maxQueries,
    state: ctx.state(),
  });
  const sink = await ctx.parts.audit();
  const body = newAuditBody('token.mint', ctx.parts.now(), { policy: { name: policy.name, sha256: policy.sha256 } });
  fillTokenFields(body, minted.identity);
  await sink.append(body);
  return minted;
}

/**
 * Creates the audit SQL sealing key now, in the operator's single process, if it does not
 * exist yet. Otherwise the agent's first parallel queries race to create it on first use, and
 * one can read the file another has created but not yet written (exit 3, "not a 32-byte key").
 */
function prepareAgentKeys(ctx: CliContext): void {
  loadOrCreateSqlSealKey(ctx.config.keysDir);
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

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

