/**
 * scanCells: content detectors over result rows, on the way from the warehouse to the caller.
 *
 * Input: rows as the warehouse yields them (arrays of JSON-compatible values; structs and
 * maps as plain objects, lists as arrays, JSON columns as objects or as text).
 * Output: the same rows with every detector match replaced by its `[NAME]` text, and
 * per-detector match counts for the audit record.
 * Invariants: every string is scanned, at any depth, object keys included (a map's keys are
 * data); input rows are never mutated (changed containers are copied); counts hold numbers
 * only, never matched values; unknown detector names are refused, not ignored.
 */
import { ConfigError } from '../errors.js';
import { DETECTORS, type DetectorName } from '../policy/policy.js';
import { DETECTOR_BY_NAME, DETECTOR_ORDER, measureText, type Detector } from './detectors/index.js';

export interface CellScanner {
  /** The row with matches replaced; the same array when nothing matched. */
  scanRow(row: unknown[]): unknown[];
  /** Matches replaced so far, per enabled detector (0 included). */
  counts(): Record<string, number>;
}

// Integers this large may be card numbers stored in a numeric column; smaller ones cannot
// match any detector (the shortest numeric-only match, a card, has 13 digits).
const MIN_SCANNED_INTEGER = 1e12;

export function createCellScanner(detectors: readonly DetectorName[]): CellScanner {
  for (const name of detectors) {
    if (!(DETECTORS as readonly string[]).includes(name)) {
      throw new ConfigError('policy.unknown_detector', `refused: unknown content detector "${String(name)}"`, {
        rule: 'detect',
        hint: `detect may list: ${DETECTORS.join(', ')}`,
      });
    }
  }
  const active: Detector[] = DETECTOR_ORDER.filter((n) => detectors.includes(n)).map((n) => DETECTOR_BY_NAME[n]);
  const matched = new Array<number>(active.length).fill(0);
  const scratch = measureText('');

  function scanText(text: string): string {
    // Counted once on the original text: a replacement only removes digits, `@`, `:` and
    // dots, so the counts stay an upper bound and `admits` stays a necessary condition.
    const traits = measureText(text, scratch);
    let out = text;
    for (let i = 0; i < active.length; i++) {
      const detector = active[i]!;
      if (!detector.admits(traits)) continue;
      const r = detector.redact(out);
      if (r.count > 0) {
        matched[i]! += r.count;
        out = r.text;
      }
    }
    return out;
  }

  function scanValue(value: unknown): unknown {
    switch (typeof value) {
      case 'string':
        return scanText(value);
      case 'number':
      case 'bigint': {
        if (!(value >= MIN_SCANNED_INTEGER || value <= -MIN_SCANNED_INTEGER)) return value;
        const text = typeof value === 'number' ? (Number.isInteger(value) ? value.toFixed(0) : String(value)) : value.toString();
        const scanned = scanText(text);
        return scanned === text ? value : scanned;
      }
      case 'object':
        if (value === null) return value;
        if (Array.isArray(value)) return scanArray(value);
        if (value instanceof Map) return scanMap(value);
        if (isPlainObject(value)) return scanObject(value as Record<string, unknown>);
        return value; // Date, bytes: not text
      default:
        return value;
    }
  }

  function scanArray(values: unknown[]): unknown[] {
    let copy: unknown[] | undefined;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const s = scanValue(v);
      if (s !== v) {
        copy ??= values.slice();
        copy[i] = s;
      }
    }
    return copy ?? values;
  }

  function scanObject(obj: Record<string, unknown>): Record<string, unknown> {
    const keys = Object.keys(obj);
    let changed = false;
    const entries: Array<[string, unknown]> = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const v = obj[k];
      const sk = scanText(k);
      const sv = scanValue(v);
      if (sk !== k || sv !== v) changed = true;
      entries[i] = [sk, sv];
    }
    if (!changed) return obj;
    return Object.fromEntries(uniqueKeys(entries)); // fromEntries defines "__proto__" as data
  }

  function scanMap(map: Map<unknown, unknown>): Map<unknown, unknown> {
    let changed = false;
    const entries: Array<[unknown, unknown]> = [];
    for (const [k, v] of map) {
      const sk = scanValue(k);
      const sv = scanValue(v);
      if (sk !== k || sv !== v) changed = true;
      entries.push([sk, sv]);
    }
    if (!changed) return map;
    return new Map(uniqueKeys(entries));
  }

  return {
    scanRow(row) {
      return active.length === 0 ? row : scanArray(row);
    },
    counts() {
      const out: Record<string, number> = {};
      active.forEach((d, i) => (out[d.name] = matched[i]!));
      return out;
    },
  };
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Two keys redacted to the same text ("a@x.io" and "b@y.io" both become "[EMAIL]") would
 * silently drop an entry; later ones get a numeric suffix instead.
 */
function uniqueKeys<K, V>(entries: Array<[K, V]>): Array<[K, V]> {
  const seen = new Set<K>();
  return entries.map(([k, v]) => {
    let key = k;
    if (typeof k === 'string') {
      for (let n = 2; seen.has(key); n++) key = `${k}_${n}` as K;
    }
    seen.add(key);
    return [key, v];
  });
}
