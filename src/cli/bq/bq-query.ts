/**
 * `hoopq bq query` and `hoopq bq head`: SQL (or, for head, a `SELECT … LIMIT … OFFSET …` of the
 * named table) through the same pipeline as `hoopq query`, printed in bq's formats. As bq:
 * the words after the flags are joined into the SQL; at most 100 rows are printed unless
 * -n says otherwise; `--dry_run` prints bq's "Query successfully validated…" sentence (the
 * job's JSON with --format=json|prettyjson, the byte count alone with csv).
 */
import { UsageError } from '../../errors.js';
import type { OutputFormat } from '../../output/create-result-writer.js';
import { BQ_OBJECT_JSON, BQ_OBJECT_PRETTYJSON, bqJson } from '../../output/bq-table-formatter.js';
import { collectParameter } from '../query-command.js';
import { cliToken, openQueryTargetAt } from '../query-target.js';
import { readSql } from '../read-sql.js';
import { runCliQuery, type CliQueryOutcome } from '../run-cli-query.js';
import type { QueryParameter } from '../../warehouse/warehouse.js';
import { intFlag, type BqInvocation } from './bq-command.js';
import { bqTableName } from './bq-names.js';

/** bq prints at most this many rows of a query or head unless -n / --max_rows says otherwise. */
const BQ_DEFAULT_MAX_ROWS = 100;

export async function runBqQuery(inv: BqInvocation): Promise<void> {
  if (inv.flags.use_legacy_sql === true) {
    throw new UsageError('usage.legacy_sql', 'bq: legacy SQL is not supported', { rule: 'bq.flags', hint: 'use GoogleSQL: --use_legacy_sql=false or --nouse_legacy_sql (hoopq bq assumes it)' });
  }
  const sql = inv.args.length > 0 ? inv.args.join(' ') : await readSql(undefined, undefined, process.stdin);
  if (sql.trim() === '') throw new UsageError('usage.empty_sql', 'the SQL is empty');
  const params = ((inv.flags.parameter as string[] | undefined) ?? []).reduce<QueryParameter[]>((acc, p) => collectParameter(p, acc), []);
  const dryRun = inv.flags.dry_run === true;
  const outcome = await runBqSql(inv, sql, { maxRows: intFlag(inv, 'max_rows', BQ_DEFAULT_MAX_ROWS), dryRun, params });
  if (dryRun) printDryRun(inv, outcome);
}

export async function runBqHead(inv: BqInvocation): Promise<void> {
  if (inv.args.length !== 1) throw new UsageError('usage.bq_head', 'bq head: name one table', { hint: 'hoopq bq head [-n N] [-s START] [-c COL,…] [PROJECT:]DATASET.TABLE' });
  const table = bqTableName(inv.args[0]!, inv);
  const maxRows = intFlag(inv, 'max_rows', BQ_DEFAULT_MAX_ROWS)!;
  const start = intFlag(inv, 'start_row', 0)!;
  const selected = typeof inv.flags.selected_fields === 'string' ? inv.flags.selected_fields.split(',').map((c) => c.trim()).filter(Boolean) : [];
  for (const c of selected) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c)) throw new UsageError('usage.bq_head_field', `bq head: "${c}" is not a plain column name`, { hint: 'use hoopq bq query with the column quoted instead' });
  }
  const sql = `SELECT ${selected.length > 0 ? selected.join(', ') : '*'} FROM ${table} LIMIT ${maxRows}${start > 0 ? ` OFFSET ${start}` : ''}`;
  await runBqSql(inv, sql, { maxRows, dryRun: false, params: [] });
}

async function runBqSql(inv: BqInvocation, sql: string, opts: { maxRows: number | undefined; dryRun: boolean; params: QueryParameter[] }): Promise<CliQueryOutcome> {
  const labels = Object.fromEntries(
    ((inv.flags.label as string[] | undefined) ?? []).map((l) => {
      const i = l.indexOf(':');
      return i === -1 ? [l.trim(), ''] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
    }),
  );
  return runCliQuery(await openQueryTargetAt(inv.configPath), {
    sql,
    token: cliToken(inv.token),
    justification: inv.justification,
    format: `bq-${inv.format}` as OutputFormat,
    maxRows: opts.maxRows,
    dryRun: opts.dryRun,
    params: opts.params,
    maxBytesBilled: intFlag(inv, 'maximum_bytes_billed', undefined, 1),
    labels,
    defaultProject: inv.projectId,
    defaultDataset: inv.datasetId,
    progress: inv.progress,
  });
}

/** bq's dry-run report (its PrintDryRunInfo): one sentence, the job as JSON, or the byte count for csv. */
function printDryRun(inv: BqInvocation, outcome: CliQueryOutcome): void {
  const bytes = outcome.dryRun?.bytesProcessed;
  if (inv.format === 'json' || inv.format === 'prettyjson') {
    const [projectId] = (outcome.dryRun?.referencedTables?.[0] ?? '').split('.');
    const job = {
      kind: 'bigquery#job',
      id: outcome.recordId,
      jobReference: { projectId: projectId ?? '', jobId: outcome.recordId },
      configuration: { dryRun: true, jobType: 'QUERY', query: { useLegacySql: false } },
      statistics: {
        ...(bytes !== undefined ? { totalBytesProcessed: String(bytes) } : {}),
        query: {
          ...(bytes !== undefined ? { totalBytesProcessed: String(bytes), totalBytesProcessedAccuracy: 'PRECISE' } : {}),
          ...(outcome.dryRun?.statementType ? { statementType: outcome.dryRun.statementType } : {}),
          referencedTables: (outcome.dryRun?.referencedTables ?? []).map((t) => {
            const [p, d, tableId] = t.split('.');
            return { projectId: p, datasetId: d, tableId };
          }),
        },
      },
      status: { state: 'DONE' },
    };
    process.stdout.write(bqJson(job, inv.format === 'json' ? BQ_OBJECT_JSON : BQ_OBJECT_PRETTYJSON) + '\n');
    return;
  }
  if (inv.format === 'none') return;
  if (bytes === undefined) {
    process.stdout.write('Query successfully validated. No information about number of bytes processed. To see the full details of the job, run this query with `--format=json` or `--format=prettyjson`.\n');
    return;
  }
  if (inv.format === 'csv') {
    process.stdout.write(`${bytes}\n`);
    return;
  }
  process.stdout.write(`Query successfully validated. Assuming the tables are not modified, running this query will process ${bytes} bytes of data.\n`);
}
