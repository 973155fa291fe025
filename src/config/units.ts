/** Durations (`500ms`, `60s`, `5m`, `1h`) and byte sizes (`10GiB`, `1GB`, `1000`) as written in YAML. */
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value * 1000 : undefined; // bare numbers are seconds
  const m = DURATION.exec(value.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * DURATION_MS[m[2]!]!;
  return ms > 0 ? Math.round(ms) : undefined;
}

const BYTES = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)?$/;
const BYTE_FACTORS: Record<string, number> = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15,
  KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, PiB: 2 ** 50,
};

export function parseBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const m = BYTES.exec(value.trim());
  if (!m) return undefined;
  const n = Math.floor(Number(m[1]) * BYTE_FACTORS[m[2] ?? 'B']!);
  return n > 0 ? n : undefined;
}
