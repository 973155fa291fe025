/**
 * The hoopq command line: commander wiring and the single top-level catch. Each command lives
 * in its own file and only parses flags, builds parts through the composition root
 * (cli-context.ts) and calls a pipeline function. Only this file calls process.exit.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { reportError } from './report-error.js';
import { normaliseBqFlags } from './bq-flags.js';
import { guardOutputStreams } from './output-streams.js';

export interface CliState {
  /** Whether the running command asked for machine output (errors as JSON on stderr). */
  machineErrors: boolean;
  /** A command that succeeded but exits non-zero on purpose (`explain --exit-code`). */
  exitCode?: number;
}

type Register = (program: Command, state: CliState) => void;

/**
 * Command name -> its registration, loaded on demand: a command only pays for the modules
 * it uses (DuckDB, the MCP SDK, the BigQuery client each take hundreds of milliseconds to
 * load, and agents call hoopq once per query). An explicit map, not import side effects.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  quickstart: async () => (await import('./quickstart-command.js')).registerQuickstartCommand,
  query: async () => (await import('./query-command.js')).registerQueryCommand,
  explain: async () => (await import('./explain-command.js')).registerExplainCommand,
  policy: async () => (await import('./policy-command.js')).registerPolicyCommands,
  token: async () => (await import('./token-command.js')).registerTokenCommands,
  keys: async () => (await import('./keys-command.js')).registerKeysCommands,
  state: async () => (await import('./state-command.js')).registerStateCommands,
  audit: async () => (await import('./audit-command.js')).registerAuditCommands,
  replay: async () => (await import('./replay-command.js')).registerReplayCommand,
  gateway: async () => (await import('./gateway-command.js')).registerGatewayCommand,
  ls: async () => (await import('./ls-command.js')).registerLsCommand,
  show: async () => (await import('./show-command.js')).registerShowCommand,
  mcp: async () => (await import('./mcp-command.js')).registerMcpCommand,
  review: async () => (await import('./review-command.js')).registerReviewCommands,
  operator: async () => (await import('./operator-command.js')).registerOperatorCommands,
  sessions: async () => (await import('./sessions-command.js')).registerSessionsCommands,
  bq: async () => (await import('./bq/bq-command.js')).registerBqCommand,
  shim: async () => (await import('./shim-command.js')).registerShimCommand,
};

/** Global options that take a value (hoopq's, and bq's that an agent may type), so the command name can be found after them. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config', '--format', '--project_id', '--dataset_id', '--location', '--apilog', '--job_id', '--api', '--api_version', '--trace', '--max_rows_per_request', '--httplib2_debuglevel', '--ca_certificates_file']);

const HELP_AFTER = `
Environment:
  HOOPQ_TOKEN          the run token (agents hold nothing else)
  HOOPQ_JUSTIFICATION  why the queries are needed, when the policy asks
  HOOPQ_CONFIG         the configuration file (default ./hoopq.yaml; empty means unset)
  HOOPQ_GATEWAY        the gateway's URL: query, explain, ls, show, bq, mcp and review then
                       ask it and read no configuration at all
  HOOPQ_OPERATOR_KEY   your personal operator key, for hoopq review

Exit codes:
  0 ok · 1 bug · 2 usage · 3 configuration, policy or operating system · 4 token ·
  5 denied by policy · 6 SQL cannot be analysed with certainty · 7 warehouse error ·
  8 audit write failed (nothing ran) · 9 audit verification failed · 10 a policy test failed ·
  11 held for an operator's approval (nothing ran) · 12 the query ran but its outcome could
  not be recorded (do not run it again)
  A pipe closed by its reader (hoopq audit list | head -1) ends quietly with exit 0.

Reference: docs/reference.md (every command, flag, exit code, config and policy key).
`;

export async function buildProgram(state: CliState, argv: string[]): Promise<Command> {
  const program = new Command('hoopq')
    .description('Governed SQL for AI agents: run tokens, SQL analysis, policy, masking and a tamper-evident audit log')
    .version(readVersion())
    .option('--config <file>', 'configuration file (default: $HOOPQ_CONFIG, else ./hoopq.yaml)')
    .option('-q, --quiet', 'no progress lines on stderr (they are drawn only on a terminal anyway)')
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const name = commandName(argv);
  const wanted = name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : Object.keys(COMMANDS);
  for (const register of await Promise.all(wanted.map((n) => COMMANDS[n]!()))) register(program, state);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** The first operand after the global options (argv as given to main: node, script, …). */
function commandName(argv: string[]): string | undefined {
  const i = commandIndex(argv);
  return i === -1 ? undefined : argv[i];
}

function commandIndex(argv: string[]): number {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return -1;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return i;
  }
  return -1;
}

export async function main(argv: string[]): Promise<void> {
  const state: CliState = { machineErrors: false };
  const output = guardOutputStreams();
  let code = 0;
  try {
    const at = commandIndex(argv);
    if (at !== -1 && (argv[at] === 'bq' || argv[at] === 'head' || bqGlobalsBefore(argv, at))) {
      // bq's own flag syntax (absl): parsed by the bq face itself, not by commander
      const { runBq } = await import('./bq/bq-command.js');
      // `hoopq bq ARGS`; `hoopq head` (bq's command); bq's own global flags before query/ls/show/head: bq's syntax, bq's face
      const rest = argv[at] === 'bq' ? argv.slice(at + 1) : argv.slice(2);
      const before = argv[at] === 'bq' ? hoopqGlobals(argv.slice(2, at)) : {};
      await runBq(rest, { ...before, state, version: readVersion() });
    } else {
      const args = normaliseBqFlags(argv);
      const program = await buildProgram(state, args);
      const bqFlag = at !== -1 && BQ_FACE_COMMANDS.has(argv[at]!) ? unknownFlagOf(program, args) : undefined;
      const bq = bqFlag ? await import('./bq/bq-command.js') : undefined;
      if (bq && bqFlag && bq.isBqFlag(bqFlag, argv[at] as 'query' | 'ls' | 'show')) {
        // `hoopq query --maximum_bytes_billed=…`, `hoopq ls -a`, `hoopq show --schema T`: a flag only bq has, so bq's face
        await bq.runBq(argv.slice(2), { state, version: readVersion() });
      } else {
        await program.parseAsync(args);
      }
    }
  } catch (err) {
    if (output.isStdoutClosed()) {
      code = 0; // the reader went away (`| head -1`): how pipelines end, not a failure
    } else if (err instanceof CommanderError) {
      // help and version are successes; every other commander complaint is a usage error
      code = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    } else {
      code = reportError(output.stdoutError() ?? err, process.stderr, state.machineErrors);
    }
  }
  if (code === 0 && output.stdoutError()) code = reportError(output.stdoutError(), process.stderr, state.machineErrors);
  if (code === 0 && state.exitCode !== undefined) code = state.exitCode;
  process.exitCode = code;
  // let stdout drain before exiting; open handles (DuckDB, timers) must not keep us alive
  await new Promise<void>((resolve) => {
    if (process.stdout.destroyed || !process.stdout.writableNeedDrain) return resolve();
    process.stdout.once('drain', () => resolve());
    process.stdout.once('close', () => resolve());
    process.stdout.once('error', () => resolve());
  });
  process.exit(code);
}

const BQ_FACE_COMMANDS = new Set(['query', 'ls', 'show', 'head']);
/** bq's global flags that are not also hoopq's (--config, -q and --quiet are both). */
const BQ_ONLY_GLOBALS = /^--(format|project_id|dataset_id|location|headless|apilog|job_id|synchronous_mode|sync|max_rows_per_request|api|api_version|use_regional_endpoints|enable_gdrive|fingerprint_job_id|trace|httplib2_debuglevel|ca_certificates_file|debug_mode|nodebug_mode|noheadless)(=|$)/;

/** `hoopq --format=json query …`: an agent typing bq's global flags before a bq command gets bq's face. */
function bqGlobalsBefore(argv: string[], at: number): boolean {
  return BQ_FACE_COMMANDS.has(argv[at]!) && argv.slice(2, at).some((a) => BQ_ONLY_GLOBALS.test(a));
}

/** The first flag after the command that neither hoopq nor the command defines (values of known flags skipped). */
function unknownFlagOf(program: Command, args: string[]): string | undefined {
  const at = commandIndex(args);
  const command = program.commands.find((c) => c.name() === args[at]);
  if (!command) return undefined;
  const options = [...program.options, ...command.options];
  for (let i = at + 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (!/^-[A-Za-z-]/.test(a) || a === '-h' || a === '--help') continue;
    const name = a.replace(/=[\s\S]*$/, '');
    const known = options.find((o) => o.long === name || o.short === name);
    if (!known) return a;
    if ((known.required || known.optional) && !a.includes('=')) i++;
  }
  return undefined;
}

/** hoopq's own --config and -q/--quiet given before `bq`. */
function hoopqGlobals(args: string[]): { config?: string; quiet?: boolean } {
  const out: { config?: string; quiet?: boolean } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config') out.config = args[++i];
    else if (a.startsWith('--config=')) out.config = a.slice('--config='.length);
    else if (a === '-q' || a === '--quiet') out.quiet = true;
  }
  return out;
}

function readVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
}

