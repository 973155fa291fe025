/**
 * Durations (`500ms`, `60s`, `5m`, `1h`) and byte sizes (`10GiB`, `1GB`, `1000`) as written in
 * YAML. The patterns are exported so the schemas that validate policies (and the JSON Schema
 * generated from them for editors) accept exactly what these parsers accept: a number with at
 * least one non-zero digit, so every accepted value is positive.
 */
export const DURATION_PATTERN = /^\s*(?=[^1-9]*[1-9])(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value * 1000 : undefined; // bare numbers are seconds
  const m = DURATION_PATTERN.exec(value);
  if (!m) return undefined;
  // a positive value below one unit of resolution counts as one, never as zero (= no limit)
  return Math.max(1, Math.round(Number(m[1]) * DURATION_MS[m[2]!]!));
}

export const SIZE_PATTERN = /^\s*(?=[^1-9]*[1-9])(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)?\s*$/;
const BYTE_FACTORS: Record<string, number> = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15,
  KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, PiB: 2 ** 50,
};

export function parseBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const m = SIZE_PATTERN.exec(value);
  if (!m) return undefined;
  // a positive size below one byte counts as one byte, never as zero
  return Math.max(1, Math.floor(Number(m[1]) * BYTE_FACTORS[m[2] ?? 'B']!));
}
