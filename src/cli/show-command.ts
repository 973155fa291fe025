/**
 * `hoopq show [project:]dataset.table`: bq's `show` for one table, as the run token's policy
 * lets it see it: columns, types and the mask each masked column gets. A table the policy
 * refuses is refused (exit 5) before the catalog is asked, so `show` never reveals whether
 * a denied table exists. `--format json|prettyjson` gives bq's shape (`tableReference`,
 * `schema.fields` with BigQuery's types, modes and nested fields) with `mask` on masked
 * fields and a `hoopq` block; `hoopq bq show` prints bq's shape alone.
 * In gateway mode the gateway describes (GET /v1/table) and this prints its answer identically.
 * A bare name that is no table the run may read, but a dataset it may list, is shown as bq
 * shows a dataset (`hoopq show crm`).
 */
import { Command, Option } from 'commander';
import { isHoopqError } from '../errors.js';
import type { TableDescription } from '../pipeline/describe-table.js';
import { CATALOG_FORMATS, printJson, printPretty } from './ls-command.js';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';
import { cliToken } from './query-target.js';

/** A name without project or dataset: a table of the default dataset, or (as in bq) a dataset. */
const BARE_NAME = /^[A-Za-z0-9_]+$/;

export function registerShowCommand(program: Command, state: CliState): void {
  program
    .command('show')
    .description('describe a table the run token\'s policy lets it read: columns, types, masks (as bq show)')
    .argument('<table>', 'project:dataset.table, project.dataset.table, dataset.table or table (of the default dataset; else a dataset, as bq show DATASET)')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .addOption(new Option('--format <format>', 'output format').choices([...CATALOG_FORMATS]).default('pretty'))
    .action(async (table: string, opts: { token?: string; format: string }, cmd: Command) => {
      state.machineErrors = opts.format !== 'pretty';
      const token = cliToken(opts.token);
      let d: TableDescription;
      try {
        d = await withDeployment(cmd, (deployment) => deployment.describeTable(token, table));
      } catch (err) {
        // bq's `show DATASET`: a bare name that is no table the run may read may be a dataset it may list
        if (!BARE_NAME.test(table) || !isHoopqError(err) || (err.exitCode !== 5 && err.exitCode !== 6)) throw err;
        const { runBq } = await import('./bq/bq-command.js');
        const globals = cmd.optsWithGlobals() as { config?: string; quiet?: boolean };
        const args = ['show', `--format=${opts.format === 'pretty' ? 'sparse' : opts.format}`, ...(opts.token ? [`--token=${opts.token}`] : []), '--dataset', table];
        await runBq(args, { config: globals.config, quiet: globals.quiet, state, version: '' }).catch(() => {
          throw err; // neither a table nor a dataset: the table's refusal says more
        });
        return;
      }
      if (opts.format === 'pretty') await printDescription(d);
      else printJson(bqShape(d), opts.format);
    });
}

async function printDescription(d: TableDescription): Promise<void> {
  const [project, dataset, table] = d.table.split('.') as [string, string, string];
  process.stdout.write(`${d.kind === 'view' ? 'View' : 'Table'} ${project}:${dataset}.${table} (policy ${d.policy})\n\n`);
  await printPretty(['column', 'type', 'mask'], d.columns.map((c) => [c.name, c.type, c.mask ?? '']));
  const sources = Object.entries(d.maskedSources);
  if (sources.length > 0) process.stdout.write(`masked at the tables this view reads: ${sources.map(([c, m]) => `${c} (${m})`).join(', ')}\n`);
  if (d.detect.length > 0) process.stdout.write(`returned text is scanned for: ${d.detect.join(', ')}\n`);
}

function bqShape(d: TableDescription): unknown {
  const [projectId, datasetId, tableId] = d.table.split('.') as [string, string, string];
  return {
    kind: 'bigquery#table',
    id: `${projectId}:${datasetId}.${tableId}`,
    tableReference: { projectId, datasetId, tableId },
    type: d.kind.toUpperCase(),
    // bq's tables.get field shape (INTEGER, RECORD, mode, nested fields), plus hoopq's mask
    schema: { fields: d.fields.map((f, i) => ({ ...f, ...(d.columns[i]?.mask ? { mask: d.columns[i]!.mask } : {}) })) },
    hoopq: {
      policy: d.policy,
      masked_columns: Object.fromEntries(d.columns.filter((c) => c.mask).map((c) => [c.name, c.mask])),
      masked_at_source: d.maskedSources,
      detect: d.detect,
    },
  };
}
