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
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
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
    { instructions: `Governed SQL access through hoopq for run ${session.identity.run}.\n${summary.join('\n')}` },
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
      inputSchema: {
        sql: z.string().min(1).max(1_000_000).describe('The SQL to run: one statement (or a script, if the policy allows its statement kinds).'),
        justification: z
          .string()
          .max(2000)
          .optional()
          .describe(policy.requireJustification ? 'Required by this policy: one sentence on why you need this data. Recorded in the audit log.' : 'Optional: why you need this data. Recorded in the audit log.'),
      },
      annotations: { readOnlyHint: readOnly, destructiveHint: !readOnly, openWorldHint: false },
    },
    (args, extra) =>
      serialised(extra, async (signal) => {
        const buffer = new CappedResultBuffer(MCP_MAX_RESULT_BYTES);
        const records: AuditRecordBody[] = [];
        const notices: string[] = [];
        const outcome = await runQuery(observeAudit(parts, records), {
          sql: args.sql,
          token: session.token,
          justification: args.justification ?? null,
          format: 'json',
          maxRows: MCP_MAX_ROWS,
          out: buffer,
          notice: (m) => notices.push(m),
          signal,
          origin: { ...origin, tool: 'query' },
          slot: options.slot,
        });
        const record = records.find((r) => r.id === outcome.recordId);
        return queryResult({ buffer, outcome, record, policy, notices });
      }),
  );

  server.registerTool(
    'explain',
    {
      title: 'Check SQL without running it',
      description:
        `Say what query would decide for this SQL under policy "${policy.name}", without running it: statement kinds, tables read and written (views expanded), the masks that would apply, the decision (allow or deny), the rule behind it and a hint. ` +
        'Runs nothing, writes no audit record and spends no query budget. Returns a JSON object.',
      inputSchema: {
        sql: z.string().min(1).max(1_000_000).describe('The SQL to check.'),
        justification: z.string().max(2000).optional().describe('The justification you would give to query (a missing one is reported when the policy requires it).'),
      },
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
      inputSchema: {
        dataset: z.string().max(300).optional().describe('Only this dataset: dataset, project.dataset or project:dataset.'),
      },
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
      inputSchema: {
        table: z.string().min(1).max(300).describe('The table: project.dataset.table, dataset.table, table, or project:dataset.table.'),
      },
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
