/**
 * Serves an MCP server on this process's stdin/stdout until the client goes away (stdin
 * ends) or the process is asked to stop (SIGINT/SIGTERM), then shuts it down: running calls
 * are cancelled and their audit records written before this resolves. stdout belongs to
 * the protocol alone; people's messages go to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { HoopqMcpServer } from './create-mcp-server.js';

/** `replay`: messages already read from stdin by someone else (the gateway relay's refused `initialize`), handled first. */
export async function serveMcpStdio(
  mcp: HoopqMcpServer,
  stdin: NodeJS.ReadableStream = process.stdin,
  stdout: NodeJS.WritableStream = process.stdout,
  replay: JSONRPCMessage[] = [],
): Promise<void> {
  const transport = new StdioServerTransport(stdin as typeof process.stdin, stdout as typeof process.stdout);
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    stdin.once('end', stop);
    stdin.once('close', stop);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    transport.onclose = stop;
  });
  await mcp.server.connect(transport);
  for (const message of replay) transport.onmessage?.(message);
  stdin.resume(); // a relay that read before us may have paused it
  if ((stdin as { readableEnded?: boolean }).readableEnded) setImmediate(() => transport.onclose?.());
  await stopped;
  await mcp.shutdown();
}
