/**
 * Builds the pipeline's parts for a deployment that holds its own config, keys, state and
 * audit sink: the CLI in direct mode, the gateway and the MCP server all start here (each
 * is its own composition root and calls this once).
 *
 * The state store is opened against its anchor in the keys directory (state-anchor.ts), so a
 * lost or replaced store is refused rather than recreated; a store this process created (or
 * gave its id) is recorded in the audit log (`state.init`). When the sink opens, outcomes
 * that earlier processes could not write are recovered (recover-outcomes.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openApprovalStore } from '../approval/approval-store.js';
import { notifyWebhooks } from '../approval/notify-webhooks.js';
import { openOperatorStore, type OperatorStore } from '../operator/operator-store.js';
import { openGatewayAuditSink } from '../audit/gateway-audit-sink.js';
import { openJsonlFileSink } from '../audit/jsonl-file-sink.js';
import { openThreadedJsonlFileSink } from '../audit/threaded-jsonl-sink.js';
import { BudgetSpendBatcher } from '../identity/batch-budget-spends.js';
import { createSqlSealKeyLoader } from '../audit/seal-sql.js';
import type { AuditSink } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import { stateAnchorPath } from '../identity/state-anchor.js';
import { stateError } from '../identity/state-store-errors.js';
import { openStateStore, thisProcessUnit, type StateStore } from '../identity/state-store.js';
import { openPgStateStore, pgStateAnchorPath } from '../postgres/pg-state-store.js';
import { VerifiedTokenCache, verifyRunToken } from '../identity/run-token.js';
import type { PublicKeyCache } from '../identity/signing-keys.js';
import { createReloadingPolicyPort } from '../policy/reloading-policy-port.js';
import { AUDIT_WRITER_KEY_FILE, HASH_KEY_FILE, loadOrCreateSecretKey, secretKeyBytes } from '../identity/secret-key-file.js';
import { hashKeyFromSecret, type HashKey } from '../masking/hash-key.js';
import type { EngineCallGate } from '../warehouse/engine-call-gate.js';
import { createWarehouseOpener } from '../warehouse/open-warehouse.js';
import { newAuditBody } from './audit-body.js';
import type { PipelineParts } from './pipeline-parts.js';
import { openPgAuditSink } from '../postgres/pg-audit-sink.js';
import { recoverOutcomes } from './recover-outcomes.js';

export interface LocalParts {
  parts: PipelineParts;
  /** The state store, opened on first use. */
  state(): StateStore;
  /** Personal operator keys, in the state file; opened on first use. */
  operators(): OperatorStore;
  /** Writes the outcomes queries could not write (this process's kept ones too); best effort. */
  recover(): Promise<number>;
  close(): Promise<void>;
}

/** A link into the console, when one is configured with its address. */
function consoleLink(config: HoopqConfig, path: string): string | undefined {
  return config.console?.url ? new URL(path, config.console.url).toString() : undefined;
}

export interface LocalPartsOptions {
  /** Limits the process's concurrent engine calls (gateway, MCP: many queries in one process). */
  engineCalls?: EngineCallGate;
  /** Records per audit group commit (a JSONL file or PostgreSQL sink): the gateway's metrics. */
  onAuditGroupCommit?: (records: number) => void;
  /**
   * A long-lived process (gateway, `hoopq mcp`): a JSONL audit log is appended from a thread of
   * its own (threaded-jsonl-sink.ts), so queries go on while a group is fsync'd. A short CLI
   * command appends on its own thread: starting one would cost more than it saves.
   */
  auditThread?: boolean;
}

export function createLocalParts(config: HoopqConfig, options: LocalPartsOptions = {}): LocalParts {
  let state: StateStore | undefined;
  let sink: Promise<AuditSink> | undefined;
  let initRecorded = false;
  const openSqliteState = () => openStateStore(config.statePath, { anchorFile: stateAnchorPath(config.keysDir) });
  // state: postgres://… — tokens, revocations and budgets shared by every replica
  const getState = () =>
    (state ??= config.statePostgres ? openPgStateStore(config.statePostgres, { anchorFile: pgStateAnchorPath(config.keysDir) }) : openSqliteState());
  // approval requests and operator keys stay in the SQLite file (this replica's own, with PostgreSQL)
  let fileState: StateStore | undefined;
  const getFileState = () => (config.statePostgres ? (fileState ??= openSqliteState()) : getState());
  const warehouses = createWarehouseOpener(config.warehouse);
  const spends = new BudgetSpendBatcher(getState);
  const keyCache: PublicKeyCache = new Map();
  const verified = new VerifiedTokenCache();
  const sqlSealKey = createSqlSealKeyLoader(config.keysDir);
  // read at every open: `hoopq keys rotate --hash-key` takes effect at once, in a running gateway too
  const getHashKey = (): HashKey => hashKeyFromSecret(secretKeyBytes(loadOrCreateSecretKey(join(config.keysDir, HASH_KEY_FILE), 'hqhk')));
  // In the state store's file, so used only while it is the anchored store (a lost or
  // replaced file holds no approvals or operator keys anyone may trust); opened after it,
  // since it creates the shared file and its WAL mode.
  const approvals = inStateFile(getFileState, openApprovalStore);
  const operators = inStateFile(getFileState, openOperatorStore);

  const openSink = (): Promise<AuditSink> => {
    if (config.audit.kind === 'gateway') {
      // the gateway chains and fsyncs; its audit-writer key is kept beside our signing keys
      return openGatewayAuditSink(config.audit.url, { keyFile: join(config.keysDir, AUDIT_WRITER_KEY_FILE) });
    }
    const checkpoint = { keyDir: config.keysDir, every: config.checkpointEvery, witness: config.auditWitness };
    if (config.audit.kind === 'postgres') return openPgAuditSink(config.audit.url, { checkpoint, onGroupCommit: options.onAuditGroupCommit });
    if (options.auditThread) return openThreadedJsonlFileSink(config.audit.path, { checkpoint, onGroupCommit: options.onAuditGroupCommit });
    return openJsonlFileSink(config.audit.path, { checkpoint, onGroupCommit: options.onAuditGroupCommit });
  };

  /** The audit record of a store this process created, once (evidence; the anchor enforces). */
  const recordStateInit = async (s: AuditSink) => {
    if (initRecorded || !state?.init) return;
    initRecorded = true;
    const { storeId, how } = state.init;
    await s.append(
      newAuditBody('state.init', new Date(), {
        reason: how === 'created' ? 'a new state store was created for this deployment' : 'a state store from before store ids was given one',
        state: { store_id: storeId, path: state.file, how },
      }),
    );
  };

  /** Outcomes earlier queries could not write; best effort (the next process tries again). */
  const recover = async (s: AuditSink): Promise<number> => {
    // only where a store exists: a command that never needed one (audit list) must not create it
    // (with PostgreSQL: where this process opened the store for its own work)
    if (!state && (config.statePostgres !== undefined || !existsSync(config.statePath))) return 0;
    try {
      return await recoverOutcomes(getState(), s);
    } catch {
      return 0; // a store that cannot be used refuses the query itself, with its reason
    }
  };

  const parts: PipelineParts = {
    config,
    policies: createReloadingPolicyPort(config.policiesDir),
    identity: {
      verify: async (token) => {
        const identity = await verifyRunToken(token, { keysDir: config.keysDir, state: getState(), keyCache, verified });
        if (sink) await recordStateInit(await sink).catch(() => undefined);
        return identity;
      },
      // concurrent queries' spends share one transaction and its commit (batch-budget-spends.ts)
      consumeBudget: (identity, limit, intent) => spends.spend({ run: identity.run, limit, unit: thisProcessUnit(intent) }),
      checkBudget: async (identity, limit) => {
        const used = getState().queriesStarted(identity.run);
        return { ok: used < limit, used, limit };
      },
      settleQuery: async (intent) => getState().settleQuery(intent),
      refundQuery: async (intent) => {
        getState().refundQuery(intent);
      },
      keepOutcome: async (intent, outcome) => getState().keepOutcome(intent, JSON.stringify(outcome)),
      watchRevocation: (identity, onRevoked) => getState().watchRevocation(identity, onRevoked),
    },
    openWarehouse: ({ writable, policy, identity, offline }) =>
      warehouses.open({
        writable,
        impersonate: policy?.impersonate,
        notAfter: identity ? new Date(identity.expiresAt * 1000) : undefined,
        offline,
        // the hash mask's key never leaves this process; only a policy with masks needs it
        hashKey: policy && Object.keys(policy.columns).length > 0 ? getHashKey() : undefined,
        engineCalls: options.engineCalls?.scope(identity?.run ?? ''),
        run: identity?.run,
      }),
    audit: () =>
      (sink ??= openSink().then(async (s) => {
        await recordStateInit(s).catch(() => undefined);
        await recover(s);
        return s;
      })),
    now: () => new Date(),
    sqlSealKey,
    approvals: {
      store: approvals.get,
      notify: (request, policy) => {
        const names = policy.approval?.notify;
        return notifyWebhooks(config.approvals.webhooks.filter((w) => !names || names.includes(w.name)), request, consoleLink(config, `/console/approvals#${request.id}`));
      },
      reviewUrl: (id) => consoleLink(config, `/console/approvals#${id}`),
      fourEyes: config.operators.fourEyes,
    },
  };

  return {
    parts,
    state: getState,
    operators: operators.get,
    recover: async () => recover(await parts.audit()),
    async close() {
      // a store created by a command that wrote no record of its own is recorded now
      if (state?.init && !initRecorded) await parts.audit().then(recordStateInit).catch(() => undefined);
      const [s, st, fst] = [sink, state, fileState];
      sink = undefined;
      state = undefined;
      fileState = undefined;
      warehouses.close();
      if (s) await (await s).close();
      approvals.close();
      operators.close();
      st?.close();
      fst?.close();
    },
  };
}

/**
 * A store with tables of its own in the state store's file (approval requests, operator
 * keys). Each use first asks the state store whether the file is still the anchored store
 * (health: re-checked on disk every HEALTH_CHECK_MS) and refuses with its reason if not; a
 * store re-initialised under a running process (`hoopq state init`: another id, another
 * file) is reopened, so no connection outlives the file it was opened on.
 */
function inStateFile<T extends { close(): void }>(getState: () => StateStore, open: (file: string) => T): { get: () => T; close: () => void } {
  let current: { store: T; storeId: string | null; dev: number; ino: number } | undefined;
  return {
    get: () => {
      const state = getState();
      const health = state.health();
      if (!health.ok) throw health.problem!;
      let onDisk: { dev: number; ino: number };
      try {
        onDisk = statSync(state.file);
      } catch (err) {
        throw state.checkHealth().problem ?? stateError(state.file, 'open the store', err); // gone since the last check
      }
      if (!current || current.storeId !== health.storeId || current.dev !== onDisk.dev || current.ino !== onDisk.ino) {
        current?.store.close();
        current = undefined;
        current = { store: open(state.file), storeId: health.storeId, dev: onDisk.dev, ino: onDisk.ino };
      }
      return current.store;
    },
    close: () => {
      current?.store.close();
      current = undefined;
    },
  };
}
