/**
 * The composition root for commands that run only in direct mode for now (`mcp`, `ls`,
 * `show`): they need the config's warehouse, keys and audit sink in this process. When
 * gateway mode is configured they refuse clearly instead of quietly reading a local config
 * the operator meant not to be used.
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import type { CliContext } from './cli-context.js';
import { openQueryTarget } from './query-command.js';

export async function loadDirectContext(cmd: Command, command: string): Promise<CliContext> {
  const target = await openQueryTarget(cmd);
  if (target.kind === 'remote') {
    throw new ConfigError('config.direct_mode_only', `hoopq ${command} runs in direct mode only in this build, and gateway mode is configured (${target.gateway.origin})`, {
      hint: 'run it with HOOPQ_CONFIG pointing at the deployment\'s hoopq.yaml and no HOOPQ_GATEWAY, or use hoopq query, which forwards to the gateway',
    });
  }
  return target.ctx;
}
