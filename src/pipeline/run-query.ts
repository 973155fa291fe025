/**
 * run-query: the ONE place the stages are called in order, for every entry point.
 *
 *   token -> policy -> warehouse.analyze -> evaluatePolicy -> masks/rewrite -> dry run
 *         -> approval (held: recorded, exit 11) -> budget check
 *         -> intent record (durable) and budget unit spent, at the same time
 *         -> execute (streamed) -> detectors -> output -> outcome record
 *
 * Invariants:
 * - every attempt is recorded, allowed or not: refusals in the catch, outcomes in `finally`;
 * - nothing runs in the warehouse before its intent record is durable (fsync'd) in the sink;
 *   if the sink cannot be written the query never runs (AuditWriteError, exit 8). While the
 *   intent is written the allowed statement may be prepared (DuckDB: parsed, bound and
 *   planned, as analysis already binds it; nothing executes), and is discarded if it fails;
 * - the budget unit is spent while the intent is written, tied to it; the query runs only
 *   when both are durable, and a unit whose intent failed is given back (by this process, or
 *   by the next one's recovery if this one died first or could not give it back);
 * - if the outcome cannot be written once the warehouse has the query, the caller hears
 *   exit 12 (OutcomeUnrecordedError: it ran, do not retry), never exit 8, and the outcome is
 *   kept for recovery (recover-outcomes.ts);
 * - rows stream from the warehouse through masking to the output; nothing holds the result;
 * - the run's revocation, the policy timeout and the caller's abort all interrupt execution.
 */
import { createHash } from 'node:crypto';
import { kindsOf, tablesOf, type NameDefaults } from '../analysis/query-analysis.js';
import type { AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import { AuditWriteError, AuthError, ConfigError, InternalError, OutcomeUnrecordedError, PolicyDeniedError, isHoopqError, type HoopqError } from '../errors.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { redactSql } from '../masking/redact-sql.js';
import { warehouseDialectOf } from '../warehouse/open-warehouse.js';
import { createCellScanner } from '../masking/scan-cells.js';
import { loadOrCreateSqlSealKey, sealerFor, sealSql } from '../audit/seal-sql.js';
import { createResultWriter, type OutputFormat } from '../output/create-result-writer.js';
import type { Policy } from '../policy/policy.js';
import type { QueryParameter, ResultColumn, Warehouse } from '../warehouse/warehouse.js';
import { parseQueryParameters } from '../warehouse/query-parameter-type.js';
import { assertUnmaskAllowed } from '../approval/evaluate-approval.js';
import { settleApproval } from '../approval/settle-approval.js';
import { fillRefusedCaller, newAuditBody } from './audit-body.js';
import { CheckProgress, checkQuery } from './check-query.js';
import { crossCheckDryRun } from './cross-check-dry-run.js';
import { hideRewriteExcerpt } from './hide-rewrite-excerpt.js';
import type { PipelineParts } from './pipeline-parts.js';
import { sanitizeError } from './sanitize-error.js';
import { analysisWrites, policyAllowsWrites, resolveRunPolicy } from './resolve-run-policy.js';

export interface QueryRequest {
  sql: string;
  token: string | undefined;
  /**
   * `token` as the entry point verified it for this same request (the gateway does, before it
   * reads further): not verified a second time. The run's revocation is still watched while
   * the query runs.
   */
  verified?: { token: string | undefined; identity: RunIdentity };
  justification: string | null;
  format: OutputFormat;
  /** The caller's own cap; the policy's max_rows still applies when lower. */
  maxRows?: number;
  dryRun?: boolean;
  params?: QueryParameter[];
  /** The caller's own byte cap (bq's --maximum_bytes_billed); the policy's still applies when lower. */
  maxBytesBilled?: number;
  /** The caller's job labels (bq's --label); hoopq's own labels win on a clash. */
  labels?: Record<string, string>;
  /** The caller's name defaults (bq's --project_id, --dataset_id); analysis and execution both use them. */
  names?: Partial<NameDefaults>;
  /** Where result bytes go (stdout, an HTTP response). */
  out: NodeJS.WritableStream;
  /** Human notices (row cut, masks applied); stderr in the CLI. */
  notice(message: string): void;
  /** Called as the query moves on (checked, running, rows written); drives progress lines and MCP progress. */
  progress?(p: QueryProgress): void;
  /** The caller went away. */
  signal?: AbortSignal;
  /** Extra audit fields from the entry point (e.g. `src_endpoint`, `via`). */
  origin?: Record<string, unknown>;
  /** Column globs (or `*`) whose masks the caller asks to lift; runs only once an operator approves. */
  unmask?: string[];
  /**
   * Waits for the run's turn to run a query (the gateway's fair share between runs); the
   * returned function gives the slot back. A refusal (`gateway.busy`) is recorded like any other.
   */
  slot?: (run: string, signal: AbortSignal) => Promise<() => void>;
  /** Receives the result as written: its columns, then each batch (masked, scanned, within the limit). */
  rows?: ResultRowSink;
}

export interface ResultRowSink {
  /** Every check passed and the intent is recorded: the warehouse is about to run the query. */
  executing(): void;
  columns(columns: readonly ResultColumn[]): void;
  batch(rows: readonly unknown[][]): void;
}

export interface QueryProgress {
  stage: 'running' | 'streaming';
  /** Rows written to the caller so far. */
  rows: number;
  /** BigQuery: the dry run's estimate of the bytes the query processes. */
  bytesProcessed?: number;
}

export interface QueryOutcome {
  recordId: string;
  rows: number;
  truncated: boolean;
  resultSha256: string | null;
  dryRun?: { bytesProcessed?: number; statementType?: string; referencedTables: string[] };
  /** The warehouse's own job id (BigQuery) and bytes processed, when it reports them. */
  jobId?: string;
  bytesProcessed?: number;
}

export async function runQuery(parts: PipelineParts, req: QueryRequest): Promise<QueryOutcome> {
  const started = Date.now();
  const body = newAuditBody(req.dryRun ? 'query.dry_run' : 'query', parts.now(), {
    justification: req.justification,
    format: req.format,
    ...req.origin,
  });
  const progress = new CheckProgress();
  let sink: AuditSink | undefined;
  let warehouse: Warehouse | undefined;
  let stopWatching: (() => void) | undefined;
  let recorded = false;
  let identified = false;
  // how far the query got: a spent unit stays pending until its outcome is durable; once the
  // warehouse was asked to run it, a lost outcome is exit 12, never "nothing ran"
  const reached = { unitSpent: false, executed: false };
  let literals: string[] = [];
  let recordedPolicy: Policy | undefined;
  let releaseSlot: (() => void) | undefined;
  try {
    sink = await parts.audit();
    // Until the policy is known the SQL is treated as if it could carry raw masked values.
    literals = recordSql(parts, body, req.sql, undefined, progress, req.params);
    const identity = req.verified && req.verified.token === req.token ? req.verified.identity : await parts.identity.verify(req.token);
    identified = true;
    fillIdentity(body, identity);
    parseQueryParameters(req.params); // a malformed --parameter is a usage error before any engine sees it
    const policy = resolveRunPolicy(parts, identity);
    body.policy = { name: policy.name, sha256: policy.sha256, token_sha256: identity.policySha256 };
    recordedPolicy = policy;
    literals = recordSql(parts, body, req.sql, policy, progress, req.params);
    if (req.slot) releaseSlot = await req.slot(identity.run, req.signal ?? new AbortController().signal);

    // Read-only first: many readers may run at once, and a refused query never waits for the
    // single writer's lock (DuckDB lets one process at a time open the file for writing).
    warehouse = await parts.openWarehouse({ writable: false, policy, identity });
    body.warehouse.kind = warehouse.kind;
    const names = {
      defaultProject: req.names?.defaultProject ?? parts.config.warehouse.defaultProject ?? warehouse.project,
      defaultDataset: req.names?.defaultDataset ?? parts.config.warehouse.defaultDataset,
    };
    // the execution's session gets ready while the query is checked (nothing of it is sent)
    if (!req.dryRun) warehouse.getReady?.(names);
    const maxBytesBilled = minDefined(policy.limits.maxBytesBilled, req.maxBytesBilled);
    const options = { unmask: req.unmask };
    let checked = await checkQuery(warehouse, req.sql, policy, req.justification, names, progress, options);
    fillAnalysis(body, progress);
    // which key produced the hashes (its id, never the key): a reader can tell hashes of two keys apart
    if (Object.values(checked.masks).includes('hash') && warehouse.hashKeyId) body.masked.hash_key = warehouse.hashKeyId;
    literals = recordSql(parts, body, req.sql, policy, progress, req.params);
    if (!req.dryRun && analysisWrites(checked.analysis) && policyAllowsWrites(policy)) {
      // Only a query that writes takes the writer's lock; it is checked again on the writable
      // connection, since the catalog may have changed while we waited for the lock.
      await warehouse.close();
      warehouse = await parts.openWarehouse({ writable: true, policy, identity });
      checked = await checkQuery(warehouse, req.sql, policy, req.justification, names, progress, options);
      fillAnalysis(body, progress);
    }

    // The warehouse's own dry run must agree with the analysis before anything runs.
    const estimate = warehouse.dryRun
      ? await warehouse.dryRun(checked.statementsToRun, {
          signal: req.signal ?? new AbortController().signal,
          maxBytesBilled,
          names,
          labels: { ...req.labels, hoopq_run: body.run ?? '', hoopq_record: body.id },
          params: req.params,
        })
      : undefined;
    if (estimate) await crossCheckDryRun(estimate, checked, policy, warehouse);

    if (req.dryRun) {
      // what the real query would be told about --unmask, the dry run is told too
      assertUnmaskAllowed(policy, checked.lifted);
      const reported = estimate ?? { referencedTables: tablesOf(checked.analysis).read };
      body.warehouse.bytes_processed = reported.bytesProcessed ?? null;
      body.rows = 0;
      await appendRecord(sink, finish(body, started));
      recorded = true;
      return { recordId: body.id, rows: 0, truncated: false, resultSha256: null, dryRun: reported };
    }

    // A query an approval rule matches waits for a person; its attempt is recorded there. A
    // spent budget is refused before any intent: by the approval step just before it uses a
    // grant (a refused query leaves the grant unused), else here. The unit itself is spent
    // only after the intent is durable (below).
    let budgetChecked = false;
    const checkBudgetLeft = async () => {
      if (budgetChecked) return;
      budgetChecked = true;
      await spendBudget(parts, identity, policy, undefined);
    };
    const approval = await settleApproval(parts, { sink, body, identity, policy, checked, sql: req.sql, params: req.params, unmask: req.unmask, bytesEstimate: estimate?.bytesProcessed ?? null, startedMs: started, checkBudgetLeft });
    if (approval.pending) {
      recorded = true;
      throw approval.pending;
    }
    await checkBudgetLeft();

    // Intent before execution: durable before the warehouse sees the query, and naming the
    // job it will be (engines with jobs), so no record about the job lacks its id.
    const jobId = warehouse.newJobId?.();
    if (jobId !== undefined) body.warehouse.job_id = jobId;
    const intent = { ...body, warehouse: { ...body.warehouse }, id: body.id, event: 'query.intent' } as AuditRecordBody;
    body.id = newAuditBody('query', parts.now()).id;
    // The budget unit, tied to the intent, is spent while the intent is written (two durable
    // commits at once, not one after the other), and the allowed statement is prepared
    // meanwhile (parsed, bound, planned). Nothing runs until both commits are durable; a unit
    // whose intent failed is given back: the query did not run.
    if (checked.statementsToRun.length > 0) warehouse.prepareAhead?.(checked.statementsToRun[0]!);
    const [written, spent] = await Promise.allSettled([appendRecord(sink, intent), spendBudget(parts, identity, policy, intent.id)]);
    if (written.status === 'rejected') {
      // a unit that cannot be given back now is given back by recovery (its intent is not in the log)
      if (spent.status === 'fulfilled') await parts.identity.refundQuery(intent.id).catch(() => undefined);
      throw written.reason;
    }
    body.intent = intent.id; // only a durable intent gets an outcome
    if (spent.status === 'rejected') throw spent.reason;
    reached.unitSpent = true;

    const controller = new AbortController();
    let revoked: { problem?: HoopqError } | undefined;
    stopWatching = parts.identity.watchRevocation(identity, (why) => {
      revoked = why;
      controller.abort();
    });
    const onCallerAbort = () => controller.abort();
    req.signal?.addEventListener('abort', onCallerAbort, { once: true });
    req.progress?.({ stage: 'running', rows: 0, bytesProcessed: estimate?.bytesProcessed });
    try {
      reached.executed = true;
      const outcome = await streamResult(warehouse, names, checked.statementsToRun, policy, req, controller, body, maxBytesBilled, jobId);
      return { recordId: body.id, ...outcome };
    } catch (err) {
      if (revoked?.problem) {
        // revocations can no longer be checked (the state store was lost): fail closed
        const { problem } = revoked;
        throw new ConfigError(problem.code, `${problem.message}; the running query was cancelled`, { rule: problem.rule, hint: problem.hint, cause: err });
      }
      if (revoked) {
        throw new AuthError('token.revoked', `refused: run ${identity.run} was revoked while its query was running; the query was cancelled`, {
          rule: 'token.revoked',
          hint: 'ask the operator for a new run token',
          cause: err,
        });
      }
      throw err;
    } finally {
      req.signal?.removeEventListener('abort', onCallerAbort);
    }
  } catch (err) {
    const willRecord = !(err instanceof AuditWriteError) && sink !== undefined && !recorded;
    if (willRecord) {
      fillAnalysis(body, progress);
      literals = recordSql(parts, body, req.sql, recordedPolicy, progress, req.params);
    }
    // Errors are results too: the engine's text and the SQL's literals never leave as they are.
    // the caller never wrote the mask rewrite: an engine's quote of it is left out (and the hint says where to see it)
    const shown = isHoopqError(err) && Object.keys(progress.masks).length > 0 ? hideRewriteExcerpt(err) : err;
    const { error, sealed } = sanitizeError(shown, { sql: req.sql, literals, seal: sealerFor(parts.config.keysDir) });
    if (willRecord && sink) {
      // a refused token: the run it was for when it could be read; the SQL by size and digest only
      if (!identified) recordUnauthenticated(body, req.sql, error);
      body.decision = error.exitCode >= 4 && error.exitCode <= 6 ? 'deny' : 'error';
      body.reason = error.message;
      if (sealed) body.reason_sealed = sealed;
      body.code = error.code;
      body.rule = error.rule ?? null;
      body.exit_code = error.exitCode;
      recorded = true;
      await recordOutcome(parts, sink, finish(body, started), reached, error);
    }
    throw error;
  } finally {
    stopWatching?.();
    try {
      // the success path: the outcome record completes the intent
      if (!recorded && sink && body.intent) await recordOutcome(parts, sink, finish(body, started), reached);
    } finally {
      try {
        await warehouse?.close();
      } finally {
        releaseSlot?.(); // the run's turn in the gateway's fair share
      }
    }
  }
}

/**
 * Appends a query's record. For an outcome whose intent is in the log: once the warehouse
 * was asked to run the query, a failed append is OutcomeUnrecordedError (exit 12: it ran,
 * do not retry), not exit 8; a spent unit keeps the outcome for recovery, or is settled once
 * the outcome is durable.
 */
async function recordOutcome(parts: PipelineParts, sink: AuditSink, body: AuditRecordBody, reached: { unitSpent: boolean; executed: boolean }, recording?: HoopqError): Promise<void> {
  const intent = typeof body.intent === 'string' ? body.intent : undefined;
  try {
    await appendRecord(sink, body);
  } catch (err) {
    if (!(err instanceof AuditWriteError)) throw err;
    if (intent && reached.unitSpent) await parts.identity.keepOutcome(intent, body).catch(() => undefined);
    const also = recording ? ` (while recording: ${recording.message})` : '';
    if (!intent || !reached.executed) throw new AuditWriteError(err.code, `${err.message}${also}`, { hint: err.hint, cause: recording ?? err });
    throw new OutcomeUnrecordedError('audit.outcome_unrecorded', `the query ran, but its outcome could not be recorded: ${err.message}${also}; do not run it again: its intent record ${intent} is in the audit log`, {
      rule: 'audit.durable',
      hint: 'the outcome is written to the audit log as soon as a hoopq process can write it again; fix the audit log\'s disk or location (see the message)',
      cause: err,
    });
  }
  if (intent && reached.unitSpent) await parts.identity.settleQuery(intent).catch(() => undefined);
}

async function streamResult(
  warehouse: Warehouse,
  names: NameDefaults,
  statements: readonly string[],
  policy: Policy,
  req: QueryRequest,
  controller: AbortController,
  body: AuditRecordBody,
  maxBytesBilled: number | undefined,
  jobId: string | undefined,
): Promise<Omit<QueryOutcome, 'recordId'>> {
  const limit = minDefined(policy.limits.maxRows, req.maxRows);
  req.rows?.executing();
  const execution = await warehouse.execute(statements, {
    signal: controller.signal,
    timeoutMs: policy.limits.timeoutMs,
    maxBytesBilled,
    labels: { ...req.labels, hoopq_run: body.run ?? '', hoopq_record: body.id },
    params: req.params,
    names,
    jobId,
  });
  const scanner = policy.detect.length > 0 ? createCellScanner(policy.detect) : undefined;
  const writer = createResultWriter(req.format, req.out, execution.columns, { maxRows: limit });
  req.rows?.columns(execution.columns);
  let offered = 0;
  let delivered = 0;
  try {
    for await (const batch of execution.batches) {
      // offer the writer at most one row past the limit: enough for it to know the result was cut
      const room = limit === undefined ? batch.length : Math.max(0, limit + 1 - offered);
      const slice = room < batch.length ? batch.slice(0, room) : batch;
      offered += slice.length;
      const scanned = scanner ? slice.map((r) => scanner.scanRow(r)) : slice;
      await writer.writeBatch(scanned);
      if (req.rows) {
        const kept = limit === undefined ? scanned : scanned.slice(0, Math.max(0, limit - delivered));
        delivered += kept.length;
        req.rows.batch(kept);
      }
      req.progress?.({ stage: 'streaming', rows: Math.min(offered, limit ?? offered) });
      if (writer.isTruncated()) {
        controller.abort(); // stop the warehouse producing rows nobody will receive
        break;
      }
    }
  } catch (err) {
    await writer.end().catch(() => undefined); // detach the writer from the output before failing
    // what did reach the output before the failure (a reader that went away, a timeout)
    const partial = writer.progress();
    body.rows = partial.rows;
    body.result_sha256 = partial.sha256;
    throw err;
  }
  const written = await writer.end();
  const stats = execution.stats();
  const truncated = written.truncated;
  // The caller who asked for N rows and got N is not told the result was cut; only a cut the
  // caller did not ask for (the policy's max_rows, the pretty cap) is worth a notice.
  const askedFor = req.maxRows !== undefined && written.limit === req.maxRows;
  if (truncated && !askedFor) {
    const why = written.limit === limit ? `limit max_rows of policy ${policy.name}` : `the ${req.format} format shows at most ${written.limit} rows; use --format json, csv or ndjson for more`;
    req.notice(`hoopq: result cut at ${written.rows} row${written.rows === 1 ? '' : 's'} (${why})`);
  }
  body.rows = written.rows;
  body.result_sha256 = written.sha256;
  body.truncated = truncated;
  body.warehouse.job_id = stats.jobId ?? body.warehouse.job_id ?? null;
  body.warehouse.bytes_processed = stats.bytesProcessed ?? null;
  if (scanner) body.masked.detected = scanner.counts();
  return { rows: written.rows, truncated, resultSha256: written.sha256, jobId: stats.jobId ?? jobId, bytesProcessed: stats.bytesProcessed };
}

/** With `intent`, spends the run's unit for it; without, only checks that one is left. */
async function spendBudget(parts: PipelineParts, identity: RunIdentity, policy: Policy, intent: string | undefined): Promise<void> {
  // every query is counted (and its unit tied to its intent), limited or not
  const limit = minDefined(policy.limits.maxQueries, identity.maxQueries) ?? Infinity;
  const budget = intent === undefined ? await parts.identity.checkBudget(identity, limit) : await parts.identity.consumeBudget(identity, limit, intent);
  if (!budget.ok) {
    throw new PolicyDeniedError('policy.budget_spent', `refused: run ${identity.run} has used its budget of ${budget.limit} queries (rule limits.max_queries of policy ${policy.name})`, {
      rule: 'limits.max_queries',
      hint: 'this run may not start more queries; a new run needs a new token',
    });
  }
}

async function appendRecord(sink: AuditSink, body: AuditRecordBody): Promise<void> {
  try {
    await sink.append(body);
  } catch (err) {
    if (err instanceof AuditWriteError) throw err;
    throw new AuditWriteError('audit.write_failed', `audit record could not be written: ${(err as Error).message}`, { hint: 'check the audit log location and the disk', cause: err });
  }
}

/**
 * Under a policy with column masks (or before the policy is known), the log's `sql` has its
 * literals redacted — following the engine-checked reading of the text when the analysis got
 * that far (redact-sql.ts) — and the exact text is sealed for replay; otherwise `sql` is
 * exact. Returns the literals, to scrub them from messages.
 */
function recordSql(parts: PipelineParts, body: AuditRecordBody, sql: string, policy: Policy | undefined, progress: CheckProgress, params?: QueryParameter[]): string[] {
  const mayCarryMaskedValues = !policy || Object.keys(policy.columns).length > 0;
  // parameter values are literals sent apart from the SQL: recorded (for replay) the same way
  if (params && params.length > 0) recordParams(parts, body, params, mayCarryMaskedValues);
  if (!mayCarryMaskedValues) {
    body.sql = sql;
    delete body.sql_sealed;
    return [];
  }
  const redacted = redactSql(sql, warehouseDialectOf(parts.config.warehouse.kind).sql, { verified: progress.literals });
  body.sql = redacted.text;
  if (redacted.text !== sql) body.sql_sealed = sealSql(sql, parts.sqlSealKey?.() ?? loadOrCreateSqlSealKey(parts.config.keysDir));
  else delete body.sql_sealed;
  const values = (params ?? []).flatMap((p) => (p.value !== null && p.value.length >= 3 ? [p.value] : []));
  return [...redacted.literals, ...values].sort((a, b) => b.length - a.length);
}

/** `params` as sent; under masks each value is `[REDACTED]` and the exact list is sealed (`params_sealed`). */
function recordParams(parts: PipelineParts, body: AuditRecordBody, params: QueryParameter[], sealed: boolean): void {
  if (!sealed) {
    body.params = params.map((p) => ({ name: p.name, type: p.type, value: p.value }));
    delete body.params_sealed;
    return;
  }
  body.params = params.map((p) => ({ name: p.name, type: p.type, value: p.value === null ? null : '[REDACTED]' }));
  body.params_sealed = sealSql(JSON.stringify(params.map((p) => ({ name: p.name, type: p.type, value: p.value }))), parts.sqlSealKey?.() ?? loadOrCreateSqlSealKey(parts.config.keysDir));
}

/**
 * Nobody authenticated sent this: the record keeps the SQL's size and SHA-256, not the SQL
 * (anyone could otherwise grow the log by megabytes a request), and the run and token the
 * refused token was for when its signature held (expired, revoked).
 */
function recordUnauthenticated(body: AuditRecordBody, sql: string, error: { details?: Record<string, unknown> }): void {
  const bytes = Buffer.byteLength(sql, 'utf8');
  const sha256 = createHash('sha256').update(sql, 'utf8').digest('hex');
  body.sql = `[not recorded: the caller was not authenticated (${bytes} bytes, sha256 ${sha256})]`;
  delete body.sql_sealed;
  if (body.params) body.params = (body.params as unknown[]).length;
  delete body.params_sealed;
  body.sql_bytes = bytes;
  body.sql_sha256 = sha256;
  fillRefusedCaller(body, error);
}

function fillIdentity(body: AuditRecordBody, identity: RunIdentity): void {
  body.run = identity.run;
  body.subject = identity.subject;
  body.token_id = identity.tokenId;
}

function fillAnalysis(body: AuditRecordBody, progress: CheckProgress): void {
  if (!progress.analysis) return;
  body.statements = kindsOf(progress.analysis);
  body.tables = tablesOf(progress.analysis);
  body.masked.columns = progress.masks;
}

function finish(body: AuditRecordBody, started: number): AuditRecordBody {
  body.duration_ms = Date.now() - started;
  return body;
}

function minDefined(...values: Array<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}

