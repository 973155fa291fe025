/**
 * Where `audit verify --witness` finds the second copy of the checkpoints: a file path (the
 * `audit_witness` file, read by the verifier like `<log>.checkpoints`), or a gateway URL whose
 * `GET /v1/audit/checkpoint` serves the newest checkpoint. A witness that cannot be read fails
 * the verification (exit 9): completeness that cannot be checked is not assumed.
 */
import { resolve } from 'node:path';
import { AuditVerifyError } from '../errors.js';
import { parseCheckpointLine } from './checkpoint.js';
import type { CheckpointWitness } from './verify-audit-log.js';

export const CHECKPOINT_ROUTE = '/v1/audit/checkpoint';

export async function readCheckpointWitness(source: string, timeoutMs = 10_000): Promise<CheckpointWitness> {
  if (!/^https?:\/\//i.test(source)) return { name: source, file: resolve(source) };
  const url = new URL(source);
  if (url.pathname === '/' || url.pathname === '') url.pathname = CHECKPOINT_ROUTE;
  const unreadable = (why: string) =>
    new AuditVerifyError('audit.witness_unreadable', `cannot read the checkpoint witness ${url.origin}${url.pathname}: ${why}`, {
      rule: 'audit.witness',
      hint: 'check the gateway is up and the URL; without its checkpoint the log\'s completeness is not proven',
    });
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    throw unreadable((err as Error).message);
  }
  const text = await res.text();
  if (res.status === 404 && /"code":"audit\.no_checkpoint"/.test(text)) return { name: url.origin, checkpoints: [] };
  if (!res.ok) throw unreadable(`HTTP ${res.status}`);
  try {
    return { name: url.origin, checkpoints: [parseCheckpointLine(text)] };
  } catch (err) {
    throw unreadable(`the answer is not a checkpoint (${(err as Error).message})`);
  }
}
