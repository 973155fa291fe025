/**
 * The `hash` mask's key. `hash` is HMAC-SHA256 of the value's text under a per-deployment
 * secret (`hash.key` beside the signing keys, mode 0600, created on first use, rotated with
 * `hoopq keys rotate --hash-key`), so equal values still hash equally — joins and GROUP BY on
 * a hashed column work within a deployment — but nobody without the key can test a guess
 * (`WHERE email = SHA256('ada@…')`, or hashing a dictionary offline) against a hash.
 *
 * The engines compute the HMAC themselves from SHA-256 (RFC 2104):
 *   HMAC(K, m) = SHA256((K ⊕ opad) ‖ SHA256((K ⊕ ipad) ‖ m))
 * with the two 64-byte padded keys hoopq derives here. They are the key: they are handed to
 * the engine only inside the mask (a BigQuery query parameter whose name the agent's SQL may
 * not use; a literal inside DuckDB's mask subquery, which the analysis recognises by its exact
 * parse tree), and scrubbed from every message. The `id` names a key without revealing it
 * (audit records carry it, so a reader knows which key produced a hash).
 */
import { createHash, createHmac } from 'node:crypto';

export interface HashKey {
  /** Not secret: 16 hex characters identifying the key. */
  id: string;
  /** K ⊕ ipad (64 bytes). Secret. */
  inner: Buffer;
  /** K ⊕ opad (64 bytes). Secret. */
  outer: Buffer;
}

const BLOCK = 64;

export function hashKeyFromSecret(secret: Buffer): HashKey {
  if (secret.length < 32) throw new Error('a hash key needs at least 32 bytes');
  const key = secret.length > BLOCK ? createHash('sha256').update(secret).digest() : secret;
  const padded = Buffer.concat([key, Buffer.alloc(BLOCK - key.length)]);
  return {
    id: createHash('sha256').update('hoopq hash key id\0').update(secret).digest('hex').slice(0, 16),
    inner: Buffer.from(padded.map((b) => b ^ 0x36)),
    outer: Buffer.from(padded.map((b) => b ^ 0x5c)),
  };
}

/** What an engine's `hash` mask computes for a value's text (tests and documentation use it). */
export function keyedHashHex(key: HashKey, text: string): string {
  const inner = createHash('sha256').update(key.inner).update(text, 'utf8').digest();
  return createHash('sha256').update(key.outer).update(inner).digest('hex');
}

/** Equivalent to keyedHashHex, through node's HMAC, for a secret of at most 64 bytes. */
export function hmacHex(secret: Buffer, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

/** Every spelling of the key material an engine could echo (hex either case, base64). */
export function hashKeyForms(key: HashKey): string[] {
  return [key.inner, key.outer].flatMap((b) => [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64url')]);
}

/** The text with every form of the key material replaced. */
export function scrubHashKey(text: string, key: HashKey | undefined): string {
  if (!key) return text;
  let out = text;
  for (const form of hashKeyForms(key)) out = out.split(form).join('[hash key]');
  return out;
}
