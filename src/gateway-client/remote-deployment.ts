/**
 * A Deployment reached through its gateway (HOOPQ_GATEWAY): every method is one HTTP request
 * to the gateway's API (docs/gateway.md), which runs the same pipeline function the direct
 * mode runs, so answers and errors (re-created as the same HoopqError, hence the same exit
 * codes) are the same.
 *
 * Credentials: agent calls send the run token they are given (one that cannot travel in a
 * header is refused here as malformed, exit 4); operator calls (mint, list,
 * rotate, audit, replay) send the operator credential this deployment was opened with, and the
 * gateway refuses them without it (exit 4). `revoke` sends the operator credential when there
 * is one, else the run token, which the gateway lets revoke only its own run or itself.
 */
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { AuditRecord } from '../audit/audit-record.js';
import type { AuditFilter } from '../audit/read-audit-log.js';
import type { VerifyReport } from '../audit/verify-audit-log.js';
import type { KeyRotation } from '../identity/signing-keys.js';
import type { IssuedToken } from '../identity/state-store.js';
import type { Deployment } from '../pipeline/deployment.js';
import type { Explanation } from '../pipeline/explain-query.js';
import type { ReplayReport } from '../pipeline/replay-query.js';
import type { HashKeyRotation, RevokedTarget, TokenInspection } from '../pipeline/token-lifecycle.js';
import { UsageError } from '../errors.js';
import { badResponse } from './error-from-json.js';
import { gatewayEndpoint, remoteDescribeTable, remoteExplain, remoteListTables, remoteToken, requestFrames, requestJson } from './gateway-client.js';

export interface RemoteCredentials {
  /** The gateway's operator key (HOOPQ_OPERATOR_KEY), for operator calls. */
  operatorKey?: string;
}

export function createRemoteDeployment(gateway: URL, credentials: RemoteCredentials): Deployment {
  const at = (path: string) => gatewayEndpoint(gateway, path);
  const operator = credentials.operatorKey;
  const field = <T>(json: unknown, name: string, what: string): T => {
    const value = (json as Record<string, unknown> | null)?.[name];
    if (value === undefined || value === null) throw badResponse(gateway.origin, `${what} of an unexpected shape`);
    return value as T;
  };
  return {
    async explain(input) {
      return (await remoteExplain(gateway, remoteToken(input.token), {
        sql: input.sql,
        justification: input.justification,
        policy: input.policy,
        offline: input.offline,
      })) as Explanation;
    },
    listTables: async (token, dataset) => remoteListTables(gateway, remoteToken(token), dataset),
    describeTable: async (token, table) => remoteDescribeTable(gateway, remoteToken(token), table),

    async mintToken(input) {
      const json = await requestJson(at('/v1/tokens'), operator, { policy: input.policy, run: input.run, ttl: input.ttlSeconds, subject: input.subject, max_queries: input.maxQueries });
      return { token: field<string>(json, 'token', 'a minted token') };
    },
    async exchangeToken(input) {
      const json = await requestJson(at('/v1/tokens/exchange'), undefined, { oidc_token: input.oidcToken, policy: input.policy, audience: input.audience, ttl: input.ttlSeconds });
      return { token: field<string>(json, 'token', 'an exchanged token') };
    },
    async revoke(input) {
      const json = await requestJson(at('/v1/revoke'), operator ?? remoteToken(input.token), { run: input.run, token_id: input.tokenId, reason: input.reason });
      return field<RevokedTarget>(json, 'revoked', 'a revocation');
    },
    async inspectToken(token) {
      return field<TokenInspection>(await requestJson(at('/v1/token'), remoteToken(token), undefined), 'token', 'a token inspection');
    },
    async listTokens() {
      return field<IssuedToken[]>(await requestJson(at('/v1/tokens'), operator, undefined), 'tokens', 'a token list');
    },
    async rotateKeys() {
      return field<KeyRotation>(await requestJson(at('/v1/keys/rotate'), operator, {}), 'rotation', 'a key rotation');
    },
    async rotateHashKey() {
      return field<HashKeyRotation>(await requestJson(at('/v1/keys/rotate'), operator, { hash_key: true }), 'rotation', 'a hash key rotation');
    },

    async visitAuditRecords(filter, visit) {
      const lines = new RecordLines(visit);
      await requestFrames(at('/v1/audit/list'), operator, auditFilterBody(filter), lines, () => {});
      await new Promise<void>((resolve) => lines.end(() => resolve()));
      lines.finish(gateway.origin);
    },
    async findAuditRecord(id) {
      const url = at('/v1/audit/record');
      url.searchParams.set('id', id);
      return field<AuditRecord>(await requestJson(url, operator, undefined), 'record', 'an audit record');
    },
    async verifyAudit(options) {
      if (options.witness !== undefined) {
        throw new UsageError('usage.witness_remote', '--witness names a copy on this machine, but the gateway verifies its log against its own audit_witness', {
          hint: 'leave out --witness, or verify a copy of the log here with --file FILE --witness …',
        });
      }
      return field<VerifyReport>(await requestJson(at('/v1/audit/verify'), operator, { signatures: options.signatures, allow_no_checkpoint: options.allowNoCheckpoint }), 'report', 'a verification report');
    },
    async replay(id, options) {
      return field<ReplayReport>(await requestJson(at('/v1/replay'), operator, { id, execute: options.execute }), 'report', 'a replay report');
    },

    close: async () => {},
  };
}

function auditFilterBody(filter: AuditFilter): Record<string, unknown> {
  return {
    run: filter.run,
    decision: filter.decision,
    policy: filter.policy,
    event: filter.event,
    since: filter.since?.toISOString(),
    until: filter.until?.toISOString(),
  };
}

/**
 * The records of a framed audit listing (one JSON record per line, a line possibly split
 * across frames), visited in order; the write that carries them completes only once the
 * visits have, so a slow stdout slows the socket, not our memory.
 */
class RecordLines extends Writable {
  // a character's UTF-8 bytes may be split across frames
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private failure: unknown;
  private malformed = false;

  constructor(private readonly visit: (record: AuditRecord) => void | Promise<void>) {
    super({ decodeStrings: true });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.consume(this.decoder.write(chunk)).then(
      () => callback(),
      (err) => {
        // kept and rethrown by finish(): an 'error' event here would have no listener
        this.failure ??= err;
        callback();
      },
    );
  }

  private async consume(text: string): Promise<void> {
    if (this.failure !== undefined || this.malformed) return;
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) {
      if (line === '') continue;
      let record: AuditRecord;
      try {
        record = JSON.parse(line) as AuditRecord;
      } catch {
        this.malformed = true;
        return;
      }
      await this.visit(record);
    }
  }

  finish(origin: string): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.malformed || this.rest !== '') throw badResponse(origin, 'an audit listing that is not one JSON record per line');
  }
}
