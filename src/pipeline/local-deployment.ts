/**
 * A Deployment reached directly: this process holds the config, keys, state store and audit
 * sink (the CLI in direct mode). Every method is a pipeline function over the local parts;
 * the gateway's routes call the same functions over the gateway's parts.
 */
import { userInfo } from 'node:os';
import { listAuditRecordsOf, requireAuditRecordOf, verifyAuditLogOf, withAuditLogFile, type AuditLogSource } from '../audit/audit-log-source.js';
import { readCheckpointWitness } from '../audit/read-checkpoint-witness.js';
import type { HoopqConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { Deployment } from './deployment.js';
import { describeTable } from './describe-table.js';
import { explainQuery } from './explain-query.js';
import { listTables } from './list-tables.js';
import type { LocalParts } from './local-parts.js';
import { findReplayRecord, replayQuery } from './replay-query.js';
import { exchangeToken, inspectToken, listTokens, mintToken, revokeTokens, rotateHashKey, rotateKeys, type Actor, type TokenParts } from './token-lifecycle.js';

export function createLocalDeployment(config: HoopqConfig, local: Pick<LocalParts, 'parts' | 'state' | 'close'>): Deployment {
  const { parts } = local;
  const t: TokenParts = { parts, state: local.state };
  const actor: Actor = { operator: `operator:${safeUser()}` };
  const logSource = (what: string): AuditLogSource => {
    if (config.audit.kind === 'gateway') {
      throw new ConfigError('config.audit_remote', `the audit log is kept by the gateway at ${config.audit.url}`, { hint: `run ${what} on the gateway host or with HOOPQ_GATEWAY set, or pass --file` });
    }
    return config.audit;
  };
  return {
    // a what-if under a named policy needs no token here: reading the config is the authority
    explain: (input) =>
      explainQuery(parts, { sql: input.sql, token: input.policy === undefined ? input.token : undefined, policyName: input.policy, justification: input.justification, offline: input.offline }),
    listTables: (token, dataset) => listTables(parts, { token, dataset, origin: { via: 'cli', command: 'ls' } }),
    describeTable: (token, table) => describeTable(parts, { token, table, origin: { via: 'cli', command: 'show' } }),

    async mintToken(input) {
      return { token: (await mintToken(t, actor, input)).token };
    },
    async exchangeToken(input) {
      return { token: (await exchangeToken(t, {}, input)).token };
    },
    // reading the config is the operator's authority here: any run, any token
    revoke: (input) => revokeTokens(t, { operator: actor }, input),
    inspectToken: (token) => inspectToken(t, token),
    listTokens: async () => listTokens(t),
    rotateKeys: () => rotateKeys(t, actor),
    rotateHashKey: () => rotateHashKey(t, actor),

    async visitAuditRecords(filter, visit) {
      for await (const r of listAuditRecordsOf(logSource('hoopq audit'), filter)) await visit(r);
    },
    findAuditRecord: (id) => requireAuditRecordOf(logSource('hoopq audit'), id),
    async verifyAudit(options) {
      const source = options.witness ?? config.auditWitness;
      const witness = source === undefined ? undefined : await readCheckpointWitness(source);
      return verifyAuditLogOf(logSource('hoopq audit verify'), { keyDir: config.keysDir, signatures: options.signatures, witness, allowNoCheckpoint: options.allowNoCheckpoint, onRecords: options.onRecords });
    },
    async replay(id, options) {
      const record = await withAuditLogFile(logSource('hoopq replay'), (log) => findReplayRecord(log, id));
      return replayQuery(parts, record, {
        execute: options.execute,
        mintToken: async (policy, run) => (await mintToken(t, actor, { policy, run, subject: `replay:${record.id}`, ttlSeconds: 600 })).token,
      });
    },

    close: () => local.close(),
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
