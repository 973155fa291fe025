/**
 * `hoopq audit verify|list|show|export`: read and check the audit log. `verify` exits 9 and
 * names the first bad line when the log was edited, reordered, cut or re-hashed. The log is
 * the deployment's own (through a gateway: read and verified there, with $HOOPQ_OPERATOR_KEY),
 * or a copy given with --file, read here.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { toOcsf } from '../audit/export-ocsf.js';
import { loadOrCreateSqlSealKey, unsealRecord } from '../audit/seal-sql.js';
import { terminalJson, terminalText } from '../output/terminal-text.js';
import { listAuditRecords, requireAuditRecord, type AuditFilter } from '../audit/read-audit-log.js';
import { readCheckpointWitness } from '../audit/read-checkpoint-witness.js';
import { verifyAuditLogOf, type AuditLogSource } from '../audit/audit-log-source.js';
import { verifyReportToError, type VerifyReport } from '../audit/verify-audit-log.js';
import { ConfigError, UsageError } from '../errors.js';
import type { AuditVisitor } from '../pipeline/deployment.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';
import { withDeployment } from './open-deployment.js';
import { parseTime } from './parse-time.js';
import { writeOut } from './output-streams.js';
import { createProgressLine, formatCount, progressWanted } from './progress-line.js';

export function registerAuditCommands(program: Command, state: CliState): void {
  const audit = program.command('audit').description('the audit log: verify, list, show, export');

  audit
    .command('verify')
    .description('check the whole log: every line parses, the chain is unbroken, checkpoints hold, nothing is missing at the end')
    .option('--file <file>', 'the log to verify (default: the configured sink); its checkpoints are read from FILE.checkpoints')
    .option('--keys <dir>', 'the folder holding the trusted audit-checkpoint-<kid>.pub files (default: the configured keys folder)')
    .option('--signatures <which>', 'check every checkpoint signature (all), or only the newest (latest: faster on direct-mode logs, which have one checkpoint per process; every checkpoint is still compared with the log)', 'all')
    .option('--witness <file-or-url>', 'a second copy of the checkpoints to compare with: a file (default: audit_witness of the configured log) or a gateway URL (its newest checkpoint, GET /v1/audit/checkpoint)')
    .option('--allow-no-checkpoint', 'accept a log with records and no signed checkpoint (a warning instead of exit 9), e.g. one written with checkpoints off')
    .option('--format <format>', 'pretty or json', 'pretty')
    .action(async (opts: { file?: string; keys?: string; signatures: string; witness?: string; allowNoCheckpoint?: boolean; format: string }, cmd: Command) => {
      state.machineErrors = opts.format === 'json';
      if (opts.signatures !== 'all' && opts.signatures !== 'latest') {
        throw new UsageError('usage.signatures', `--signatures must be all or latest, not "${opts.signatures}"`, { hint: 'all checks every checkpoint signature; latest only the newest' });
      }
      // --keys: a copy of the log can be verified away from the deployment, trusting only the
      // public keys given (the config's keys folder would otherwise be the only trust anchor)
      const signatures = opts.signatures as 'all' | 'latest';
      const allowNoCheckpoint = Boolean(opts.allowNoCheckpoint);
      let checked = 0;
      const line = createProgressLine(process.stderr, {
        label: 'audit verify',
        enabled: progressWanted(process.stderr, cmd.optsWithGlobals().quiet) && opts.format !== 'json',
        detail: () => `${formatCount(checked, 'record')} checked`,
      });
      const onRecords = (n: number) => void (checked = n);
      let report: VerifyReport;
      try {
        if (opts.file !== undefined || opts.keys !== undefined) {
          const { source, keyDir } = opts.keys ? { source: logLocation(cmd, opts.file, false).source, keyDir: resolve(opts.keys) } : logLocation(cmd, opts.file);
          if (opts.keys && !existsSync(keyDir!)) throw new UsageError('usage.keys_dir', `--keys ${opts.keys}: no such folder`, { hint: 'give the folder that holds audit-checkpoint-<kid>.pub' });
          const witnessSource = opts.witness ?? (opts.file ? undefined : configuredWitness(cmd));
          const witness = witnessSource === undefined ? undefined : await readCheckpointWitness(witnessSource);
          report = await verifyAuditLogOf(source, { keyDir, signatures, witness, allowNoCheckpoint, onRecords });
        } else {
          // the deployment's own log, verified where it lies (through a gateway: by the gateway, against its audit_witness)
          report = await withDeployment(cmd, (deployment) => deployment.verifyAudit({ signatures, witness: opts.witness, allowNoCheckpoint, onRecords }));
        }
      } finally {
        line.stop();
      }
      const path = report.file;
      if (opts.format === 'json') process.stdout.write(JSON.stringify(report) + '\n');
      if (!report.ok) throw verifyReportToError(report, path);
      if (opts.format !== 'json') {
        process.stdout.write(`ok ${path}: ${report.records} records, chain intact, ${report.checkpoints.verified} signed checkpoint(s) verified\n`);
        for (const r of report.recoveries) process.stderr.write(`hoopq: note: ${describeRecovery(r)}\n`);
        for (const w of report.warnings) process.stderr.write(`hoopq: warning: ${w}\n`);
      }
    });

  audit
    .command('list')
    .description('list records (newest last), filtered')
    .option('--run <run>', 'only this run')
    .option('--decision <decision>', 'allow, deny or error')
    .option('--policy <name>', 'only this policy')
    .option('--event <event>', 'only this event (query, token.mint, …)')
    .option('--since <time>', 'RFC 3339 time or a duration ago (e.g. 1h)')
    .option('--until <time>', 'RFC 3339 time')
    .option('--file <file>', 'the log (default: the configured sink)')
    .option('--format <format>', 'pretty or jsonl', 'pretty')
    .action(async (opts: { run?: string; decision?: string; policy?: string; event?: string; since?: string; until?: string; file?: string; format: string }, cmd: Command) => {
      if (opts.decision && !['allow', 'deny', 'error'].includes(opts.decision)) {
        throw new UsageError('usage.decision', `--decision must be allow, deny or error, not "${opts.decision}"`);
      }
      const filter: AuditFilter = {
        run: opts.run,
        decision: opts.decision as AuditFilter['decision'],
        policy: opts.policy,
        event: opts.event,
        since: opts.since ? parseTime(opts.since) : undefined,
        until: opts.until ? parseTime(opts.until) : undefined,
      };
      await visitRecords(cmd, opts.file, filter, (r) => {
        if (opts.format === 'jsonl') {
          return writeOut(terminalJson(r) + '\n');
        } else {
          const what = r.sql ? oneLine(r.sql, 80) : '';
          const fields = [r.seq, r.time, r.id, r.event, r.decision, r.run ?? '-', r.policy?.name ?? '-', what].map((f) => terminalText(String(f)));
          return writeOut(`${fields.join('\t')}${r.reason ? `\t(${terminalText(oneLine(r.reason, 100))})` : ''}\n`);
        }
      });
    });

  audit
    .command('show')
    .description('print one record as JSON')
    .argument('<id>', 'the record id')
    .option('--file <file>', 'the log (default: the configured sink)')
    .option('--unseal', 'also open the sealed fields (the exact SQL, the engine\'s original error text, parameter values) with the deployment\'s key: operator only, the output may hold personal data')
    .action(async (id: string, opts: { file?: string; unseal?: boolean }, cmd: Command) => {
      const record = opts.file !== undefined ? await requireAuditRecord(opts.file, id) : await withDeployment(cmd, (deployment) => deployment.findAuditRecord(id));
      // the sealing key is the deployment's own (its keys folder): --unseal works where that folder is
      const shown = opts.unseal ? { ...record, unsealed: unsealRecord(record, loadOrCreateSqlSealKey(loadCliContext(cmd).config.keysDir)) } : record;
      process.stdout.write(terminalJson(shown, 2) + '\n');
    });

  audit
    .command('export')
    .description('export for a SIEM: jsonl as stored, or OCSF Datastore Activity (class 6005)')
    .option('--format <format>', 'ocsf or jsonl', 'jsonl')
    .option('--run <run>', 'only this run')
    .option('--since <time>', 'RFC 3339 time or a duration ago (e.g. 24h)')
    .option('--file <file>', 'the log (default: the configured sink)')
    .action(async (opts: { format: string; run?: string; since?: string; file?: string }, cmd: Command) => {
      if (opts.format !== 'ocsf' && opts.format !== 'jsonl') throw new UsageError('usage.export_format', `--format must be ocsf or jsonl, not "${opts.format}"`);
      let n = 0;
      const line = createProgressLine(process.stderr, {
        label: 'audit export',
        enabled: progressWanted(process.stderr, cmd.optsWithGlobals().quiet),
        detail: () => `${formatCount(n, 'record')} exported`,
      });
      try {
        await visitRecords(cmd, opts.file, { run: opts.run, since: opts.since ? parseTime(opts.since) : undefined }, async (r) => {
          await writeOut(terminalJson(opts.format === 'ocsf' ? toOcsf(r) : r) + '\n');
          n++;
        });
      } finally {
        line.stop();
      }
    });
}

/** Records of a copy given with --file (read here), else of the deployment's own log. */
async function visitRecords(cmd: Command, file: string | undefined, filter: AuditFilter, visit: AuditVisitor): Promise<void> {
  if (file !== undefined) {
    for await (const r of listAuditRecords(file, filter)) await visit(r);
    return;
  }
  await withDeployment(cmd, (deployment) => deployment.visitAuditRecords(filter, visit));
}

function logLocation(cmd: Command, file: string | undefined, wantKeys = true): { source: AuditLogSource; keyDir: string | undefined } {
  if (file && !wantKeys) return { source: { kind: 'file', path: file }, keyDir: undefined };
  if (file) {
    // a log given by path: checkpoints are verified with the configured key when a config is at hand
    try {
      const ctx = loadCliContext(cmd);
      return { source: { kind: 'file', path: file }, keyDir: ctx.config.keysDir };
    } catch {
      return { source: { kind: 'file', path: file }, keyDir: undefined };
    }
  }
  const ctx = loadCliContext(cmd);
  if (ctx.config.audit.kind === 'gateway') {
    throw new ConfigError('config.audit_remote', `the audit log is kept by the gateway at ${ctx.config.audit.url}`, { hint: 'run hoopq audit on the gateway host, or pass --file' });
  }
  return { source: ctx.config.audit, keyDir: ctx.config.keysDir };
}

function configuredWitness(cmd: Command): string | undefined {
  return loadCliContext(cmd).config.auditWitness;
}

function oneLine(s: string, max: number): string {
  const t = String(s).replace(/[ \t\r\n]+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function describeRecovery(r: unknown): string {
  return `recovered torn tail: ${JSON.stringify(r)}`;
}
