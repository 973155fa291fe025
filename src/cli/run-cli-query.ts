/**
 * One query from the command line (`hoopq query`, `hoopq bq query`, `hoopq bq head`), in
 * direct or gateway mode: the same request either way, result bytes on stdout, notices on
 * stderr, a live progress line while it runs when stderr is a terminal (progress-line.ts).
 * Output: what the query did (record id, rows, whether rows were cut, the dry run's answer).
 */
import { runQuery, type QueryProgress, type QueryRequest } from '../pipeline/run-query.js';
import { remoteQuery, remoteToken } from '../gateway-client/gateway-client.js';
import { createProgressLine, formatBytes, formatCount } from './progress-line.js';
import { type QueryTarget } from './query-target.js';

export interface CliQuery extends Pick<QueryRequest, 'sql' | 'token' | 'justification' | 'format' | 'maxRows' | 'dryRun' | 'params' | 'maxBytesBilled' | 'labels'> {
  /** Where names without a project or dataset resolve (bq's --project_id, --dataset_id). */
  defaultProject?: string;
  defaultDataset?: string;
  /** Draw a progress line on stderr (it is a terminal and --quiet is not set). */
  progress: boolean;
}

export interface CliQueryOutcome {
  recordId: string;
  rows: number;
  truncated: boolean;
  dryRun?: { bytesProcessed?: number; statementType?: string; referencedTables?: string[] };
}

export async function runCliQuery(target: QueryTarget, q: CliQuery): Promise<CliQueryOutcome> {
  const line = createProgressLine(process.stderr, { label: q.dryRun ? 'dry run' : 'query', enabled: q.progress && !q.dryRun });
  const notice = (m: string) => {
    line.clear();
    process.stderr.write(m + '\n');
  };
  try {
    if (target.kind === 'remote') {
      // gateway mode: the same request, forwarded; stdout, stderr and exit code as in direct mode
      const outcome = await remoteQuery({
        gateway: target.gateway,
        token: remoteToken(q.token),
        body: {
          sql: q.sql,
          justification: q.justification,
          format: q.format,
          max_rows: q.maxRows,
          dry_run: q.dryRun ? true : undefined,
          params: q.params && q.params.length > 0 ? q.params : undefined,
          max_bytes_billed: q.maxBytesBilled,
          labels: q.labels && Object.keys(q.labels).length > 0 ? q.labels : undefined,
          default_project: q.defaultProject,
          default_dataset: q.defaultDataset,
        },
        stdout: process.stdout,
        notice,
      });
      return { recordId: outcome.record, rows: outcome.rows, truncated: outcome.truncated, dryRun: outcome.dry_run as CliQueryOutcome['dryRun'] };
    }
    const ctx = target.ctx;
    let bytes: number | undefined;
    try {
      const outcome = await runQuery(ctx.parts, {
        sql: q.sql,
        token: q.token,
        justification: q.justification,
        format: q.format,
        maxRows: q.maxRows,
        dryRun: Boolean(q.dryRun),
        params: q.params && q.params.length > 0 ? q.params : undefined,
        maxBytesBilled: q.maxBytesBilled,
        labels: q.labels,
        names: { defaultProject: q.defaultProject, defaultDataset: q.defaultDataset },
        out: process.stdout,
        notice,
        progress: (p) => {
          bytes = p.bytesProcessed ?? bytes;
          line.update(describeProgress(p, bytes));
        },
      });
      return { recordId: outcome.recordId, rows: outcome.rows, truncated: outcome.truncated, dryRun: outcome.dryRun };
    } finally {
      await ctx.close();
    }
  } finally {
    line.stop();
  }
}

function describeProgress(p: QueryProgress, bytes: number | undefined): string {
  const parts = [p.stage === 'running' ? 'running' : formatCount(p.rows, 'row')];
  if (bytes !== undefined) parts.push(`${formatBytes(bytes)} to process (dry-run estimate)`);
  return parts.join(', ');
}
