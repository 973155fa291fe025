/** `--since` / `--until` values: an RFC 3339 time, or a duration ago (30m, 24h, 30d). */
import { UsageError } from '../errors.js';

export function parseTime(v: string, now = Date.now()): Date {
  const ago = /^(\d+)(s|m|h|d)$/.exec(v);
  if (ago) return new Date(now - Number(ago[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[ago[2] as 's' | 'm' | 'h' | 'd']);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError('usage.time', `"${v}" is not a time`, { hint: 'write an RFC 3339 time (2026-11-28T10:00:00Z) or a duration ago (30m, 24h, 30d)' });
  return d;
}
