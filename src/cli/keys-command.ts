/** `hoopq keys rotate`: a new token signing key; old public keys verify until their tokens expire. */
import type { Command } from 'commander';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';

export function registerKeysCommands(program: Command, _state: CliState): void {
  const keys = program.command('keys').description('token signing keys');
  keys
    .command('rotate')
    .description('create a new current signing key; tokens signed by the old one stay valid until they expire (through a gateway: needs $HOOPQ_OPERATOR_KEY)')
    .action(async (_opts: unknown, cmd: Command) => {
      const rotation = await withDeployment(cmd, (deployment) => deployment.rotateKeys());
      process.stdout.write(JSON.stringify(rotation) + '\n');
    });
}
