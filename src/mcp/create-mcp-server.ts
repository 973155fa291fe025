/**
 * The MCP mode's tools over the same pipeline as the CLI: `query` (runQuery), `explain`
 * (explainQuery), `list_tables` (listTables), `describe_table` (describeTable). Transport-free:
 * `hoopq mcp` connects it to stdio; the gateway can connect the same server to streamable
 * HTTP per session. Input: pipeline parts and a verified session (run token, identity,
 * policy). Output: an McpServer whose tool descriptions say what the policy allows.
 * Invariants: every call re-checks the run token (revocation and expiry hold mid-session)
 * and goes through the same checks and audit as the CLI; a refusal is an `isError` result
 * carrying the CLI's message; calls run one at a time, so a session never contends with
 * itself for the warehouse; shutdown cancels what is running and waits for its audit record.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { formatRefusal, type HoopqError } from '../errors.js';
import type { AuditRecordBody } from '../audit/audit-record.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { describeTable } from '../pipeline/describe-table.js';
import { explainQuery } from '../pipeline/explain-query.js';
import { listTables } from '../pipeline/list-tables.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';
import { resolveRunPolicy, policyAllowsWrites } from '../pipeline/resolve-run-policy.js';
import { runQuery, type QueryRequest } from '../pipeline/run-query.js';
import type { Policy } from '../policy/policy.js';
import { CappedResultBuffer } from './capped-result-buffer.js';
import { MCP_MAX_RESULT_BYTES, MCP_MAX_ROWS, describePolicyForModel } from './describe-policy-for-model.js';
import { jsonResult, queryResult, refusalResult } from './tool-results.js';

export interface McpSession {
  /** The run token every call presents to the pipeline. Never logged or echoed. */
  token: string | undefined;
  identity: RunIdentity;
  policy: Policy;
}

/** Verifies the token and finds its policy before anything is served. Throws AuthError (exit 4). */
export async function openMcpSession(parts: PipelineParts, token: string | undefined): Promise<McpSession> {
  const identity = await parts.identity.verify(token);
  return { token, identity, policy: resolveRunPolicy(parts, identity) };
}

/** The tools' input schemas, shared by the serving and the refusing server. */
const SQL_INPUT = z.string().min(1).max(1_000_000);
function queryInput(policy: Policy | undefined) {
  const sql = SQL_INPUT.describe('The SQL to run: one statement (or a script, if the policy allows its statement kinds).');
  if (!policy?.requireJustification) {
    return { sql, justification: z.string().max(2000).optional().describe('Optional: why you need this data. Recorded in the audit log.') };
  }
  // required in the schema when the policy requires it, so a client knows before it calls
  const missing = `refused: a justification is required by policy ${policy.name} (rule require_justification): give one sentence on why you need this data`;
  return {
    sql,
    justification: z
      .string({ error: missing })
      .min(1, missing)
      .max(2000)
      .describe('Required by this policy: one sentence on why you need this data. Recorded in the audit log.') as unknown as z.ZodOptional<z.ZodString>, // one type for both branches; required at run time
  };
}
const EXPLAIN_INPUT = {
  sql: SQL_INPUT.describe('The SQL to check.'),
  justification: z.string().max(2000).optional().describe('The justification you would give to query (a missing one is reported when the policy requires it).'),
};
const LIST_TABLES_INPUT = { dataset: z.string().max(300).optional().describe('Only this dataset: dataset, project.dataset or project:dataset.') };
const DESCRIBE_TABLE_INPUT = { table: z.string().min(1).max(300).describe('The table: project.dataset.table, dataset.table, table, or project:dataset.table.') };

export interface McpServerOptions {
  version?: string;
  /** Extra audit fields for every record of this session (e.g. `{ via: 'mcp' }`). */
  origin?: Record<string, unknown>;
  /** The gateway's fair share of query slots between runs (runQuery's `slot`); none on stdio. */
  slot?: QueryRequest['slot'];
}

export interface HoopqMcpServer {
  server: McpServer;
  /** Cancels running calls, waits for their audit records, closes the server. */
  shutdown(): Promise<void>;
  /**
   * Whether the tool call with this JSON-RPC id has not returned yet. Once its request is
   * cancelled, such a call gets no answer: the SDK answers no call cancelled before it returned.
   */
  isCallRunning(requestId: string | number): boolean;
}

export function createMcpServer(parts: PipelineParts, session: McpSession, options: McpServerOptions = {}): HoopqMcpServer {
  const { policy } = session;
  const summary = describePolicyForModel(policy, parts.config);
  const server = new McpServer(
    { name: 'hoopq', version: options.version ?? '0.0.0' },
    // logging: notices (rows cut, masks) also reach the client as log messages while a call runs
    { instructions: `Governed SQL access through hoopq for run ${session.identity.run}.\n${summary.join('\n')}`, capabilities: { logging: {} } },
  );
  const origin = { via: 'mcp', ...options.origin };
  const stopping = new AbortController();
  let queue: Promise<unknown> = Promise.resolve();

  // the request ids of calls whose handler has not returned yet (queued or running)
  const running = new Set<string | number>();

  /** One call at a time, cancelled by the client or by shutdown; every failure becomes a refusal result. */
  function serialised(extra: { signal: AbortSignal; requestId: string | number }, call: (signal: AbortSignal) => Promise<CallToolResult>): Promise<CallToolResult> {
    const run = queue.then(async () => {
      const both = AbortSignal.any([extra.signal, stopping.signal]);
      try {
        return await call(both);
      } catch (err) {
        return refusalResult(err);
      }
    });
    queue = run.catch(() => undefined);
    running.add(extra.requestId);
    return run.finally(() => running.delete(extra.requestId));
  }

  const readOnly = !policyAllowsWrites(policy);
  server.registerTool(
    'query',
    {
      title: 'Run SQL under the policy',
      description: [
        `Run SQL against the warehouse and get the rows back as a JSON array of row objects, followed by a note of what was masked or cut. ${readOnly ? 'Read-only: this policy allows no writes.' : ''}`,
        ...summary,
        'Use list_tables and describe_table to find tables and columns, and explain to check a query without running it.',
      ].join('\n'),
      inputSchema: queryInput(policy),
      annotations: { readOnlyHint: readOnly, destructiveHint: !readOnly, openWorldHint: false },
    },
    (args, extra) =>
      serialised(extra, async (signal) => {
        const buffer = new CappedResultBuffer(MCP_MAX_RESULT_BYTES);
        const records: AuditRecordBody[] = [];
        const notices: string[] = [];
        const tell = clientChannel(server, extra);
        const outcome = await runQuery(observeAudit(parts, records), {
          sql: args.sql,
          token: session.token,
          justification: args.justification ?? null,
          format: 'json',
          maxRows: MCP_MAX_ROWS,
          out: buffer,
          notice: (m) => {
            notices.push(m);
            tell.log('info', m.replace(/^hoopq: /, ''));
          },
          progress: (p) => {
            if (p.stage === 'running') tell.log('info', `query checked and running under policy ${policy.name}`);
            tell.progress(p.rows, p.stage === 'running' ? 'running' : `${p.rows} row${p.rows === 1 ? '' : 's'}`);
          },
          signal,
          origin: { ...origin, tool: 'query' },
          slot: options.slot,
        });
        const record = records.find((r) => r.id === outcome.recordId);
        return queryResult({ buffer, outcome, record, policy, notices, sql: args.sql });
      }),
  );

  server.registerTool(
    'explain',
    {
      title: 'Check SQL without running it',
      description:
        `Say what query would decide for this SQL under policy "${policy.name}", without running it: statement kinds, tables read and written (views expanded), the masks that would apply, the decision (allow or deny), the rule behind it and a hint. ` +
        'Runs nothing, writes no audit record and spends no query budget. Returns a JSON object.',
      inputSchema: EXPLAIN_INPUT,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      serialised(extra, async () =>
        jsonResult(await explainQuery(parts, { sql: args.sql, token: session.token, justification: args.justification ?? null, offline: false })),
      ),
  );

  server.registerTool(
    'list_tables',
    {
      title: 'List the tables you may read',
      description:
        `List the tables and views policy "${policy.name}" lets you read, each with the columns a query of it gets masked (denied tables are not listed). ` +
        'Optionally only one dataset. Returns JSON: {"policy", "dataset", "tables": [{"table", "kind", "masked": {column: method}}]}.',
      inputSchema: LIST_TABLES_INPUT,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      serialised(extra, async () => {
        const listing = await listTables(parts, { token: session.token, dataset: args.dataset, origin: { ...origin, tool: 'list_tables' } });
        return jsonResult({
          policy: listing.policy,
          dataset: listing.dataset,
          tables: listing.tables.map((t) => ({ table: t.name, kind: t.kind, masked: t.masked })),
        });
      }),
  );

  server.registerTool(
    'describe_table',
    {
      title: 'Describe a table you may read',
      description:
        `The columns and types of one table or view policy "${policy.name}" lets you read, with the mask each masked column gets (hash, redact, null or partial; null means returned as stored). ` +
        'Returns JSON: {"table", "kind", "columns": [{"name", "type", "mask"}], "masked_at_source" (for views), "detect"}.',
      inputSchema: DESCRIBE_TABLE_INPUT,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      serialised(extra, async () => {
        const d = await describeTable(parts, { token: session.token, table: args.table, origin: { ...origin, tool: 'describe_table' } });
        return jsonResult({ policy: d.policy, table: d.table, kind: d.kind, columns: d.columns, masked_at_source: d.maskedSources, detect: d.detect });
      }),
  );

  return {
    server,
    isCallRunning: (requestId) => running.has(requestId),
    async shutdown() {
      stopping.abort();
      await queue;
      await server.close();
    },
  };
}

/**
 * The server `hoopq mcp` serves when its run token is refused (missing, expired, revoked …):
 * the same four tools, each answering every call with that refusal as an `isError` result,
 * so an MCP client shows the agent why instead of "connection closed".
 */
export function createRefusingMcpServer(refusal: HoopqError, options: McpServerOptions = {}): HoopqMcpServer {
  const line = formatRefusal(refusal);
  const server = new McpServer(
    { name: 'hoopq', version: options.version ?? '0.0.0' },
    { instructions: `hoopq refuses every call of this session: ${line}` },
  );
  const tools: Array<[string, string, Record<string, z.ZodType>]> = [
    ['query', 'Run SQL under the policy', queryInput(undefined)],
    ['explain', 'Check SQL without running it', EXPLAIN_INPUT],
    ['list_tables', 'List the tables you may read', LIST_TABLES_INPUT],
    ['describe_table', 'Describe a table you may read', DESCRIBE_TABLE_INPUT],
  ];
  for (const [name, title, inputSchema] of tools) {
    server.registerTool(name, { title, description: `Refused for this session: ${line}`, inputSchema }, async () => refusalResult(refusal));
  }
  return { server, isCallRunning: () => false, shutdown: () => server.close() };
}

/** How often at most a running call tells the client its progress. */
const PROGRESS_INTERVAL_MS = 250;

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * What a running tool call may tell its client, on the call's own stream: progress
 * notifications when the client sent a progress token (throttled; `progress` only ever
 * increases, as the protocol requires; none after the work, since the result says it all and
 * a client drops progress it reads after the result), and log messages at or above the
 * level the client set.
 */
function clientChannel(server: McpServer, extra: ToolExtra) {
  const token = extra._meta?.progressToken;
  let last = -1;
  let lastAt = 0;
  const send = (progress: number, message: string) => {
    if (token === undefined || progress <= last) return;
    last = progress;
    lastAt = Date.now();
    void extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message } }).catch(() => undefined);
  };
  return {
    progress(rows: number, message: string) {
      if (last >= 0 && Date.now() - lastAt < PROGRESS_INTERVAL_MS) return;
      send(rows, message);
    },
    log(level: 'info' | 'warning', data: string) {
      const ignored = (server.server as unknown as { isMessageIgnored?: (l: string, s?: string) => boolean }).isMessageIgnored?.(level, extra.sessionId);
      if (ignored) return;
      void extra.sendNotification({ method: 'notifications/message', params: { level, logger: 'hoopq', data } }).catch(() => undefined);
    },
  };
}

/**
 * The same parts with an audit sink that also hands each appended record to the caller:
 * the query tool reports masks and detector counts exactly as the audit log records them.
 * The wrapper does not own the sink, so closing it closes nothing.
 */
function observeAudit(parts: PipelineParts, records: AuditRecordBody[]): PipelineParts {
  return {
    ...parts,
    audit: async () => {
      const sink = await parts.audit();
      return {
        append: async (body) => {
          const written = await sink.append(body);
          records.push(body);
          return written;
        },
        close: async () => undefined,
      };
    },
  };
}
