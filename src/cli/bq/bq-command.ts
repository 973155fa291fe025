/**
 * `hoopq bq …` (and the `bq` command `hoopq shim install DIR` creates): a face that takes
 * what an agent used to `bq` types — bq's global flags, `query`, `ls`, `show`, `head` with
 * their common flags — and prints bq's output shapes exactly, while every request goes
 * through the same token, policy, masks and audit as `hoopq query`. Flags hoopq cannot honour
 * are refused with one line (parse-bq-args.ts). Exit codes are hoopq's (docs/reference.md).
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { resolveConfigPath } from '../cli-context.js';
import type { CliState } from '../main.js';
import { progressWanted } from '../progress-line.js';
import { runBqHead, runBqQuery } from './bq-query.js';
import { runBqLs, runBqShow } from './bq-catalog.js';
import { parseBqArgs, type ParsedBqArgs } from './parse-bq-args.js';

export { isBqFlag } from './parse-bq-args.js';

export const BQ_FORMATS = ['none', 'pretty', 'sparse', 'json', 'prettyjson', 'csv'] as const;
export type BqFormat = (typeof BQ_FORMATS)[number];

/** What a bq subcommand needs from the command line, parsed once. */
export interface BqInvocation {
  args: string[];
  flags: ParsedBqArgs['flags'];
  format: BqFormat;
  configPath: string;
  token: string | undefined;
  justification: string | null;
  projectId?: string;
  datasetId?: string;
  progress: boolean;
  state: CliState;
}

export interface BqEnvironment {
  /** hoopq's own --config given before `bq`. */
  config?: string;
  /** hoopq's own -q/--quiet given before `bq`. */
  quiet?: boolean;
  state: CliState;
  version: string;
}

export function registerBqCommand(program: Command, state: CliState): void {
  program
    .command('bq')
    .description('a bq-compatible face: bq\'s global flags and query, ls, show, head, with bq\'s output formats (docs/bq.md)')
    .argument('[args...]', 'what you would give bq: [GLOBAL FLAGS] COMMAND [FLAGS] [ARGS]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as { config?: string; quiet?: boolean };
      await runBq(args, { config: globals.config, quiet: globals.quiet, state, version: program.version() ?? '0.0.0' });
    });
}

export async function runBq(argv: readonly string[], env: BqEnvironment): Promise<void> {
  const parsed = parseBqArgs(argv);
  const format = formatOf(parsed, parsed.command);
  env.state.machineErrors = format === 'json' || format === 'prettyjson';
  if (parsed.command === undefined || parsed.command === 'help') {
    process.stdout.write(BQ_HELP);
    if (parsed.command === undefined) throw new UsageError('usage.bq_command', 'bq: give a command: query, ls, show or head', { hint: 'hoopq bq help lists them' });
    return;
  }
  if (parsed.command === 'version') {
    process.stdout.write(`This is hoopq bq, the bq-compatible face of hoopq ${env.version}\n`);
    return;
  }
  const flag = (name: string) => (typeof parsed.flags[name] === 'string' ? (parsed.flags[name] as string) : undefined);
  const quiet = env.quiet === true || parsed.flags.quiet === true;
  const invocation: BqInvocation = {
    args: parsed.args,
    flags: parsed.flags,
    format,
    configPath: resolveConfigPath(flag('config') ?? env.config),
    token: flag('token'),
    justification: flag('justification') ?? process.env.HOOPQ_JUSTIFICATION ?? null,
    projectId: flag('project_id'),
    datasetId: flag('dataset_id'),
    progress: progressWanted(process.stderr, quiet) && !env.state.machineErrors,
    state: env.state,
  };
  // flags accepted without effect (--headless, --location …) stay silent, as bq is; docs/bq.md lists them
  switch (parsed.command) {
    case 'query':
      return runBqQuery(invocation);
    case 'head':
      return runBqHead(invocation);
    case 'ls':
      return runBqLs(invocation);
    case 'show':
      return runBqShow(invocation);
  }
}

/** --format, else bq's default for the command: pretty for query and head, sparse for ls and show. */
function formatOf(parsed: ParsedBqArgs, command: ParsedBqArgs['command']): BqFormat {
  const given = parsed.flags.format;
  if (typeof given === 'string') {
    if (!(BQ_FORMATS as readonly string[]).includes(given)) {
      throw new UsageError('usage.bq_format', `bq: --format must be one of ${BQ_FORMATS.join(', ')}, not "${given}"`, { rule: 'format' });
    }
    return given as BqFormat;
  }
  return command === 'ls' || command === 'show' ? 'sparse' : 'pretty';
}

/** A whole number flag (-n, -s, --maximum_bytes_billed), or the default. */
export function intFlag(inv: BqInvocation, name: string, fallback: number | undefined, min = 0): number | undefined {
  const v = inv.flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError('usage.bq_flag_value', `bq flag --${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${String(v)}"`);
  }
  return n;
}

const BQ_HELP = `hoopq bq: the bq-compatible face of hoopq. Every request goes through the run token
($HOOPQ_TOKEN), the policy, the masks and the audit log, as hoopq query does.

Usage: hoopq bq [GLOBAL FLAGS] COMMAND [FLAGS] [ARGS]

Commands:
  query [--nouse_legacy_sql] [-n N] [--dry_run] [--parameter name:type:value] SQL…
  ls [-n N] [-d] [PROJECT:DATASET]
  show [--schema] [-d] [PROJECT:]DATASET[.TABLE]
  head [-n N] [-s START] [-c COL,…] [PROJECT:]DATASET.TABLE

Global flags: --format=none|pretty|sparse|json|prettyjson|csv, --project_id=P, --dataset_id=D,
  -q/--quiet, --headless, --location, --apilog (the last three have no effect), --token, --justification.

Exit codes are hoopq's: 0 ok, 2 usage, 3 config, 4 token, 5 denied by policy, 6 SQL not
analysable, 7 warehouse error, 8 audit write failed. See docs/bq.md for every flag.
`;
