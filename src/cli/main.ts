/**
 * The hoopq command line: commander wiring and the single top-level catch. Each command lives
 * in its own file and only parses flags, builds parts through the composition root
 * (cli-context.ts) and calls a pipeline function. Only this file calls process.exit.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { reportError } from './report-error.js';
import { normaliseBqFlags } from './bq-flags.js';

export interface CliState {
  /** Whether the running command asked for machine output (errors as JSON on stderr). */
  machineErrors: boolean;
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
  audit: async () => (await import('./audit-command.js')).registerAuditCommands,
  replay: async () => (await import('./replay-command.js')).registerReplayCommand,
  gateway: async () => (await import('./gateway-command.js')).registerGatewayCommand,
  ls: async () => (await import('./ls-command.js')).registerLsCommand,
  show: async () => (await import('./show-command.js')).registerShowCommand,
  mcp: async () => (await import('./mcp-command.js')).registerMcpCommand,
  sessions: async () => (await import('./sessions-command.js')).registerSessionsCommands,
};

/** Global options that take a value, so the command name can be found after them. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config']);

export async function buildProgram(state: CliState, argv: string[]): Promise<Command> {
  const program = new Command('hoopq')
    .description('Governed SQL for AI agents: run tokens, SQL analysis, policy, masking and a tamper-evident audit log')
    .version(readVersion())
    .option('--config <file>', 'configuration file (default: $HOOPQ_CONFIG, else ./hoopq.yaml)')
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
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

export async function main(argv: string[]): Promise<void> {
  const state: CliState = { machineErrors: false };
  let code = 0;
  try {
    const args = normaliseBqFlags(argv);
    const program = await buildProgram(state, args);
    await program.parseAsync(args);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are successes; every other commander complaint is a usage error
      code = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    } else {
      code = reportError(err, process.stderr, state.machineErrors);
    }
  }
  process.exitCode = code;
  // let stdout drain before exiting; open handles (DuckDB, timers) must not keep us alive
  await new Promise<void>((resolve) => (process.stdout.writableNeedDrain ? process.stdout.once('drain', () => resolve()) : resolve()));
  process.exit(code);
}

function readVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
}

