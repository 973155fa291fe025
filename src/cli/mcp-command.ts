/**
 * `hoopq mcp`: a Model Context Protocol server on stdio under the run token in $HOOPQ_TOKEN
 * (or --token). Direct mode: the token is verified and the audit sink opened before anything
 * is served; a bad token exits 4 with the refusal on stderr, and stdout stays empty.
 * Gateway mode (HOOPQ_GATEWAY): stdio is relayed to the gateway's POST /v1/mcp, which runs
 * the same tools; the gateway's refusal of the token ends it the same way, at initialize.
 */
import type { Command } from 'commander';
import { gatewayEndpoint } from '../gateway/gateway-client.js';
import { createMcpServer, openMcpSession } from '../mcp/create-mcp-server.js';
import { proxyMcpStdio } from '../mcp/proxy-mcp-stdio.js';
import { serveMcpStdio } from '../mcp/serve-mcp-stdio.js';
import type { CliState } from './main.js';
import { cliToken, openQueryTarget, remoteToken } from './query-target.js';

export function registerMcpCommand(program: Command, _state: CliState): void {
  program
    .command('mcp')
    .description('serve MCP tools (query, explain, list_tables, describe_table) on stdio under the run token in $HOOPQ_TOKEN')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .action(async (opts: { token?: string }, cmd: Command) => {
      const token = cliToken(opts.token);
      const target = await openQueryTarget(cmd);
      if (target.kind === 'remote') {
        await proxyMcpStdio(gatewayEndpoint(target.gateway, '/v1/mcp'), remoteToken(token));
        return;
      }
      const ctx = target.ctx;
      try {
        const session = await openMcpSession(ctx.parts, token);
        await ctx.parts.audit(); // fail closed (exit 8) before serving if the audit log cannot be written
        const mcp = createMcpServer(ctx.parts, session, { version: program.version() });
        process.stderr.write(`hoopq: MCP server on stdio for run ${session.identity.run} under policy ${session.policy.name}\n`);
        await serveMcpStdio(mcp);
      } finally {
        await ctx.close();
      }
    });
}
