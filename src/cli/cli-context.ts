/**
 * The CLI's composition root: finds and reads the configuration once and builds the
 * pipeline's parts. No other module reads process.env for configuration.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { HoopqConfig } from '../config/config.js';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import type { StateStore } from '../identity/state-store.js';
import type { OperatorStore } from '../operator/operator-store.js';
import { createLocalParts } from '../pipeline/local-parts.js';
import { createEngineCallGate, engineCallLimitsFor, libuvPoolSize } from '../warehouse/engine-call-gate.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';

export interface CliContext {
  configPath: string;
  config: HoopqConfig;
  parts: PipelineParts;
  state(): StateStore;
  operators(): OperatorStore;
  close(): Promise<void>;
}

export function configPathFrom(cmd: Command): string {
  return resolveConfigPath((cmd.optsWithGlobals() as { config?: string }).config);
}

/** --config, else $HOOPQ_CONFIG (set and not empty: `HOOPQ_CONFIG=` means unset), else ./hoopq.yaml. */
export function resolveConfigPath(option: string | undefined): string {
  const fromEnv = process.env.HOOPQ_CONFIG;
  return resolve(option ?? (fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv : './hoopq.yaml'));
}

export function loadCliContext(cmd: Command): CliContext {
  return loadContextAt(configPathFrom(cmd));
}

export interface ContextOptions {
  /** A process that serves many queries (`hoopq mcp`): the audit log is appended from its own thread. */
  longLived?: boolean;
}

export function loadContextAt(configPath: string, options: ContextOptions = {}): CliContext {
  if (!existsSync(configPath)) {
    throw new ConfigError('config.missing', `no configuration file at ${configPath}`, {
      hint: 'run "hoopq quickstart" for a working demo, pass --config FILE, or set HOOPQ_CONFIG',
    });
  }
  const config = loadConfig(configPath);
  // bin/hoopq sized libuv's pool before anything used it; the gate keeps engine calls below it
  const engineCalls = createEngineCallGate(engineCallLimitsFor(libuvPoolSize(process.env.UV_THREADPOOL_SIZE), availableParallelism()));
  const local = createLocalParts(config, { engineCalls, auditThread: options.longLived });
  return { configPath, config, parts: local.parts, state: local.state, operators: local.operators, close: local.close };
}
