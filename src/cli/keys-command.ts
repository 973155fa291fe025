/**
 * `hoopq keys rotate`: a new token signing key; old public keys verify until their tokens expire.
 * `hoopq keys rotate --hash-key`: a new key for the `hash` mask; from then on every hashed value
 * differs from before (joins across the rotation no longer match). The old key is kept aside.
 */
import type { Command } from 'commander';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';

export function registerKeysCommands(program: Command, _state: CliState): void {
  const keys = program.command('keys').description('token signing keys and the hash mask key');
  keys
    .command('rotate')
    .description('create a new current signing key; tokens signed by the old one stay valid until they expire (through a gateway: needs $HOOPQ_OPERATOR_KEY)')
    .option('--hash-key', "rotate the `hash` mask's key instead: every hashed value changes from now on")
    .action(async (opts: { hashKey?: boolean }, cmd: Command) => {
      const rotation = await withDeployment<object>(cmd, (deployment) => (opts.hashKey ? deployment.rotateHashKey() : deployment.rotateKeys()));
      process.stdout.write(JSON.stringify(rotation) + '\n');
    });
}
