/** `hoopq explain [SQL]`: what query would decide and why, as JSON or a short report. Runs nothing, writes no audit. */
import { Option, type Command } from 'commander';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';
import { cliToken } from './query-target.js';
import { readSql } from './read-sql.js';
import type { Explanation } from '../pipeline/explain-query.js';
import { formatExplanationPretty } from '../output/explanation-report.js';

export function registerExplainCommand(program: Command, state: CliState): void {
  program
    .command('explain')
    .description('print, as JSON, what `query` would decide and why (statements, tables, masks, decision, rule)')
    .argument('[sql]', 'the SQL; "-" or absent reads stdin')
    .option('--file <file>', 'read the SQL from a file')
    .option('--token <token>', 'run token (default: $HOOPQ_TOKEN)')
    .option('--policy <name>', 'explain under this policy instead of a token\'s')
    .option('--justification <text>', 'justification to assume (default: $HOOPQ_JUSTIFICATION)')
    .option('--offline', 'no call to the warehouse (no dry run): analysis and policy alone')
    .addOption(new Option('--format <format>', 'json, prettyjson, or pretty (a short report for people)').choices(['json', 'prettyjson', 'pretty']).default('json'))
    .option('--exit-code', 'exit with the code query would (0 allowed; 4, 5, 6 or 7 refused), after printing the explanation')
    .action(async (sqlArg: string | undefined, opts: { file?: string; token?: string; policy?: string; justification?: string; offline?: boolean; format: string; exitCode?: boolean }, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      const sql = await readSql(sqlArg, opts.file, process.stdin);
      // --token wins over --policy; a --policy what-if through a gateway is authorised by $HOOPQ_TOKEN
      const byPolicy = opts.token === undefined && opts.policy !== undefined;
      const explanation = await withDeployment(cmd, (deployment) =>
        deployment.explain({
          sql,
          token: byPolicy ? process.env.HOOPQ_TOKEN || undefined : cliToken(opts.token),
          policy: byPolicy ? opts.policy : undefined,
          justification: opts.justification ?? process.env.HOOPQ_JUSTIFICATION ?? null,
          offline: Boolean(opts.offline),
        }),
      );
      process.stdout.write(render(explanation, opts.format));
      if (opts.exitCode) state.exitCode = exitCodeOf(explanation);
    });
}

function render(explanation: Explanation, format: string): string {
  if (format === 'pretty') return formatExplanationPretty(explanation);
  return JSON.stringify(explanation, null, format === 'prettyjson' ? 2 : undefined) + '\n';
}

/** The explanation's `exit_code` (what query would exit with); a gateway answer without one is a bad answer, not a pass. */
function exitCodeOf(explanation: unknown): number {
  const code = (explanation as { exit_code?: unknown } | null)?.exit_code;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 9 ? code : 1;
}
