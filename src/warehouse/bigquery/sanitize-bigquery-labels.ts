/**
 * Job labels made valid for BigQuery, whose rules are: at most 64 labels; keys and values at
 * most 63 characters of lowercase letters, digits, `_` and `-`; keys start with a letter.
 * A job with an invalid label is rejected, so labels are sanitised rather than passed
 * through: lower-cased, every other character replaced by `_`, a key that does not start with
 * a letter prefixed with `k`. A value too long is cut and ends with 8 hex digits of the
 * original's SHA-256, so two long run ids never collapse into one label value.
 */
import { createHash } from 'node:crypto';

const MAX_LENGTH = 63;
const MAX_LABELS = 64;

export function sanitizeBigQueryLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (Object.keys(out).length >= MAX_LABELS) break;
    let k = clean(key);
    if (!/^[a-z]/.test(k)) k = `k${k}`;
    out[fit(k, key)] = fit(clean(value), value);
  }
  return out;
}

function clean(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
}

function fit(cleaned: string, original: string): string {
  if (cleaned.length <= MAX_LENGTH) return cleaned;
  const digest = createHash('sha256').update(original).digest('hex').slice(0, 8);
  return `${cleaned.slice(0, MAX_LENGTH - 9)}-${digest}`;
}
