/**
 * `hoopq sessions list|close`: the operator's view of the MCP sessions a running gateway holds
 * (GET/DELETE /v1/mcp/sessions). Run on the gateway host: the operator key is read from the
 * config's keys folder (`operator.key`), the gateway's URL from `--gateway`, else
 * `$HOOPQ_GATEWAY`, else the config's `gateway:`. Closing a session cancels its running
 * calls (each recorded) and is itself recorded; tokens are never shown.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { remoteCloseMcpSessions, remoteListMcpSessions } from '../gateway-client/gateway-client.js';
import { checkGatewayUrl } from '../gateway-client/gateway-url.js';
import { OPERATOR_KEY_FILE, readSecretKey } from '../identity/secret-key-file.js';
import { terminalText } from '../output/terminal-text.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';

interface Target {
  gateway: URL;
  operatorKey: string;
}

export function registerSessionsCommands(program: Command, state: CliState): void {
  const sessions = program.command('sessions').description('the MCP sessions a running gateway holds: list, close (operator command: needs the operator key)');

  sessions
    .command('list')
    .description('list open MCP sessions: id, run, policy, subject, opened, last used, calls running, client address')
    .option('--run <run>', 'only this run\'s sessions')
    .option('--gateway <url>', 'the gateway (default: $HOOPQ_GATEWAY, else gateway: in the config)')
    .option('--format <format>', 'pretty or json', 'pretty')
    .action(async (opts: { run?: string; gateway?: string; format: string }, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      const target = openTarget(cmd, opts.gateway);
      const list = await remoteListMcpSessions(target.gateway, target.operatorKey, opts.run);
      if (opts.format === 'json') {
        process.stdout.write(JSON.stringify(list) + '\n');
        return;
      }
      if (list.length === 0) process.stderr.write('hoopq: no MCP sessions open\n');
      for (const s of list) {
        const fields = [s.id, s.run, s.policy ?? '-', s.subject ?? '-', `opened ${s.opened_at}`, `last used ${s.last_used_at}`, `calls ${s.requests_running}`, s.src_endpoint?.ip ?? '-'];
        process.stdout.write(fields.map((f) => terminalText(String(f))).join('\t') + '\n');
      }
    });

  sessions
    .command('close')
    .description('close one MCP session, or every session of a run; their running calls are cancelled and recorded')
    .argument('[id]', 'the session id (see hoopq sessions list)')
    .option('--run <run>', 'close every session of this run instead')
    .option('--gateway <url>', 'the gateway (default: $HOOPQ_GATEWAY, else gateway: in the config)')
    .action(async (id: string | undefined, opts: { run?: string; gateway?: string }, cmd: Command) => {
      if ((id === undefined) === (opts.run === undefined)) throw new UsageError('usage.sessions_close', 'give a session id or --run RUN (one of them)', { hint: 'hoopq sessions list shows the ids' });
      const target = openTarget(cmd, opts.gateway);
      const closed = await remoteCloseMcpSessions(target.gateway, target.operatorKey, id !== undefined ? { id } : { run: opts.run! });
      process.stderr.write(`hoopq: closed ${closed.length} MCP session(s)${closed.length > 0 ? `: ${closed.join(', ')}` : ''}\n`);
    });
}

function openTarget(cmd: Command, flag: string | undefined): Target {
  const ctx = loadCliContext(cmd);
  void ctx.close();
  const text = flag ?? process.env.HOOPQ_GATEWAY ?? ctx.config.gateway;
  if (!text) {
    throw new UsageError('usage.gateway_url', 'which gateway? give --gateway URL (or set HOOPQ_GATEWAY)', { hint: 'the URL the gateway printed when it started, e.g. http://127.0.0.1:8470' });
  }
  return { gateway: checkGatewayUrl(text, flag ? '--gateway' : 'HOOPQ_GATEWAY'), operatorKey: readSecretKey(join(ctx.config.keysDir, OPERATOR_KEY_FILE)) };
}
