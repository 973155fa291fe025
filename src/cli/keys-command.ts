/** `hoopq keys rotate`: a new token signing key; old public keys verify until their tokens expire. */
import type { Command } from 'commander';
import { rotateSigningKey } from '../identity/signing-keys.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';

export function registerKeysCommands(program: Command, _state: CliState): void {
  const keys = program.command('keys').description('token signing keys');
  keys
    .command('rotate')
    .description('create a new current signing key; tokens signed by the old one stay valid until they expire')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        const rotation = await rotateSigningKey(ctx.config.keysDir);
        const sink = await ctx.parts.audit();
        await sink.append(newAuditBody('keys.rotate', ctx.parts.now(), { rotation: JSON.parse(JSON.stringify(rotation)) }));
        process.stdout.write(JSON.stringify(rotation) + '\n');
      } finally {
        await ctx.close();
      }
    });
}
