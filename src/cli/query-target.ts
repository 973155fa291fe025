/**
 * Where the agent's commands (query, explain, ls, show, mcp, bq) send their work, and the
 * run token they present. Gateway mode when HOOPQ_GATEWAY is set (no config file is read at
 * all: the agent's side holds nothing but its token) or when the config names a `gateway:`;
 * else direct mode, with the pipeline in this process.
 */
import type { Command } from 'commander';
import { AuthError, UsageError } from '../errors.js';
import { checkGatewayUrl } from '../gateway-client/gateway-url.js';
import { configPathFrom, loadContextAt, type CliContext, type ContextOptions } from './cli-context.js';

export type QueryTarget = { kind: 'remote'; gateway: URL } | { kind: 'local'; ctx: CliContext };

export async function openQueryTarget(cmd: Command, options: ContextOptions = {}): Promise<QueryTarget> {
  return openQueryTargetAt(configPathFrom(cmd), options);
}

export async function openQueryTargetAt(configPath: string, options: ContextOptions = {}): Promise<QueryTarget> {
  const fromEnv = process.env.HOOPQ_GATEWAY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { kind: 'remote', gateway: checkGatewayUrl(fromEnv) };
  const ctx = loadContextAt(configPath, options);
  if (ctx.config.gateway) {
    await ctx.close();
    return { kind: 'remote', gateway: checkGatewayUrl(ctx.config.gateway, `gateway: in ${ctx.configPath}`) };
  }
  return { kind: 'local', ctx };
}

/**
 * The run token from --token, else $HOOPQ_TOKEN. A HOOPQ_TOKEN that is set but empty is
 * refused with its likely cause: `export HOOPQ_TOKEN=$(hoopq token mint …)` whose mint failed.
 */
export function cliToken(flag: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  const env = process.env.HOOPQ_TOKEN;
  if (env !== undefined && env.trim() === '') {
    throw new AuthError('token.missing', 'run token refused: no run token was given: HOOPQ_TOKEN is set but empty', {
      rule: 'token.missing',
      hint: 'the command that set it probably failed: run `hoopq token mint --policy NAME --run RUN` on its own to see why, then export its output',
    });
  }
  return env;
}

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError('usage.not_positive', `"${v}" is not a positive whole number`);
  return n;
}
