/**
 * `hoopq state status|init`: the identity state store (revocations, budgets, tokens).
 *
 * `status` says whether the store is the one this deployment's anchor names and readable.
 * `init` is the operator's deliberate step after a store was lost, replaced or damaged
 * (every query is refused until then): it rebuilds the store from the audit log (verified
 * first), so every revocation the log records holds again and budgets come back no looser,
 * moves whatever was at the store's path aside (never deletes it), names the new store in
 * the anchor and records `state.init`. A healthy store is left alone unless --force.
 *
 * The same file holds approval requests and operator keys (tables of their own). They are
 * carried into the new store only from a healthy store (--force): a lost one has none to
 * give, and a replaced or damaged one's are not trusted (a planted operator key would
 * approve anything). Otherwise operators get new keys (`hoopq operator add`) and agents ask
 * for approval again.
 */
import fs from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { listAuditRecords } from '../audit/read-audit-log.js';
import { verifyAuditLogAt, withAuditLogFile } from '../audit/audit-log-source.js';
import { verifyReportToError } from '../audit/verify-audit-log.js';
import { ConfigError, UsageError, isHoopqError } from '../errors.js';
import { rebuildStateFromAudit, type RebuiltState } from '../identity/rebuild-state-store.js';
import { readStateAnchor, stateAnchorPath, writeStateAnchor } from '../identity/state-anchor.js';
import { openStateStore } from '../identity/state-store.js';
import { openApprovalStore } from '../approval/approval-store.js';
import { openOperatorStore } from '../operator/operator-store.js';
import { immediateTransaction, openSqlite } from '../sqlite/open-sqlite.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import { loadCliContext, type CliContext } from './cli-context.js';
import type { CliState } from './main.js';

export function registerStateCommands(program: Command, _state: CliState): void {
  const state = program.command('state').description('the identity state store: revocations, budgets, issued tokens');

  state
    .command('status')
    .description('whether the state store is the one this deployment uses, and readable (exit 3 when not)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        const store = ctx.state();
        const health = store.checkHealth();
        if (!health.ok) throw health.problem!;
        process.stdout.write(
          JSON.stringify({ ok: true, file: store.file, store_id: store.storeId, anchor: store.anchorFile, pending_outcomes: store.pendingOutcomes().length }) + '\n',
        );
      } finally {
        await ctx.close();
      }
    });

  state
    .command('init')
    .description('rebuild a lost, replaced or damaged state store from the audit log and make it this deployment\'s store')
    .option('--empty', 'start from an empty store instead of the audit log (revocations and budgets the log records are NOT restored)')
    .option('--force', 'rebuild even though the current store is healthy')
    .action(async (opts: { empty?: boolean; force?: boolean }, cmd: Command) => {
      const ctx = loadCliContext(cmd);
      try {
        if (ctx.config.statePostgres) {
          throw new UsageError('state.init_postgres', 'hoopq state init rebuilds a SQLite state store; this deployment keeps its state in PostgreSQL (state: in hoopq.yaml)', {
            hint: "restore the database from its backups (docs/gateway.md \"Replicas on PostgreSQL\"); the replicas refuse every query while the database is not the one they anchored",
          });
        }
        const current = openCurrent(ctx);
        if (current.ok && !opts.force) {
          process.stdout.write(JSON.stringify({ ok: true, changed: false, file: ctx.config.statePath, store_id: current.storeId, note: 'the store is healthy; nothing to do (--force rebuilds it anyway)' }) + '\n');
          return;
        }
        const rebuilt = opts.empty ? emptyState() : await readStateFromLog(ctx);
        const result = replaceStore(ctx, rebuilt, current.ok ? ctx.config.statePath : null);
        await (await ctx.parts.audit()).append(
          newAuditBody('state.init', ctx.parts.now(), {
            subject: `operator:${operatorName()}`,
            reason: current.ok ? 'rebuilt by the operator (--force)' : `re-initialised by the operator: ${current.problem}`,
            state: {
              store_id: result.storeId,
              previous_store_id: result.previousId,
              path: ctx.config.statePath,
              how: opts.empty ? 'empty' : 'rebuilt',
              moved_aside: result.movedAside,
              rebuilt: { records: rebuilt.records, tokens: rebuilt.tokens.length, revocations: rebuilt.revocations.length, runs: rebuilt.queriesStarted.size },
              carried: result.carried,
            },
          }),
        );
        process.stdout.write(
          JSON.stringify({
            ok: true,
            changed: true,
            file: ctx.config.statePath,
            store_id: result.storeId,
            previous_store_id: result.previousId,
            moved_aside: result.movedAside,
            restored: { revocations: rebuilt.revocations.length, tokens: rebuilt.tokens.length, runs: rebuilt.queriesStarted.size, from_records: rebuilt.records },
            carried: result.carried,
          }) + '\n',
        );
        if (!result.carried) {
          process.stderr.write('hoopq: operator keys and requests for approval were not carried over (the old store was not healthy): give operators new keys with hoopq operator add; held queries are asked again\n');
        }
      } finally {
        await ctx.close();
      }
    });
}

function openCurrent(ctx: CliContext): { ok: true; storeId: string } | { ok: false; problem: string } {
  try {
    const store = ctx.state();
    const health = store.checkHealth();
    return health.ok ? { ok: true, storeId: store.storeId } : { ok: false, problem: health.problem!.message };
  } catch (err) {
    if (isHoopqError(err)) return { ok: false, problem: err.message };
    throw err;
  }
}

function emptyState(): RebuiltState {
  return { tokens: [], revocations: [], queriesStarted: new Map(), records: 0 };
}

/** The state the audit log records, from a log that verifies (a tampered log must not decide who is revoked). */
async function readStateFromLog(ctx: CliContext): Promise<RebuiltState> {
  const audit = ctx.config.audit;
  if (audit.kind === 'gateway') {
    throw new UsageError('state.init_remote_log', 'cannot rebuild the state store here: the audit log is kept by a gateway (audit: in hoopq.yaml is a URL)', {
      hint: 'run hoopq state init on the gateway\'s host, or pass --empty to start from an empty store (revocations are then not restored)',
    });
  }
  // one copy of a PostgreSQL log is both verified and read: what is rebuilt is what verified
  return withAuditLogFile(audit, async (logPath) => {
    const report = await verifyAuditLogAt(audit, logPath, { keyDir: ctx.config.keysDir });
    if (!report.ok) {
      const err = verifyReportToError(report);
      throw Object.assign(err, { hint: `${err.hint}; the state store is rebuilt only from a log that verifies (--empty starts from an empty store instead)` });
    }
    return rebuildStateFromAudit(listAuditRecords(logPath));
  });
}

/**
 * Builds the new store beside the old path, moves what is at the path aside (store, -wal,
 * -shm: kept as evidence), renames the new one in and names it in the anchor. Processes that
 * look in between see no store, or a store the anchor does not name yet: they refuse, and
 * pick the new one up once the anchor names it.
 */
function replaceStore(ctx: CliContext, rebuilt: RebuiltState, carryFrom: string | null): { storeId: string; previousId: string | null; movedAside: string[]; carried: Carried | null } {
  const file = ctx.config.statePath;
  const anchorFile = stateAnchorPath(ctx.config.keysDir);
  let previousId: string | null = null;
  try {
    previousId = readStateAnchor(anchorFile)?.store_id ?? null;
  } catch {
    previousId = null; // a damaged anchor is replaced like the store
  }
  const tmp = `${file}.init-${process.pid}`;
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(tmp + suffix, { force: true });
  const fresh = openStateStore(tmp);
  let storeId: string;
  try {
    fresh.importState(rebuilt);
    storeId = fresh.storeId;
  } finally {
    fresh.close(); // the last connection: SQLite folds the WAL into the file and removes it
  }
  const carried = carryFrom ? carrySharedTables(tmp, carryFrom) : null;
  if (fs.existsSync(`${tmp}-wal`)) {
    throw new ConfigError('state.init_failed', `the rebuilt store ${tmp} kept a write-ahead log after closing`, { hint: `remove ${tmp}* and run hoopq state init again` });
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const movedAside: string[] = [];
  for (const suffix of ['', '-wal', '-shm']) {
    if (!fs.existsSync(file + suffix)) continue;
    const aside = `${file}.replaced-${stamp}${suffix}`;
    fs.renameSync(file + suffix, aside);
    movedAside.push(aside);
  }
  fs.renameSync(tmp, file);
  writeStateAnchor(anchorFile, { version: 1, store_id: storeId, created: new Date().toISOString(), path: file });
  return { storeId, previousId, movedAside, carried };
}

interface Carried {
  approval_requests: number;
  operator_keys: number;
}

/** Copies approval requests and operator keys from a healthy store into the new one (their tables are created either way). */
function carrySharedTables(tmp: string, from: string): Carried {
  openApprovalStore(tmp).close();
  openOperatorStore(tmp).close();
  const db = openSqlite(tmp, 10_000);
  try {
    db.prepare('ATTACH DATABASE ? AS old').run(from);
    const carried: Carried = { approval_requests: 0, operator_keys: 0 };
    immediateTransaction(db, () => {
      for (const table of ['approval_requests', 'operator_keys'] as const) {
        if (db.prepare("SELECT 1 AS ok FROM old.sqlite_master WHERE type = 'table' AND name = ?").get(table) === undefined) continue;
        // by name, not position: the two files' tables may have been created by different versions
        const columns = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all().map((r) => `"${String(r.name)}"`).join(', ');
        carried[table] = Number(db.prepare(`INSERT INTO main.${table} (${columns}) SELECT ${columns} FROM old.${table}`).run().changes);
      }
    });
    db.exec('DETACH DATABASE old');
    return carried;
  } finally {
    db.close();
  }
}

function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
