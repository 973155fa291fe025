/** `hoopq replay ID [--execute]`: the recorded query against today's policy. */
import type { Command } from 'commander';
import { findAuditRecord, listAuditRecords } from '../audit/read-audit-log.js';
import { ConfigError, UsageError } from '../errors.js';
import { replayQuery } from '../pipeline/replay-query.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';
import { issueRunToken } from './token-command.js';

export function registerReplayCommand(program: Command, state: CliState): void {
  program
    .command('replay')
    .description('re-check a recorded query against today\'s policy; --execute runs it again under a fresh token and compares the result digest')
    .argument('<id>', 'the audit record id of the query (its intent or its outcome)')
    .option('--execute', 'run it again and compare the result digest (same / differs / now refused)')
    .action(async (id: string, opts: { execute?: boolean }, cmd: Command) => {
      state.machineErrors = true;
      const ctx = loadCliContext(cmd);
      try {
        if (ctx.config.audit.kind !== 'file') throw new ConfigError('config.audit_remote', 'replay needs the audit log file', { hint: 'run replay on the gateway host' });
        const path = ctx.config.audit.path;
        let record = await findAuditRecord(path, id);
        if (!record) throw new UsageError('usage.record_not_found', `no audit record with id ${id}`, { hint: 'hoopq audit list shows the ids' });
        if (record.event === 'query.intent') {
          // the outcome carries rows and digest; an intent without outcome (a crash) replays as is
          for await (const r of listAuditRecords(path, {})) if (r.intent === record.id) record = r;
        }
        const report = await replayQuery(ctx.parts, record, {
          execute: Boolean(opts.execute),
          mintToken: async (policy, run) => (await issueRunToken(ctx, { policy, run, subject: `replay:${record!.id}`, ttlSeconds: 600 })).token,
        });
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } finally {
        await ctx.close();
      }
    });
}
