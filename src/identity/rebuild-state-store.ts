/**
 * rebuildStateFromAudit: what the state store held, read back from the audit log, for
 * `hoopq state init` after the store was lost.
 *
 * Input: the log's records, oldest first (verified by the caller). Output: the tokens
 * minted or exchanged (with their claims, never the token), every revocation with its time
 * and reason, and each run's count of started queries (its `query.intent` records).
 * Invariants: every revocation the log records comes back, so a revoked run stays revoked;
 * a run's count is at least the number of its queries that could have run (none runs
 * before its intent is in the log; a unit spent beside an intent that never became durable
 * is given back, so after recovery intents >= units): budgets can only come back tighter.
 */
import type { AuditRecord } from '../audit/audit-record.js';
import type { RunIdentity } from './run-identity.js';
import type { Revocation, RevocationKind } from './state-store.js';

export interface RebuiltState {
  tokens: RunIdentity[];
  revocations: Array<Revocation & { at: Date }>;
  queriesStarted: Map<string, number>;
  /** Records read. */
  records: number;
}

export async function rebuildStateFromAudit(records: AsyncIterable<AuditRecord>): Promise<RebuiltState> {
  const tokens = new Map<string, RunIdentity>();
  const revocations = new Map<string, Revocation & { at: Date }>();
  const queriesStarted = new Map<string, number>();
  let count = 0;
  for await (const r of records) {
    count += 1;
    if (r.event === 'query.intent' && typeof r.run === 'string') {
      queriesStarted.set(r.run, (queriesStarted.get(r.run) ?? 0) + 1);
    } else if ((r.event === 'token.mint' || r.event === 'token.exchange') && r.decision === 'allow') {
      const token = tokenOf(r);
      if (token) tokens.set(token.tokenId, token);
    } else if (r.event === 'token.revoke' && r.decision === 'allow') {
      const revoked = r.revoked as { kind?: unknown; value?: unknown } | undefined;
      const kind = revoked?.kind;
      if ((kind === 'run' || kind === 'token') && typeof revoked?.value === 'string' && revoked.value !== '') {
        const key = `${kind}\u0000${revoked.value}`;
        const at = new Date(Date.parse(r.time));
        if (!revocations.has(key) && !Number.isNaN(at.getTime())) {
          revocations.set(key, { kind: kind as RevocationKind, value: revoked.value, revokedAt: at.toISOString(), reason: typeof r.reason === 'string' ? r.reason : null, at });
        }
      }
    }
  }
  return { tokens: [...tokens.values()], revocations: [...revocations.values()], queriesStarted, records: count };
}

function tokenOf(r: AuditRecord): RunIdentity | undefined {
  const expires = typeof r.expires_at === 'string' ? Date.parse(r.expires_at) : NaN;
  const issued = Date.parse(r.time);
  if (typeof r.token_id !== 'string' || typeof r.run !== 'string' || typeof r.policy?.name !== 'string' || Number.isNaN(expires) || Number.isNaN(issued)) return undefined;
  return {
    tokenId: r.token_id,
    run: r.run,
    subject: typeof r.subject === 'string' ? r.subject : '',
    policy: r.policy.name,
    policySha256: typeof r.policy.token_sha256 === 'string' ? r.policy.token_sha256 : (r.policy.sha256 ?? ''),
    issuedAt: Math.floor(issued / 1000),
    expiresAt: Math.floor(expires / 1000),
    ...(typeof r.max_queries === 'number' ? { maxQueries: r.max_queries } : {}),
    kid: typeof r.kid === 'string' ? r.kid : '',
  };
}
