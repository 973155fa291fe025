/**
 * The hoopq command line: commander wiring and the single top-level catch. Each command lives
 * in its own file and only parses flags, builds parts through the composition root
 * (cli-context.ts) and calls a pipeline function. Only this file calls process.exit.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAuditCommands } from './audit-command.js';
import { registerExplainCommand } from './explain-command.js';
import { registerGatewayCommand } from './gateway-command.js';
import { registerKeysCommands } from './keys-command.js';
import { registerLsCommand } from './ls-command.js';
import { registerMcpCommand } from './mcp-command.js';
import { registerPolicyCommands } from './policy-command.js';
import { registerQueryCommand } from './query-command.js';
import { registerQuickstartCommand } from './quickstart-command.js';
import { registerReplayCommand } from './replay-command.js';
import { registerShowCommand } from './show-command.js';
import { reportError } from './report-error.js';
import { registerTokenCommands } from './token-command.js';
import { normaliseBqFlags } from './bq-flags.js';

export interface CliState {
  /** Whether the running command asked for machine output (errors as JSON on stderr). */
  machineErrors: boolean;
}

export function buildProgram(state: CliState): Command {
  const program = new Command('hoopq')
    .description('Governed SQL for AI agents: run tokens, SQL analysis, policy, masking and a tamper-evident audit log')
    .version(readVersion())
    .option('--config <file>', 'configuration file (default: $HOOPQ_CONFIG, else ./hoopq.yaml)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerQuickstartCommand(program, state);
  registerQueryCommand(program, state);
  registerExplainCommand(program, state);
  registerPolicyCommands(program, state);
  registerTokenCommands(program, state);
  registerKeysCommands(program, state);
  registerAuditCommands(program, state);
  registerReplayCommand(program, state);
  registerGatewayCommand(program, state);
  registerLsCommand(program, state);
  registerShowCommand(program, state);
  registerMcpCommand(program, state);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const state: CliState = { machineErrors: false };
  const program = buildProgram(state);
  let code = 0;
  try {
    await program.parseAsync(normaliseBqFlags(argv));
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

