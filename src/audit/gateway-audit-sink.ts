/**
 * An AuditSink that is a hoopq gateway (`audit: https://…` in a direct-mode config): each
 * append is one POST to /v1/audit/records, answered 201 only after the gateway's own sink
 * has fsync'd the record and chained it (seq, prev, hash are the gateway's). So the
 * pipeline's rule holds unchanged: nothing runs before its intent record is durable — at
 * the gateway, out of the writer's reach.
 *
 * Credential: the gateway's audit-writer key, copied into this config's keys folder as
 * `audit-writer.key` (mode 0600). Any failure to append — network, timeout, refusal — is an
 * AuditWriteError (exit 8); a bad URL or a missing key is a ConfigError (exit 3).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AuditWriteError, ConfigError, isHoopqError } from '../errors.js';
import { gatewayEndpoint, postJson } from '../gateway-client/gateway-client.js';
import { checkGatewayUrl } from '../gateway-client/gateway-url.js';
import { readSecretKey } from '../identity/secret-key-file.js';
import type { AuditRecord, AuditRecordBody, AuditSink } from './audit-record.js';

export interface GatewayAuditSinkOptions {
  /** The audit-writer key file. */
  keyFile: string;
  /** Per append; default 10 s. */
  timeoutMs?: number;
}

export async function openGatewayAuditSink(url: string, options: GatewayAuditSinkOptions): Promise<AuditSink> {
  let base: URL;
  try {
    base = checkGatewayUrl(url, 'audit');
  } catch (err) {
    throw new ConfigError('config.audit_url', isHoopqError(err) ? err.message : `bad audit URL ${url}`, {
      rule: 'config.audit',
      hint: isHoopqError(err) ? err.hint : undefined,
    });
  }
  const key = readSecretKey(options.keyFile);
  const endpoint = gatewayEndpoint(base, '/v1/audit/records');
  const agent = base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async append(body: AuditRecordBody): Promise<AuditRecord> {
      let answer: { status: number; json: unknown };
      try {
        answer = await postJson(endpoint, key, body, { agent, timeoutMs });
      } catch (err) {
        throw new AuditWriteError('audit.gateway_unreachable', `audit record could not be written to the gateway at ${base.origin}: ${(err as Error).message}`, {
          hint: 'check that the audit gateway is running and reachable; a query whose intent record could not be written was not run',
          cause: err,
        });
      }
      const json = answer.json as { seq?: unknown; hash?: unknown; prev?: unknown; error?: { message?: unknown } } | undefined;
      if (answer.status !== 201 || typeof json?.seq !== 'number' || typeof json.hash !== 'string' || typeof json.prev !== 'string') {
        const why = typeof json?.error?.message === 'string' ? json.error.message : `HTTP ${answer.status}`;
        throw new AuditWriteError('audit.gateway_refused', `audit record could not be written to the gateway at ${base.origin}: ${why}`, {
          hint: answer.status === 401 ? `check ${options.keyFile}: it must be a copy of the gateway's audit-writer.key` : 'see the gateway\'s log',
        });
      }
      return { ...body, seq: json.seq, prev: json.prev, hash: json.hash };
    },
    async close() {
      agent.destroy();
    },
  };
}
