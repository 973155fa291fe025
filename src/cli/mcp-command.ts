/**
 * `hoopq mcp`: a Model Context Protocol server on stdio under the run token in $HOOPQ_TOKEN
 * (or --token). The token is verified and the audit sink opened before anything is served:
 * a bad token exits 4 with the refusal on stderr, and stdout stays empty.
 */
import type { Command } from 'commander';
import { createMcpServer, openMcpSession } from '../mcp/create-mcp-server.js';
import { serveMcpStdio } from '../mcp/serve-mcp-stdio.js';
import { loadDirectContext } from './direct-context.js';
import type { CliState } from './main.js';

export function registerMcpCommand(program: Command, _state: CliState): void {
  program
    .command('mcp')
    .description('serve MCP tools (query, explain, list_tables, describe_table) on stdio under the run token in $HOOPQ_TOKEN')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .action(async (opts: { token?: string }, cmd: Command) => {
      const ctx = await loadDirectContext(cmd, 'mcp');
      try {
        const session = await openMcpSession(ctx.parts, opts.token ?? process.env.HOOPQ_TOKEN);
        await ctx.parts.audit(); // fail closed (exit 8) before serving if the audit log cannot be written
        const mcp = createMcpServer(ctx.parts, session, { version: program.version() });
        process.stderr.write(`hoopq: MCP server on stdio for run ${session.identity.run} under policy ${session.policy.name}\n`);
        await serveMcpStdio(mcp);
      } finally {
        await ctx.close();
      }
    });
}
