/**
 * The CLI's composition root: reads the configuration once and builds the pipeline's parts.
 * No other module reads process.env for configuration.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openJsonlFileSink } from '../audit/jsonl-file-sink.js';
import type { AuditSink } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { openStateStore, type StateStore } from '../identity/state-store.js';
import { verifyRunToken } from '../identity/run-token.js';
import { createPolicyCatalog } from '../policy/policy-catalog.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';
import { openWarehouse } from '../warehouse/open-warehouse.js';

export interface CliContext {
  configPath: string;
  config: HoopqConfig;
  parts: PipelineParts;
  state(): StateStore;
  close(): Promise<void>;
}

export function configPathFrom(cmd: Command): string {
  const opts = cmd.optsWithGlobals() as { config?: string };
  return resolve(opts.config ?? process.env.HOOPQ_CONFIG ?? './hoopq.yaml');
}

export function loadCliContext(cmd: Command): CliContext {
  return loadContextAt(configPathFrom(cmd));
}

export function loadContextAt(configPath: string): CliContext {
  if (!existsSync(configPath)) {
    throw new ConfigError('config.missing', `no configuration file at ${configPath}`, {
      hint: 'run "hoopq quickstart" for a working demo, pass --config FILE, or set HOOPQ_CONFIG',
    });
  }
  const config = loadConfig(configPath);
  let state: StateStore | undefined;
  let sink: AuditSink | undefined;
  const getState = () => (state ??= openStateStore(config.statePath));
  const policies = createPolicyCatalog(config.policiesDir);
  const parts: PipelineParts = {
    config,
    policies,
    identity: {
      verify: (token) => verifyRunToken(token, { keysDir: config.keysDir, state: getState() }),
      consumeBudget: async (identity, limit) => getState().consumeQueryBudget(identity.run, limit),
      watchRevocation: (identity, onRevoked) => getState().watchRevocation(identity, onRevoked),
    },
    openWarehouse: ({ writable }) => openWarehouse(config.warehouse, { writable }),
    audit: async () => {
      if (config.audit.kind !== 'file') {
        throw new ConfigError('config.audit_gateway', 'an audit sink at a gateway URL is not available in this build', { hint: 'set audit: to a file path' });
      }
      return (sink ??= await openJsonlFileSink(config.audit.path, { checkpoint: { keyDir: config.keysDir, every: config.checkpointEvery } }));
    },
    now: () => new Date(),
  };
  return {
    configPath,
    config,
    parts,
    state: getState,
    async close() {
      const [s, st] = [sink, state];
      sink = undefined;
      state = undefined;
      await s?.close();
      st?.close();
    },
  };
}
