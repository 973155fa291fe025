/**
 * Serves an MCP server on this process's stdin/stdout until the client goes away (stdin
 * ends) or the process is asked to stop (SIGINT/SIGTERM), then shuts it down: running calls
 * are cancelled and their audit records written before this resolves. stdout belongs to
 * the protocol alone; people's messages go to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { HoopqMcpServer } from './create-mcp-server.js';

export interface ServeOptions {
  /** Messages already read from stdin by someone else (the gateway relay's refused `initialize`), handled first. */
  replay?: JSONRPCMessage[];
  /**
   * When stdin ends, answer the requests already read before stopping (the refusing server,
   * whose answers are immediate) instead of cancelling them.
   */
  answerBeforeStop?: boolean;
}

export async function serveMcpStdio(
  mcp: HoopqMcpServer,
  stdin: NodeJS.ReadableStream = process.stdin,
  stdout: NodeJS.WritableStream = process.stdout,
  options: ServeOptions = {},
): Promise<void> {
  const transport = new StdioServerTransport(stdin as typeof process.stdin, stdout as typeof process.stdout);
  const unanswered = new Set<string | number>();
  let inputEnded = false;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = () => resolve()));
  const onInputEnd = () => {
    inputEnded = true;
    if (!options.answerBeforeStop || unanswered.size === 0) stop();
  };
  stdin.once('end', onInputEnd);
  stdin.once('close', onInputEnd);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await mcp.server.connect(transport);
  transport.onclose = onInputEnd;
  // count the requests read and not yet answered
  const receive = transport.onmessage!;
  transport.onmessage = (message: JSONRPCMessage) => {
    if (isJSONRPCRequest(message)) unanswered.add(message.id);
    receive(message);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message: JSONRPCMessage) => {
    await send(message);
    const id = (message as { id?: string | number }).id;
    if (id !== undefined && !('method' in message) && unanswered.delete(id) && inputEnded && unanswered.size === 0) stop();
  };
  for (const message of options.replay ?? []) transport.onmessage(message);
  stdin.resume(); // a relay that read before us may have paused it
  if ((stdin as { readableEnded?: boolean }).readableEnded) onInputEnd();
  await stopped;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await mcp.shutdown();
}
