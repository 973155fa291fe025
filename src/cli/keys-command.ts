/**
 * `hoopq keys rotate`: a new token signing key; old public keys verify until their tokens expire.
 * `hoopq keys rotate --hash-key`: a new key for the `hash` mask; from then on every hashed value
 * differs from before (joins across the rotation no longer match). The old key is kept aside.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { rotateSigningKey } from '../identity/signing-keys.js';
import { HASH_KEY_FILE, rotateSecretKey, secretKeyBytes } from '../gateway/secret-key-file.js';
import { hashKeyFromSecret } from '../masking/hash-key.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';

export function registerKeysCommands(program: Command, _state: CliState): void {
  const keys = program.command('keys').description('token signing keys and the hash mask key');
  keys
    .command('rotate')
    .description('create a new current signing key; tokens signed by the old one stay valid until they expire')
    .option('--hash-key', "rotate the `hash` mask's key instead: every hashed value changes from now on")
    .action(async (opts: { hashKey?: boolean }, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        if (opts.hashKey) {
          const rotated = rotateSecretKey(join(ctx.config.keysDir, HASH_KEY_FILE), 'hqhk', ctx.parts.now());
          const idOf = (text: string | null) => (text === null ? null : hashKeyFromSecret(secretKeyBytes(text)).id);
          const rotation = { hash_key: { previous: idOf(rotated.previous), current: idOf(rotated.current) } };
          const sink = await ctx.parts.audit();
          await sink.append(newAuditBody('keys.rotate', ctx.parts.now(), { rotation }));
          process.stdout.write(JSON.stringify(rotation) + '\n');
          return;
        }
        const rotation = await rotateSigningKey(ctx.config.keysDir);
        const sink = await ctx.parts.audit();
        await sink.append(newAuditBody('keys.rotate', ctx.parts.now(), { rotation: JSON.parse(JSON.stringify(rotation)) }));
        process.stdout.write(JSON.stringify(rotation) + '\n');
      } finally {
        await ctx.close();
      }
    });
}
