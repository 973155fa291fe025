/** `hoopq replay ID [--execute]`: the recorded query against today's policy. */
import type { Command } from 'commander';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';

export function registerReplayCommand(program: Command, state: CliState): void {
  program
    .command('replay')
    .description('re-check a recorded query against today\'s policy; --execute runs it again under a fresh token and compares the result digest (through a gateway: needs $HOOPQ_OPERATOR_KEY)')
    .argument('<id>', 'the audit record id of the query (its intent or its outcome)')
    .option('--execute', 'run it again and compare the result digest (same / differs / now refused)')
    .action(async (id: string, opts: { execute?: boolean }, cmd: Command) => {
      state.machineErrors = true;
      const report = await withDeployment(cmd, (deployment) => deployment.replay(id, { execute: Boolean(opts.execute) }));
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    });
}
