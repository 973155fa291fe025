/**
 * Builds the pipeline's parts for a deployment that holds its own config, keys, state and
 * audit sink: the CLI in direct mode, the gateway and the MCP server all start here (each
 * is its own composition root and calls this once).
 */
import { join } from 'node:path';
import { openGatewayAuditSink } from '../audit/gateway-audit-sink.js';
import { openJsonlFileSink } from '../audit/jsonl-file-sink.js';
import { createSqlSealKeyLoader } from '../audit/seal-sql.js';
import type { AuditSink } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import { openStateStore, type StateStore } from '../identity/state-store.js';
import { VerifiedTokenCache, verifyRunToken } from '../identity/run-token.js';
import type { PublicKeyCache } from '../identity/signing-keys.js';
import { createReloadingPolicyPort } from '../policy/reloading-policy-port.js';
import { AUDIT_WRITER_KEY_FILE, HASH_KEY_FILE, loadOrCreateSecretKey, secretKeyBytes } from '../identity/secret-key-file.js';
import { hashKeyFromSecret, type HashKey } from '../masking/hash-key.js';
import { createWarehouseOpener } from '../warehouse/open-warehouse.js';
import type { PipelineParts } from './pipeline-parts.js';

export interface LocalParts {
  parts: PipelineParts;
  /** The state store, opened on first use. */
  state(): StateStore;
  close(): Promise<void>;
}

export interface LocalPartsHooks {
  /** Records per audit group commit (a local JSONL sink only): the gateway's metrics. */
  onAuditGroupCommit?: (records: number) => void;
}

export function createLocalParts(config: HoopqConfig, hooks: LocalPartsHooks = {}): LocalParts {
  let state: StateStore | undefined;
  let sink: Promise<AuditSink> | undefined;
  const getState = () => (state ??= openStateStore(config.statePath));
  const warehouses = createWarehouseOpener(config.warehouse);
  const keyCache: PublicKeyCache = new Map();
  const verified = new VerifiedTokenCache();
  const sqlSealKey = createSqlSealKeyLoader(config.keysDir);
  // read at every open: `hoopq keys rotate --hash-key` takes effect at once, in a running gateway too
  const getHashKey = (): HashKey => hashKeyFromSecret(secretKeyBytes(loadOrCreateSecretKey(join(config.keysDir, HASH_KEY_FILE), 'hqhk')));
  const parts: PipelineParts = {
    config,
    policies: createReloadingPolicyPort(config.policiesDir),
    identity: {
      verify: (token) => verifyRunToken(token, { keysDir: config.keysDir, state: getState(), keyCache, verified }),
      consumeBudget: async (identity, limit) => getState().consumeQueryBudget(identity.run, limit),
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
      }),
    audit: () => {
      if (config.audit.kind === 'gateway') {
        // the gateway chains and fsyncs; its audit-writer key is kept beside our signing keys
        return (sink ??= openGatewayAuditSink(config.audit.url, { keyFile: join(config.keysDir, AUDIT_WRITER_KEY_FILE) }));
      }
      const path = config.audit.path;
      return (sink ??= openJsonlFileSink(path, { checkpoint: { keyDir: config.keysDir, every: config.checkpointEvery, witness: config.auditWitness }, onGroupCommit: hooks.onAuditGroupCommit }));
    },
    now: () => new Date(),
    sqlSealKey,
  };
  return {
    parts,
    state: getState,
    async close() {
      const [s, st] = [sink, state];
      sink = undefined;
      state = undefined;
      warehouses.close();
      if (s) await (await s).close();
      st?.close();
    },
  };
}
