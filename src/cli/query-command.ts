/**
 * `hoopq query [SQL]`: the main job, with hoopq's own typed output (json-text.ts states the
 * JSON type of every SQL type). Flags per docs/reference.md; bq's spellings are accepted too
 * (bq-flags.ts); `hoopq bq query` is the face that prints exactly what `bq` prints.
 */
import { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { OUTPUT_FORMATS, isMachineFormat, type OutputFormat } from '../output/create-result-writer.js';
import type { QueryParameter } from '../warehouse/warehouse.js';
import type { CliState } from './main.js';
import { progressWanted } from './progress-line.js';
import { cliToken, openQueryTarget, parsePositiveInt } from './query-target.js';
import { readSql } from './read-sql.js';
import { runCliQuery } from './run-cli-query.js';

export function registerQueryCommand(program: Command, state: CliState): void {
  program
    .command('query')
    .description('run SQL under the run token\'s policy: analysed, checked, masked, audited')
    .argument('[sql...]', 'the SQL (several words are joined with spaces, as bq does); "-" or absent reads stdin')
    .option('--file <file>', 'read the SQL from a file')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .option('--justification <text>', 'why this query is needed (default: $HOOPQ_JUSTIFICATION)')
    .addOption(new Option('--format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('pretty'))
    .option('-n, --max-rows <n>', 'return at most N rows (the policy limit still applies)', parsePositiveInt)
    .option('--dry-run', 'analyse, check policy and ask the warehouse for its estimate; run nothing')
    .option('--parameter <name:type:value>', 'a query parameter (repeatable), as bq', collectParameter, [] as QueryParameter[])
    .addHelpText(
      'after',
      [
        '',
        'bq spellings accepted: --use_legacy_sql=false, --nouse_legacy_sql, --max_rows=N, -n N, --dry_run,',
        '--dry_run=true|false, --nodry_run, --format=json. `hoopq bq query …` takes every common bq flag and',
        'prints exactly what bq prints (docs/bq.md).',
        '',
        'Exit codes: 0 ok, 2 usage, 3 config, 4 token, 5 denied by policy, 6 SQL not analysable,',
        '7 warehouse error, 8 audit write failed (nothing ran). See docs/reference.md.',
      ].join('\n'),
    )
    .action(async (words: string[], opts: QueryOpts, cmd: Command) => {
      const format = opts.format as OutputFormat;
      state.machineErrors = isMachineFormat(format);
      const sql = await readSql(words.length > 0 ? words.join(' ') : undefined, opts.file, process.stdin);
      const token = cliToken(opts.token);
      const outcome = await runCliQuery(await openQueryTarget(cmd), {
        sql,
        token,
        justification: opts.justification ?? process.env.HOOPQ_JUSTIFICATION ?? null,
        format,
        maxRows: opts.maxRows,
        dryRun: Boolean(opts.dryRun),
        params: opts.parameter,
        progress: progressWanted(process.stderr, cmd.optsWithGlobals().quiet) && !state.machineErrors,
      });
      if (outcome.dryRun) {
        process.stdout.write(JSON.stringify({ dry_run: true, record: outcome.recordId, ...outcome.dryRun }) + '\n');
      }
    });
}

interface QueryOpts {
  file?: string;
  token?: string;
  justification?: string;
  format: string;
  maxRows?: number;
  dryRun?: boolean;
  parameter: QueryParameter[];
}

/** bq's `--parameter name:type:value`: an empty name is a positional parameter; the type may be omitted (STRING). */
export function collectParameter(v: string, acc: QueryParameter[]): QueryParameter[] {
  const first = v.indexOf(':');
  const second = first === -1 ? -1 : v.indexOf(':', first + 1);
  if (first === -1) throw new UsageError('usage.parameter', `--parameter "${v}" must be name:type:value (as bq)`);
  const name = v.slice(0, first);
  const type = second === -1 ? 'STRING' : v.slice(first + 1, second) || 'STRING';
  const value = second === -1 ? v.slice(first + 1) : v.slice(second + 1);
  return [...acc, { name, type: type.toUpperCase(), value: value === 'NULL' ? null : value }];
}
