/**
 * `hoopq policy backtest --policy NEW [--since 30d] [--run ID]`: replays the recorded queries
 * of the audit log against a proposed policy offline and reports what would change. NEW is a
 * policy file (any file name: a proposal need not be in place yet) or the name of a configured
 * policy. By default the records of the policy with NEW's name are replayed (every query's,
 * when the log holds none of that name: a new policy).
 */
import { describeAuditLog, withAuditLogFile, type AuditLogSource } from '../audit/audit-log-source.js';
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { readSqlSealKey } from '../audit/seal-sql.js';
import { ConfigError, UsageError } from '../errors.js';
import { loadPolicy } from '../policy/load-policy.js';
import type { Policy } from '../policy/policy.js';
import { formatBacktestText } from '../output/backtest-report.js';
import { backtestPolicy } from '../pipeline/backtest-policy.js';
import { nameDefaultsFor } from '../pipeline/decide-offline.js';
import { MemoizingWarehouse } from '../pipeline/memoizing-warehouse.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';
import { loadCliContext } from './cli-context.js';
import { parseTime } from './parse-time.js';
import { createProgressLine, formatCount, progressWanted } from './progress-line.js';

interface BacktestOptions {
  policy?: string;
  since?: string;
  run?: string;
  recordedPolicy?: string;
  allPolicies?: boolean;
  file?: string;
  format: string;
  jobs?: string;
}

export function registerPolicyBacktestCommand(policy: Command): void {
  policy
    .command('backtest')
    .description('replay the queries recorded in the audit log against a proposed policy, offline, and report every decision that would change')
    .requiredOption('--policy <new>', 'the proposed policy: a file, or the name of a configured policy')
    .option('--since <time>', 'only records at or after this time: RFC 3339, or a duration ago (30d, 24h)')
    .option('--run <run>', 'only the records of this run')
    .option('--recorded-policy <name>', "replay the records of this policy (default: the proposed policy's name)")
    .option('--all-policies', 'replay every query record, whatever policy it ran under')
    .option('--file <file>', 'the audit log (default: the configured file sink)')
    .option('--format <format>', 'text or json', 'text')
    .option('--jobs <n>', 'read-only warehouse connections deciding new SQL texts at once (default: the CPUs, at most 4)')
    .action(async (opts: BacktestOptions, cmd: Command) => {
      if (opts.format !== 'text' && opts.format !== 'json') {
        throw new UsageError('usage.format', `--format must be text or json, not "${opts.format}"`, { hint: 'hoopq policy backtest --policy policies/NAME.yaml --format json' });
      }
      if (opts.allPolicies && opts.recordedPolicy !== undefined) {
        throw new UsageError('usage.backtest_scope', '--recorded-policy and --all-policies cannot be used together', { hint: 'pick one scope' });
      }
      const since = opts.since !== undefined ? parseTime(opts.since) : undefined;
      const jobs = opts.jobs === undefined ? Math.min(4, availableParallelism()) : Number(opts.jobs);
      if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError('usage.jobs', `--jobs must be a whole number from 1 to 64, not "${opts.jobs}"`);
      const ctx = loadCliContext(cmd);
      try {
        const proposed = proposedPolicy(ctx.parts, opts.policy!);
        const source: AuditLogSource = opts.file !== undefined ? { kind: 'file', path: resolve(opts.file) } : configuredLog(ctx.parts);
        await withAuditLogFile(source, async (logPath) => {
          if (!existsSync(logPath)) throw new UsageError('usage.no_audit_log', `no audit log at ${describeAuditLog(source)}`, { hint: 'pass --file AUDIT.jsonl, or run queries first' });
          const warehouses: MemoizingWarehouse[] = [];
          try {
            for (let i = 0; i < jobs; i++) warehouses.push(new MemoizingWarehouse(await ctx.parts.openWarehouse({ writable: false, policy: proposed })));
            let replayed = 0;
            const line = createProgressLine(process.stderr, {
              label: 'policy backtest',
              enabled: progressWanted(process.stderr, cmd.optsWithGlobals().quiet) && opts.format !== 'json',
              detail: () => `${formatCount(replayed, 'query', 'queries')} replayed`,
            });
            const report = await backtestPolicy({
              onReplayed: (n) => void (replayed = n),
              logPath,
              logName: describeAuditLog(source),
              policy: proposed,
              warehouses,
              names: nameDefaultsFor(ctx.config, warehouses[0]!),
              sealKey: readSqlSealKey(ctx.config.keysDir),
              recordedPolicy: opts.allPolicies ? null : (opts.recordedPolicy ?? proposed.name),
              allWhenNoRecords: !opts.allPolicies && opts.recordedPolicy === undefined,
              since,
              run: opts.run,
            }).finally(() => line.stop());
            process.stdout.write(opts.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatBacktestText(report));
            if (report.skipped.sealed_sql_unreadable > 0) {
              process.stderr.write(`hoopq: note: ${report.skipped.sealed_sql_unreadable} record(s) with sealed SQL were skipped: the sealing key of this deployment (${ctx.config.keysDir}/audit-sql.key) is missing or is not the one they were sealed with\n`);
            }
          } finally {
            for (const w of warehouses) await w.close();
          }
        });
      } finally {
        await ctx.close();
      }
    });
}

/** A file path (the name inside need not match the file name: it is a proposal), else a configured policy's name. */
function proposedPolicy(parts: PipelineParts, given: string): Policy {
  const path = resolve(given);
  if (existsSync(path) && statSync(path).isFile()) return loadPolicy(path, { nameMatchesFile: false });
  if (/[/\\]|\.ya?ml$/.test(given)) throw new UsageError('usage.no_such_file', `--policy ${given}: no such file`, { hint: 'give a policy file or the name of a configured policy' });
  const configured = parts.policies.get(given);
  if (!configured) {
    throw new UsageError('usage.unknown_policy', `--policy ${given}: no such file, and no configured policy of that name`, {
      hint: `give a policy file, or one of: ${parts.policies.names().join(', ') || '(no policies)'}`,
    });
  }
  return configured;
}

function configuredLog(parts: PipelineParts): AuditLogSource {
  const audit = parts.config.audit;
  if (audit.kind === 'gateway') {
    throw new ConfigError('config.audit_remote', `the audit log is kept by the gateway at ${audit.url}`, { hint: 'run the backtest on the gateway host, or pass --file with a copy of the log' });
  }
  return audit;
}
