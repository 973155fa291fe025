/**
 * Fake BigQuery REST v2 (`/bigquery/v2/projects/{p}/…`) with Google's documented shapes:
 * jobs.insert (query jobs and dry runs), jobs.get, jobs.cancel, jobs.getQueryResults
 * (long-poll, pageToken/maxResults paging), tables.get, tables.list, datasets.list (paged),
 * and Google's error envelope with BigQuery reasons (accessDenied, invalidQuery, notFound,
 * invalid, duplicate, bytesBilledLimitExceeded, stopped, timeout).
 *
 * Queries really run (fake-bigquery-engine.ts), so masked rows are computed from the SQL that
 * hoopq sent. IAM is modelled with the roles the docs name: roles/bigquery.jobUser on the
 * project, roles/bigquery.dataViewer on a dataset. `script()` lets a test change how a query
 * behaves (run time, reported tables, bytes, a forced error).
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeBigQueryEngine, type EngineParameter, type EngineResult, type FakeField } from './fake-bigquery-engine.js';
import { googleError, type FakeResponse, type FakeTokens, type IssuedToken, type RecordedRequest } from './fake-google-types.js';

export interface ScriptedBehaviour {
  /** How long the job runs before it completes (default 0). */
  runMs?: number;
  /** Overrides the referenced tables the dry run and the job report (`p.d.t`). */
  referencedTables?: string[];
  /** Overrides the bytes processed. */
  bytes?: number;
  /** The job fails with this error (after runMs). */
  error?: { reason: string; message: string };
  /** The dry run itself fails with this HTTP error. */
  dryRunError?: { code: number; reason: string; message: string };
  /** The job is created, but the answer to jobs.insert is lost (the connection drops), this many times. */
  loseInsertAnswers?: number;
  /** Overrides the referenced routines the dry run reports (`p.d.r`). */
  referencedRoutines?: string[];
}

export interface FakeExport {
  jobId: string | undefined;
  uri: string;
  rows: number;
}

export interface FakeTable {
  project: string;
  dataset: string;
  table: string;
  type: 'TABLE' | 'VIEW' | 'SNAPSHOT';
  fields: FakeField[];
  /** A snapshot's or clone's source, `p.d.t`. */
  snapshotOf?: string;
  cloneOf?: string;
  rows: number;
  numBytes: number;
  viewQuery?: string;
  /** Report the view as defined in legacy SQL. */
  legacySql?: boolean;
}

export interface FakeJob {
  project: string;
  jobId: string;
  location: string;
  principal: string;
  request: any;
  sql: string;
  createdAt: number;
  doneAt: number;
  cancelled: boolean;
  cancelledAt?: number;
  error?: { reason: string; message: string };
  result?: EngineResult;
  bytes: number;
  referencedTables: string[];
  statementType: string;
}

const BQ_SCOPES = ['https://www.googleapis.com/auth/bigquery', 'https://www.googleapis.com/auth/cloud-platform'];
const ROOT = '/bigquery/v2/projects/';

export class FakeBigQuery {
  readonly tables = new Map<string, FakeTable>();
  readonly jobs = new Map<string, FakeJob>();
  /** principals with roles/bigquery.jobUser, by project */
  readonly jobUsers = new Map<string, Set<string>>();
  /** principals with roles/bigquery.dataViewer, by `project.dataset` */
  readonly dataViewers = new Map<string, Set<string>>();
  /** Rows per getQueryResults page at most (BigQuery's own cap is ~10 MB). */
  pageRows = 50_000;
  /** Items per tables.list / datasets.list page at most. */
  listPageSize = 1000;
  readonly location = 'US';
  /** `project.dataset` of datasets created with is_case_insensitive: table names fold case there. */
  readonly caseInsensitiveDatasets = new Set<string>();
  /** Persistent functions, `p.d.f`. */
  readonly routines = new Set<string>();
  /** What EXPORT DATA jobs wrote, by destination. */
  readonly exports: FakeExport[] = [];
  private readonly scripts: Array<{ match: RegExp; behaviour: ScriptedBehaviour }> = [];
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly engine: FakeBigQueryEngine,
    private readonly tokens: FakeTokens,
  ) {}

  static async create(tokens: FakeTokens): Promise<FakeBigQuery> {
    const fake = new FakeBigQuery(await FakeBigQueryEngine.create(), tokens);
    // BigQuery: a wildcard reads the tables (never views) whose name starts with the prefix
    fake.engine.expandWildcard = (project, dataset, prefix) =>
      [...fake.tables.values()].filter((t) => t.project === project && t.dataset === dataset && t.type !== 'VIEW' && t.table.startsWith(prefix)).map((t) => t.table).sort();
    return fake;
  }

  /** A snapshot (type SNAPSHOT) or clone (type TABLE) of `base`: a copy of its rows that BigQuery says it came from. */
  async createCopy(name: string, base: string, kind: 'snapshot' | 'clone'): Promise<void> {
    const source = this.tables.get(base);
    if (!source) throw new Error(`fake BigQuery: no table ${base}`);
    const [project, dataset, table] = split(name);
    const rows = (await this.serial(() => this.engine.run(`SELECT * FROM \`${base}\``, [], true, { project }))).rows;
    await this.engine.createTable(project, dataset, table, source.fields, []);
    await this.serial(() => this.engine.run(`INSERT INTO \`${name}\` SELECT * FROM \`${base}\``, [], true, { project }));
    this.tables.set(name, {
      project, dataset, table, type: kind === 'snapshot' ? 'SNAPSHOT' : 'TABLE', fields: source.fields, rows: rows.length, numBytes: source.numBytes,
      ...(kind === 'snapshot' ? { snapshotOf: base } : { cloneOf: base }),
    });
  }

  /** A persistent SQL function `p.d.f(params…) AS (body)`. */
  async createFunction(name: string, params: string[], body: string): Promise<void> {
    const [project, dataset, fn] = split(name);
    await this.engine.createFunction(project, dataset, fn, params, body);
    this.routines.add(name);
  }

  async createTable(name: string, fields: FakeField[], rows: unknown[][], options: { numBytes?: number } = {}): Promise<void> {
    const [project, dataset, table] = split(name);
    await this.engine.createTable(project, dataset, table, fields, rows);
    this.tables.set(name, { project, dataset, table, type: 'TABLE', fields, rows: rows.length, numBytes: options.numBytes ?? rows.length * 100 });
  }

  async createView(name: string, query: string): Promise<void> {
    const [project, dataset, table] = split(name);
    await this.engine.createView(project, dataset, table, query);
    const fields = await this.serial(() => this.engine.validate(`SELECT * FROM \`${name}\``, [], { project }));
    this.tables.set(name, { project, dataset, table, type: 'VIEW', fields, rows: 0, numBytes: 0, viewQuery: query });
  }

  script(match: RegExp, behaviour: ScriptedBehaviour): void {
    this.scripts.unshift({ match, behaviour });
  }

  grantJobUser(project: string, principal: string): void {
    add(this.jobUsers, project, principal);
  }

  grantDataViewer(dataset: string, principal: string): void {
    add(this.dataViewers, dataset, principal);
  }

  revokeDataViewer(dataset: string, principal: string): void {
    this.dataViewers.get(dataset)?.delete(principal);
  }

  close(): void {
    this.engine.close();
  }

  async handle(req: RecordedRequest): Promise<FakeResponse | null> {
    if (!req.path.startsWith(ROOT)) return null;
    const caller = this.tokens.check(req.bearer);
    if (!caller || !caller.scopes.some((s) => BQ_SCOPES.includes(s))) {
      return googleError(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'unauthorized');
    }
    const parts = req.path.slice(ROOT.length).split('/').map(decodeURIComponent);
    const project = parts[0]!;
    const rest = parts.slice(1);
    const route = `${req.method} ${rest.map((p, i) => (i % 2 === 1 ? ':' : p)).join('/')}`;
    switch (route) {
      case 'POST jobs':
        return this.insertJob(project, req, caller);
      case 'GET jobs/:':
        return this.withJob(project, rest[1]!, caller, (job) => ({ status: 200, body: this.jobResource(job) }));
      case 'POST jobs/:/cancel':
        return this.withJob(project, rest[1]!, caller, (job) => this.cancel(job));
      case 'GET queries/:':
        return this.withJob(project, rest[1]!, caller, (job) => this.queryResults(job, req.query));
      case 'POST queries':
        return googleError(400, 'INVALID_ARGUMENT', 'fake BigQuery: jobs.query is not served; hoopq must create jobs with jobs.insert', 'invalid');
      case 'GET datasets':
        return this.listDatasets(project, req.query, caller);
      case 'GET datasets/:/tables':
        return this.listTables(project, rest[1]!, req.query, caller);
      case 'GET datasets/:/tables/:':
        return this.getTable(`${project}.${rest[1]}.${rest[3]}`, caller);
      default:
        return googleError(404, 'NOT_FOUND', `fake BigQuery: no route ${route}`, 'notFound');
    }
  }

  /** Runs engine work one call at a time (the engine has one connection). */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private behaviourOf(sql: string): ScriptedBehaviour {
    return this.scripts.find((s) => s.match.test(sql))?.behaviour ?? {};
  }

  private async insertJob(project: string, req: RecordedRequest, caller: IssuedToken): Promise<FakeResponse> {
    const body = req.body ?? {};
    const config = body.configuration ?? {};
    const query = config.query ?? {};
    const sql: string | undefined = query.query;
    if (typeof sql !== 'string' || sql === '') return googleError(400, 'INVALID_ARGUMENT', 'Required parameter is missing: query', 'required');
    if (!this.jobUsers.get(project)?.has(caller.principal)) {
      return googleError(403, 'PERMISSION_DENIED', `Access Denied: Project ${project}: User does not have bigquery.jobs.create permission in project ${project}.`, 'accessDenied');
    }
    const labelProblem = checkLabels(config.labels);
    if (labelProblem) return googleError(400, 'INVALID_ARGUMENT', labelProblem, 'invalid');
    if (query.useLegacySql !== false) {
      return googleError(400, 'INVALID_ARGUMENT', 'fake BigQuery: legacy SQL (useLegacySql not false) is not served', 'invalidQuery');
    }
    const behaviour = this.behaviourOf(sql);
    const params: EngineParameter[] = Array.isArray(query.queryParameters) ? query.queryParameters : [];
    if (!Array.isArray(query.queryParameters) && /@\w/.test(sql.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''"))) {
      // BigQuery: a query that uses @name parameters must declare them, in the dry run too
      return googleError(400, 'INVALID_ARGUMENT', 'Query parameter not found or not declared', 'invalidQuery');
    }
    const defaults = { project: query.defaultDataset?.projectId ?? project, dataset: query.defaultDataset?.datasetId as string | undefined };
    const missing = this.wronglyCasedTable(sql, defaults);
    if (missing) return googleError(404, 'NOT_FOUND', `Not found: Table ${missing.replace('.', ':')} was not found in location ${this.location}`, 'notFound');
    const exported = /^\s*EXPORT\s+DATA\b[\s\S]*?\buri\s*=\s*'([^']*)'[\s\S]*?\)\s*AS\s+([\s\S]*)$/i.exec(sql);
    const runnable = exported ? exported[2]! : sql;
    const referenced = behaviour.referencedTables ?? this.referencedTables(sql, defaults);
    const routines = behaviour.referencedRoutines ?? this.referencedRoutines(sql, defaults);
    for (const name of referenced) {
      const [p, d] = split(name);
      if (this.tables.has(name) && !this.dataViewers.get(`${p}.${d}`)?.has(caller.principal)) {
        const table = `${p}:${d}.${split(name)[2]}`;
        return googleError(403, 'PERMISSION_DENIED', `Access Denied: Table ${table}: User does not have permission to query table ${table}, or perhaps it does not exist.`, 'accessDenied');
      }
    }
    const bytes = behaviour.bytes ?? referenced.reduce((n, t) => n + (this.tables.get(t)?.type === 'TABLE' ? this.tables.get(t)!.numBytes : 0), 0);
    const statementType = exported ? 'EXPORT_DATA' : statementTypeOf(sql);
    const location = body.jobReference?.location ?? this.location;
    const now = Date.now();

    if (config.dryRun === true) {
      if (behaviour.dryRunError) {
        const e = behaviour.dryRunError;
        return googleError(e.code, e.code === 403 ? 'PERMISSION_DENIED' : 'INVALID_ARGUMENT', e.message, e.reason);
      }
      let fields: FakeField[] = [];
      try {
        fields = await this.serial(() => this.engine.validate(runnable, params, defaults));
      } catch (err) {
        const missing = /Table with name (\S+) does not exist/.exec(engineMessage(err));
        if (missing) return googleError(404, 'NOT_FOUND', `Not found: Table ${project}:${missing[1]} was not found in location ${location}`, 'notFound');
        return googleError(400, 'INVALID_ARGUMENT', engineMessage(err), 'invalidQuery');
      }
      return {
        status: 200,
        body: {
          kind: 'bigquery#job',
          etag: etag(sql),
          configuration: { ...config, jobType: 'QUERY' },
          jobReference: { projectId: project, location },
          statistics: {
            creationTime: String(now),
            totalBytesProcessed: String(bytes),
            query: {
              totalBytesProcessed: String(bytes),
              totalBytesBilled: '0',
              totalBytesProcessedAccuracy: 'PRECISE',
              cacheHit: false,
              referencedTables: referenced.map(tableReference),
              ...(routines.length > 0 ? { referencedRoutines: routines.map(routineReference) } : {}),
              schema: { fields },
              statementType,
            },
          },
          status: { state: 'DONE' },
          principal_subject: `serviceAccount:${caller.principal}`,
          user_email: caller.principal,
        },
      };
    }

    const jobId: unknown = body.jobReference?.jobId;
    if (typeof jobId !== 'string' || !/^[A-Za-z0-9_-]{1,1024}$/.test(jobId)) {
      return googleError(400, 'INVALID_ARGUMENT', `Invalid job ID "${String(jobId)}".`, 'invalid');
    }
    if (this.jobs.has(`${project}:${jobId}`)) return googleError(409, 'ALREADY_EXISTS', `Already Exists: Job ${project}:${location}.${jobId}`, 'duplicate');
    const lose = (behaviour.loseInsertAnswers ?? 0) > 0;
    if (lose) behaviour.loseInsertAnswers! -= 1;
    const job: FakeJob = {
      project,
      jobId,
      location,
      principal: caller.principal,
      request: body,
      sql,
      createdAt: now,
      doneAt: now + (behaviour.runMs ?? 0),
      cancelled: false,
      bytes,
      referencedTables: referenced,
      statementType,
    };
    this.jobs.set(`${project}:${jobId}`, job);
    const cap = query.maximumBytesBilled === undefined ? undefined : Number(query.maximumBytesBilled);
    const timeout = config.jobTimeoutMs === undefined ? undefined : Number(config.jobTimeoutMs);
    if (behaviour.error) {
      job.error = behaviour.error;
    } else if (cap !== undefined && bytes > cap) {
      job.error = { reason: 'bytesBilledLimitExceeded', message: `Query exceeded limit for bytes billed: ${cap}. ${Math.ceil(bytes / 10_485_760) * 10_485_760} or higher required.` };
      job.doneAt = now;
    } else if (timeout !== undefined && job.doneAt - now > timeout) {
      job.error = { reason: 'timeout', message: `Job execution was cancelled: Job timed out after ${Math.round(timeout / 1000)} sec` };
      job.doneAt = now + timeout;
    } else {
      try {
        job.result = await this.serial(() => this.engine.run(runnable, params, true, defaults));
        if (exported) {
          this.exports.push({ jobId, uri: exported[1]!, rows: job.result.rows.length });
          job.result = { fields: [], rows: [] };
        }
      } catch (err) {
        job.error = { reason: 'invalidQuery', message: engineMessage(err) };
        job.doneAt = now;
      }
    }
    return { status: 200, body: this.jobResource(job), ...(lose ? { drop: true } : {}) };
  }

  private withJob(project: string, jobId: string, caller: IssuedToken, then: (job: FakeJob) => FakeResponse | Promise<FakeResponse>): FakeResponse | Promise<FakeResponse> {
    const job = this.jobs.get(`${project}:${jobId}`);
    if (!job) return googleError(404, 'NOT_FOUND', `Not found: Job ${project}:${this.location}.${jobId}`, 'notFound');
    if (job.principal !== caller.principal) {
      return googleError(403, 'PERMISSION_DENIED', `Access Denied: Job ${project}:${job.location}.${jobId}: User does not have permission to access the job.`, 'accessDenied');
    }
    return then(job);
  }

  isDone(job: FakeJob): boolean {
    return job.cancelled || Date.now() >= job.doneAt;
  }

  private jobResource(job: FakeJob): unknown {
    const done = this.isDone(job);
    const error = job.cancelled ? { reason: 'stopped', message: 'Job execution was cancelled: User requested cancellation' } : job.error;
    return {
      kind: 'bigquery#job',
      etag: etag(job.jobId),
      id: `${job.project}:${job.location}.${job.jobId}`,
      selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${job.project}/jobs/${job.jobId}?location=${job.location}`,
      user_email: job.principal,
      principal_subject: `serviceAccount:${job.principal}`,
      configuration: { ...job.request.configuration, jobType: 'QUERY' },
      jobReference: { projectId: job.project, jobId: job.jobId, location: job.location },
      statistics: {
        creationTime: String(job.createdAt),
        startTime: String(job.createdAt),
        ...(done ? { endTime: String(job.cancelledAt ?? job.doneAt), totalBytesProcessed: String(job.bytes) } : {}),
        query: {
          statementType: job.statementType,
          ...(done ? { totalBytesProcessed: String(job.bytes), totalBytesBilled: String(job.bytes), referencedTables: job.referencedTables.map(tableReference) } : {}),
        },
      },
      status: done ? { state: 'DONE', ...(error ? { errorResult: error, errors: [error] } : {}) } : { state: 'RUNNING' },
    };
  }

  private cancel(job: FakeJob): FakeResponse {
    if (!this.isDone(job)) {
      job.cancelled = true;
      job.cancelledAt = Date.now();
    }
    return { status: 200, body: { kind: 'bigquery#jobCancelResponse', job: this.jobResource(job) } };
  }

  private async queryResults(job: FakeJob, query: URLSearchParams): Promise<FakeResponse> {
    const wait = Math.min(Number(query.get('timeoutMs') ?? 10_000), 10_000);
    const until = Date.now() + wait;
    while (!this.isDone(job) && Date.now() < until) await sleep(Math.min(20, Math.max(1, until - Date.now())));
    const jobReference = { projectId: job.project, jobId: job.jobId, location: job.location };
    if (!this.isDone(job)) return { status: 200, body: { kind: 'bigquery#getQueryResultsResponse', etag: etag(`${job.jobId}-pending`), jobReference, jobComplete: false } };
    if (job.cancelled) return googleError(400, 'INVALID_ARGUMENT', 'Job execution was cancelled: User requested cancellation', 'stopped');
    if (job.error) return googleError(job.error.reason === 'accessDenied' ? 403 : 400, 'INVALID_ARGUMENT', job.error.message, job.error.reason);
    const result = job.result!;
    let offset = Number(query.get('startIndex') ?? 0);
    const token = query.get('pageToken');
    if (token) {
      const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { job: string; offset: number };
      if (decoded.job !== job.jobId) return googleError(400, 'INVALID_ARGUMENT', 'Invalid page token.', 'invalid');
      offset = decoded.offset;
    }
    const max = query.get('maxResults') === null ? Infinity : Number(query.get('maxResults'));
    const size = Math.min(max, this.pageRows);
    const rows = result.rows.slice(offset, offset + size);
    const next = offset + rows.length;
    return {
      status: 200,
      body: {
        kind: 'bigquery#getQueryResultsResponse',
        etag: etag(`${job.jobId}-${offset}`),
        schema: { fields: result.fields },
        jobReference,
        totalRows: String(result.rows.length),
        ...(rows.length > 0 ? { rows } : {}),
        ...(next < result.rows.length ? { pageToken: Buffer.from(JSON.stringify({ job: job.jobId, offset: next })).toString('base64url') } : {}),
        totalBytesProcessed: String(job.bytes),
        jobComplete: true,
        cacheHit: false,
      },
    };
  }

  private getTable(asked: string, caller: IssuedToken): FakeResponse {
    const name = this.canonicalName(asked) ?? asked;
    const [project, dataset, tableId] = split(name);
    if (!this.dataViewers.get(`${project}.${dataset}`)?.has(caller.principal)) {
      return googleError(403, 'PERMISSION_DENIED', `Access Denied: Table ${project}:${dataset}.${tableId}: Permission bigquery.tables.get denied on table ${project}:${dataset}.${tableId} (or it may not exist).`, 'accessDenied');
    }
    const t = this.tables.get(name);
    if (!t) return googleError(404, 'NOT_FOUND', `Not found: Table ${project}:${dataset}.${tableId}`, 'notFound');
    return {
      status: 200,
      body: {
        kind: 'bigquery#table',
        etag: etag(name),
        id: `${project}:${dataset}.${tableId}`,
        selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${project}/datasets/${dataset}/tables/${tableId}`,
        tableReference: { projectId: project, datasetId: dataset, tableId },
        schema: { fields: t.fields },
        numBytes: String(t.numBytes),
        numLongTermBytes: '0',
        numRows: String(t.rows),
        creationTime: '1700000000000',
        lastModifiedTime: '1700000000000',
        type: t.type,
        location: this.location,
        ...(t.viewQuery !== undefined ? { view: { query: t.viewQuery, useLegacySql: t.legacySql === true } } : {}),
        ...(t.snapshotOf ? { snapshotDefinition: { baseTableReference: tableReference(t.snapshotOf), snapshotTime: '2024-01-01T00:00:00Z' } } : {}),
        ...(t.cloneOf ? { cloneDefinition: { baseTableReference: tableReference(t.cloneOf), cloneTime: '2024-01-01T00:00:00Z' } } : {}),
      },
    };
  }

  private listTables(project: string, dataset: string, query: URLSearchParams, caller: IssuedToken): FakeResponse {
    const all = [...this.tables.values()].filter((t) => t.project === project && t.dataset === dataset).sort((a, b) => a.table.localeCompare(b.table));
    const datasetExists = [...this.tables.values()].some((t) => t.project === project && t.dataset === dataset);
    if (!datasetExists) return googleError(404, 'NOT_FOUND', `Not found: Dataset ${project}:${dataset}`, 'notFound');
    if (!this.dataViewers.get(`${project}.${dataset}`)?.has(caller.principal)) {
      return googleError(403, 'PERMISSION_DENIED', `Access Denied: Dataset ${project}:${dataset}: Permission bigquery.tables.list denied on dataset ${project}:${dataset} (or it may not exist).`, 'accessDenied');
    }
    const { page, nextPageToken } = paginate(all, query, this.listPageSize);
    return {
      status: 200,
      body: {
        kind: 'bigquery#tableList',
        etag: etag(`${project}.${dataset}`),
        tables: page.map((t) => ({
          kind: 'bigquery#table',
          id: `${t.project}:${t.dataset}.${t.table}`,
          tableReference: { projectId: t.project, datasetId: t.dataset, tableId: t.table },
          type: t.type,
          creationTime: '1700000000000',
        })),
        totalItems: all.length,
        ...(nextPageToken ? { nextPageToken } : {}),
      },
    };
  }

  private listDatasets(project: string, query: URLSearchParams, caller: IssuedToken): FakeResponse {
    const names = [...new Set([...this.tables.values()].filter((t) => t.project === project).map((t) => t.dataset))]
      .filter((d) => this.dataViewers.get(`${project}.${d}`)?.has(caller.principal))
      .sort();
    const { page, nextPageToken } = paginate(names, query, this.listPageSize);
    return {
      status: 200,
      body: {
        kind: 'bigquery#datasetList',
        etag: etag(project),
        ...(page.length > 0 ? { datasets: page.map((d) => ({ kind: 'bigquery#dataset', id: `${project}:${d}`, datasetReference: { projectId: project, datasetId: d }, location: this.location })) } : {}),
        ...(nextPageToken ? { nextPageToken } : {}),
      },
    };
  }

  /** Every dotted name in the SQL that names a known table or view; views bring their tables; a wildcard brings every table it matches. */
  referencedTables(sql: string, defaults: { project: string; dataset?: string }): string[] {
    const found = new Set<string>();
    for (const c of this.candidateNames(sql, defaults)) {
      const [p, d, t] = c.split('.') as [string, string, string];
      if (t.endsWith('*')) {
        for (const name of this.engine.expandWildcard(p, d, t.slice(0, -1))) this.addReferenced(`${p}.${d}.${name}`, found, 0);
      } else {
        this.addReferenced(this.canonicalName(c) ?? c, found, 0);
      }
    }
    return [...found].sort();
  }

  /** Persistent functions the SQL calls (a known routine name followed by `(`). */
  referencedRoutines(sql: string, defaults: { project: string; dataset?: string }): string[] {
    const text = sql.replace(/'(?:[^'\\]|\\.)*'/g, "''");
    return [...this.routines].filter((r) => {
      const [p, d, f] = r.split('.');
      const forms = [`\`${r}\``, `${p}.${d}.${f}`, `\`${p}\`.${d}.${f}`, ...(defaults.project === p ? [`${d}.${f}`] : [])];
      return forms.some((form) => new RegExp(`(^|[^\\w.\`])${form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\(`).test(text));
    });
  }

  /** A name that differs only in case from a known table, in a case-sensitive dataset: BigQuery says Not found. */
  private wronglyCasedTable(sql: string, defaults: { project: string; dataset?: string }): string | undefined {
    // names written with a dataset: a one-part name is as likely an alias or a column
    for (const c of this.candidateNames(sql, defaults, 2)) {
      if (this.tables.has(c) || c.endsWith('*')) continue;
      const other = [...this.tables.keys()].find((t) => t.toLowerCase() === c.toLowerCase());
      if (other === undefined) continue;
      const [p, d] = other.split('.');
      if (!this.caseInsensitiveDatasets.has(`${p}.${d}`)) return c;
    }
    return undefined;
  }

  /** The known table that `name` names when case is ignored (datasets created case-insensitive fold it). */
  canonicalName(name: string): string | undefined {
    if (this.tables.has(name)) return name;
    const lower = name.toLowerCase();
    const hit = [...this.tables.keys()].find((t) => t.toLowerCase() === lower);
    if (!hit) return undefined;
    const [p, d] = hit.split('.');
    return this.caseInsensitiveDatasets.has(`${p}.${d}`) ? hit : undefined;
  }

  private candidateNames(sql: string, defaults: { project: string; dataset?: string }, minParts = 1): string[] {
    const out: string[] = [];
    const text = sql.replace(/'(?:[^'\\]|\\.)*'/g, "''").replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ');
    const name = /(?:`[^`]+`|[A-Za-z_][\w-]*)(?:\s*\.\s*(?:`[^`]+`|[A-Za-z_][\w-]*))*/g;
    for (const m of text.matchAll(name)) {
      const parts = m[0].split(/\s*\.\s*/).flatMap((p) => p.replace(/`/g, '').split('.'));
      if (parts.length < minParts) continue;
      out.push(...(parts.length === 3 ? [parts.join('.')] : parts.length === 2 ? [`${defaults.project}.${parts.join('.')}`] : defaults.dataset && parts.length === 1 ? [`${defaults.project}.${defaults.dataset}.${parts[0]}`] : []));
    }
    return out;
  }

  private addReferenced(name: string, found: Set<string>, depth: number): void {
    const t = this.tables.get(name);
    if (!t || found.has(name) || depth > 8) return;
    found.add(name);
    if (t.viewQuery !== undefined) for (const inner of this.referencedTables(t.viewQuery, { project: t.project, dataset: t.dataset })) this.addReferenced(inner, found, depth + 1);
  }
}

function split(name: string): [string, string, string] {
  const parts = name.split('.');
  if (parts.length !== 3) throw new Error(`fake BigQuery: "${name}" is not project.dataset.table`);
  return parts as [string, string, string];
}

function add(map: Map<string, Set<string>>, key: string, principal: string): void {
  if (!map.has(key)) map.set(key, new Set());
  map.get(key)!.add(principal);
}

function tableReference(name: string): { projectId: string; datasetId: string; tableId: string } {
  const [projectId, datasetId, tableId] = split(name);
  return { projectId, datasetId, tableId };
}

function routineReference(name: string): { projectId: string; datasetId: string; routineId: string } {
  const [projectId, datasetId, routineId] = split(name);
  return { projectId, datasetId, routineId };
}

function etag(seed: string): string {
  return createHash('md5').update(seed).digest('base64');
}

/** BigQuery's label rules: keys and values <= 63, lowercase letters, digits, `_` and `-`; keys start with a letter. */
function checkLabels(labels: unknown): string | null {
  if (labels === undefined) return null;
  if (typeof labels !== 'object' || labels === null) return 'Invalid labels.';
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > 64) return 'Too many labels: at most 64.';
  for (const [k, v] of entries) {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(k)) return `Label key "${k}" has invalid characters or length.`;
    if (typeof v !== 'string' || !/^[a-z0-9_-]{0,63}$/.test(v)) return `Label value "${String(v)}" has invalid characters or length.`;
  }
  return null;
}

function statementTypeOf(sql: string): string {
  const text = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').trim();
  const statements = text.split(';').filter((s) => s.trim() !== '');
  const first = /^\(?\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? '';
  if (statements.length > 1 || first === 'DECLARE' || first === 'BEGIN') return 'SCRIPT';
  if (first === 'WITH' || first === 'SELECT') return 'SELECT';
  return first;
}

function paginate<T>(all: T[], query: URLSearchParams, cap: number): { page: T[]; nextPageToken?: string } {
  const offset = query.get('pageToken') ? Number(Buffer.from(query.get('pageToken')!, 'base64url').toString('utf8')) : 0;
  const max = query.get('maxResults') === null ? cap : Math.min(cap, Number(query.get('maxResults')));
  const page = all.slice(offset, offset + max);
  const next = offset + page.length;
  return { page, ...(next < all.length ? { nextPageToken: Buffer.from(String(next)).toString('base64url') } : {}) };
}

function engineMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
