/**
 * `hoopq mcp`: a Model Context Protocol server on stdio under the run token in $HOOPQ_TOKEN
 * (or --token). Direct mode: the token is verified and the audit sink opened before the
 * tools are served. Gateway mode (HOOPQ_GATEWAY): stdio is relayed to the gateway's
 * POST /v1/mcp, which runs the same tools.
 * A refused session (no token, a bad, expired or revoked one, an audit log that cannot be
 * written) is still served: every call is answered with the refusal as an `isError` result,
 * so an MCP client shows the agent why; the refusal is also printed on stderr, and the
 * process exits with its code once the client goes away.
 */
import type { Command } from 'commander';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { formatRefusal, isHoopqError, type HoopqError } from '../errors.js';
import { gatewayEndpoint, remoteToken } from '../gateway-client/gateway-client.js';
import { missingTokenError } from '../identity/run-token.js';
import { createMcpServer, createRefusingMcpServer, openMcpSession } from '../mcp/create-mcp-server.js';
import { proxyMcpStdio } from '../mcp/proxy-mcp-stdio.js';
import { serveMcpStdio } from '../mcp/serve-mcp-stdio.js';
import type { CliState } from './main.js';
import { cliToken, openQueryTarget } from './query-target.js';

export function registerMcpCommand(program: Command, state: CliState): void {
  program
    .command('mcp')
    .description('serve MCP tools (query, explain, list_tables, describe_table) on stdio under the run token in $HOOPQ_TOKEN')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .action(async (opts: { token?: string }, cmd: Command) => {
      const version = program.version();
      const target = await openQueryTarget(cmd, { longLived: true });
      let token: string | undefined;
      try {
        token = cliToken(opts.token);
        if (target.kind === 'remote' && remoteToken(token) === undefined) throw missingTokenError();
      } catch (err) {
        if (target.kind === 'local') await target.ctx.close();
        return serveRefusal(err, version, state);
      }
      if (target.kind === 'remote') {
        const end = await proxyMcpStdio(gatewayEndpoint(target.gateway, '/v1/mcp'), remoteToken(token));
        if (end.refused) return serveRefusal(end.refused.error, version, state, [end.refused.initialize]);
        return;
      }
      const ctx = target.ctx;
      try {
        let session;
        try {
          session = await openMcpSession(ctx.parts, token);
          await ctx.parts.audit(); // fail closed (exit 8) before serving if the audit log cannot be written
        } catch (err) {
          return await serveRefusal(err, version, state);
        }
        const mcp = createMcpServer(ctx.parts, session, { version });
        process.stderr.write(`hoopq: MCP server on stdio for run ${session.identity.run} under policy ${session.policy.name}\n`);
        await serveMcpStdio(mcp);
      } finally {
        await ctx.close();
      }
    });
}

/** Serves the refusal to every call; once the client has gone, the process exits with the refusal's code. */
async function serveRefusal(err: unknown, version: string | undefined, state: CliState, replay: JSONRPCMessage[] = []): Promise<void> {
  if (!isHoopqError(err)) throw err;
  const refusal: HoopqError = err;
  process.stderr.write(`${formatRefusal(refusal)}\nhoopq: serving MCP on stdio anyway: every tool call is answered with this refusal\n`);
  await serveMcpStdio(createRefusingMcpServer(refusal, { version }), process.stdin, process.stdout, { replay, answerBeforeStop: true });
  state.exitCode = refusal.exitCode;
}
