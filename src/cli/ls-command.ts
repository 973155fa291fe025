/**
 * `hoopq ls [project:dataset]`: bq's `ls`, filtered by the run token's policy. Without an
 * argument it lists the datasets that hold a table the run may read; with one, the tables
 * and views of that dataset it may read, with the columns a query of each gets masked.
 * Tables the policy denies or does not name are never shown. `--format json|prettyjson`
 * gives bq's shapes (`tableReference`, `datasetReference`) plus hoopq's `masked_columns`.
 * In gateway mode the gateway lists (GET /v1/tables) and this prints its answer identically.
 */
import { Command, Option } from 'commander';
import { createResultWriter } from '../output/create-result-writer.js';
import type { ListedTable } from '../pipeline/list-tables.js';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';
import { cliToken, parsePositiveInt } from './query-target.js';

export const CATALOG_FORMATS = ['pretty', 'json', 'prettyjson'] as const;

export function registerLsCommand(program: Command, state: CliState): void {
  program
    .command('ls')
    .description('list the datasets, or the tables of a dataset, that the run token\'s policy lets it read (as bq ls)')
    .argument('[dataset]', 'project:dataset, project.dataset or dataset; absent: list datasets')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .addOption(new Option('--format <format>', 'output format').choices([...CATALOG_FORMATS]).default('pretty'))
    .option('-n, --max_results <n>', 'list at most N entries (as bq)', parsePositiveInt)
    .action(async (dataset: string | undefined, opts: { token?: string; format: string; max_results?: number }, cmd: Command) => {
      state.machineErrors = opts.format !== 'pretty';
      const token = cliToken(opts.token);
      const listing = await withDeployment(cmd, (deployment) => deployment.listTables(token, dataset));
      if (dataset === undefined) await printDatasets(listing.tables, opts.format, opts.max_results);
      else await printTables(listing.tables.slice(0, opts.max_results), opts.format);
    });
}

async function printDatasets(tables: ListedTable[], format: string, max: number | undefined): Promise<void> {
  const datasets = [...new Set(tables.map((t) => t.name.slice(0, t.name.lastIndexOf('.'))))].sort().slice(0, max);
  if (format === 'pretty') {
    await printPretty(['datasetId'], datasets.map((d) => [d.split('.')[1]!]));
    return;
  }
  const json = datasets.map((d) => {
    const [projectId, datasetId] = d.split('.') as [string, string];
    return { kind: 'bigquery#dataset', id: `${projectId}:${datasetId}`, datasetReference: { projectId, datasetId } };
  });
  printJson(json, format);
}

async function printTables(tables: ListedTable[], format: string): Promise<void> {
  if (format === 'pretty') {
    await printPretty(
      ['tableId', 'Type', 'Masked columns'],
      tables.map((t) => [t.name.split('.')[2]!, t.kind.toUpperCase(), maskList(t)]),
    );
    return;
  }
  const json = tables.map((t) => {
    const [projectId, datasetId, tableId] = t.name.split('.') as [string, string, string];
    return {
      kind: 'bigquery#table',
      id: `${projectId}:${datasetId}.${tableId}`,
      tableReference: { projectId, datasetId, tableId },
      type: t.kind.toUpperCase(),
      masked_columns: ownMasks(t),
    };
  });
  printJson(json, format);
}

/** Masks by column name for the table's own columns, by full name for a view's sources. */
export function ownMasks(t: { name: string; masked: Record<string, string> }): Record<string, string> {
  const prefix = t.name + '.';
  return Object.fromEntries(Object.entries(t.masked).map(([c, m]) => [c.startsWith(prefix) ? c.slice(prefix.length) : c, m]));
}

function maskList(t: ListedTable): string {
  return Object.entries(ownMasks(t))
    .map(([c, m]) => `${c} (${m})`)
    .join(', ');
}

export async function printPretty(headers: string[], rows: string[][]): Promise<void> {
  const writer = createResultWriter('pretty', process.stdout, headers.map((name) => ({ name, type: 'VARCHAR' })));
  await writer.writeBatch(rows);
  await writer.end();
}

export function printJson(value: unknown, format: string): void {
  process.stdout.write(JSON.stringify(value, null, format === 'prettyjson' ? 2 : undefined) + '\n');
}
