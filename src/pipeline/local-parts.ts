/**
 * Builds the pipeline's parts for a deployment that holds its own config, keys, state and
 * audit sink: the CLI in direct mode, the gateway and the MCP server all start here (each
 * is its own composition root and calls this once).
 */
import { join } from 'node:path';
import { openGatewayAuditSink } from '../audit/gateway-audit-sink.js';
import { openJsonlFileSink } from '../audit/jsonl-file-sink.js';
import type { AuditSink } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import { openStateStore, type StateStore } from '../identity/state-store.js';
import { verifyRunToken } from '../identity/run-token.js';
import { createPolicyCatalog } from '../policy/policy-catalog.js';
import { AUDIT_WRITER_KEY_FILE } from '../gateway/secret-key-file.js';
import type { EngineCallGate } from '../warehouse/engine-call-gate.js';
import { openWarehouse } from '../warehouse/open-warehouse.js';
import type { PipelineParts } from './pipeline-parts.js';

export interface LocalParts {
  parts: PipelineParts;
  /** The state store, opened on first use. */
  state(): StateStore;
  close(): Promise<void>;
}

export interface LocalPartsOptions {
  /** Limits the process's concurrent engine calls (gateway, MCP: many queries in one process). */
  engineCalls?: EngineCallGate;
}

export function createLocalParts(config: HoopqConfig, options: LocalPartsOptions = {}): LocalParts {
  let state: StateStore | undefined;
  let sink: Promise<AuditSink> | undefined;
  const getState = () => (state ??= openStateStore(config.statePath));
  const parts: PipelineParts = {
    config,
    policies: createPolicyCatalog(config.policiesDir),
    identity: {
      verify: (token) => verifyRunToken(token, { keysDir: config.keysDir, state: getState() }),
      consumeBudget: async (identity, limit) => getState().consumeQueryBudget(identity.run, limit),
      watchRevocation: (identity, onRevoked) => getState().watchRevocation(identity, onRevoked),
    },
    openWarehouse: ({ writable, policy, identity }) =>
      openWarehouse(config.warehouse, {
        writable,
        impersonate: policy?.impersonate,
        notAfter: identity ? new Date(identity.expiresAt * 1000) : undefined,
        engineCalls: options.engineCalls?.scope(identity?.run ?? ''),
      }),
    audit: () => {
      if (config.audit.kind === 'gateway') {
        // the gateway chains and fsyncs; its audit-writer key is kept beside our signing keys
        return (sink ??= openGatewayAuditSink(config.audit.url, { keyFile: join(config.keysDir, AUDIT_WRITER_KEY_FILE) }));
      }
      const path = config.audit.path;
      return (sink ??= openJsonlFileSink(path, { checkpoint: { keyDir: config.keysDir, every: config.checkpointEvery, witness: config.auditWitness } }));
    },
    now: () => new Date(),
  };
  return {
    parts,
    state: getState,
    async close() {
      const [s, st] = [sink, state];
      sink = undefined;
      state = undefined;
      if (s) await (await s).close();
      st?.close();
    },
  };
}
