/**
 * How many records the refusals of unauthenticated callers may write, per source address.
 * Anyone can send requests without a credential; each refusal is recorded, compactly (the
 * body's size and digest, never the body), but one address cannot fill the audit log's disk
 * with them: after a burst, its refusals get a record of their own at `perMinute` a minute,
 * and the rest are counted and written as one `gateway.refusals_suppressed` record per
 * address when `drain` is called (every minute, and at shutdown).
 * Invariants: memory is bounded (at most `maxAddresses` tracked; beyond that all others share
 * one bucket); a refusal is either recorded or counted, never neither.
 */
export interface SuppressedRefusals {
  address: string;
  count: number;
  since: string;
  until: string;
}

export interface RefusalLimiter {
  /** True when this refusal from `address` may be recorded; false when it is only counted. */
  admit(address: string): boolean;
  /** The counts since the last drain, then forgets them. */
  drain(): SuppressedRefusals[];
}

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  since?: number;
  until?: number;
}

const OTHER_ADDRESSES = '(other addresses)';

export function createRefusalLimiter(options: { burst?: number; perMinute: number; maxAddresses?: number; now?: () => number }): RefusalLimiter {
  const burst = options.burst ?? Math.max(10, options.perMinute);
  const perMs = options.perMinute / 60_000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();

  return {
    admit(address) {
      const t = now();
      const key = buckets.has(address) || buckets.size < maxAddresses ? address : OTHER_ADDRESSES;
      let b = buckets.get(key);
      if (!b) buckets.set(key, (b = { tokens: burst, at: t, suppressed: 0 }));
      b.tokens = Math.min(burst, b.tokens + (t - b.at) * perMs);
      b.at = t;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return true;
      }
      b.suppressed += 1;
      b.since ??= t;
      b.until = t;
      return false;
    },
    drain() {
      const t = now();
      const out: SuppressedRefusals[] = [];
      for (const [address, b] of buckets) {
        if (b.suppressed > 0) {
          out.push({ address, count: b.suppressed, since: new Date(b.since!).toISOString(), until: new Date(b.until!).toISOString() });
          b.suppressed = 0;
          b.since = undefined;
          b.until = undefined;
        }
        // a full bucket with nothing to report holds no state worth keeping
        if (Math.min(burst, b.tokens + (t - b.at) * perMs) >= burst) buckets.delete(address);
      }
      return out;
    },
  };
}
