/**
 * `hoopq operator add|list|remove`: personal operator keys, run on the gateway host (it needs
 * the deployment's config and state). A key is printed once, on stdout, and stored only as
 * its SHA-256. Every change is an audit record.
 */
import { Command } from 'commander';
import { newAuditBody } from '../pipeline/audit-body.js';
import { UsageError } from '../errors.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';
import { safeUser } from './token-command.js';

export function registerOperatorCommands(program: Command, _state: CliState): void {
  const operator = program.command('operator').description('personal operator keys: who approves held queries and uses the console (docs/approvals.md)');

  operator
    .command('add')
    .description('create (or replace) NAME\'s personal key and print it once')
    .argument('<name>', 'the person, e.g. alice or alice@example.com (how the audit log and the console name them)')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        const key = ctx.operators().addKey(name);
        await (await ctx.parts.audit()).append(newAuditBody('operator.add', ctx.parts.now(), { subject: `operator:${safeUser()}`, operator: { name, auth: 'key' } }));
        process.stdout.write(key + '\n');
        process.stderr.write(`hoopq: ${name}'s operator key is above; it is shown only now. Give it to ${name} only (store it as a 0600 file or in a secret manager).\n`);
      } finally {
        await ctx.close();
      }
    });

  operator
    .command('list')
    .description('operators with a personal key (never the keys)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        for (const o of ctx.operators().list()) process.stdout.write(`${o.name}\tkey created ${o.createdAt}\n`);
      } finally {
        await ctx.close();
      }
    });

  operator
    .command('remove')
    .description('remove NAME\'s key; it stops working at once')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        if (!ctx.operators().remove(name)) throw new UsageError('usage.unknown_operator', `no operator named ${name}`, { hint: 'hoopq operator list shows them' });
        await (await ctx.parts.audit()).append(newAuditBody('operator.remove', ctx.parts.now(), { subject: `operator:${safeUser()}`, operator: { name, auth: 'key' } }));
        process.stderr.write(`hoopq: removed ${name}'s operator key\n`);
      } finally {
        await ctx.close();
      }
    });
}
