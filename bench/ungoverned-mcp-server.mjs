// Baseline for warm.bench.mjs: the smallest useful MCP server over stdio, ungoverned — one
// `query` tool that runs the SQL on a warm DuckDB connection (opened once, read-only) and
// returns the rows as JSON text. No token, policy, analysis, masking or audit: what an MCP
// database server costs on this machine before anything hoopq does.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';

const [path] = process.argv.slice(2);
const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
const connection = await instance.connect();
const server = new McpServer({ name: 'ungoverned-duckdb', version: '0.0.0' });
server.registerTool('query', { description: 'Run SQL', inputSchema: { sql: z.string() } }, async ({ sql }) => {
  const reader = await connection.runAndReadAll(sql);
  return { content: [{ type: 'text', text: JSON.stringify(reader.getRowObjectsJson()) }] };
});
await server.connect(new StdioServerTransport());
