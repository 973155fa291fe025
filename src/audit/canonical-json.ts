/**
 * The canonical JSON form the audit hash chain and checkpoint signatures are computed over
 * (docs/audit.md "Canonical form"). One value has exactly one canonical text:
 * - object members sorted by key, recursively, comparing UTF-16 code units (JavaScript's
 *   default sort, the order RFC 8785 JCS prescribes); members whose value is `undefined`
 *   are left out, as JSON.stringify does;
 * - no whitespace anywhere outside strings;
 * - strings (values and keys) escaped exactly as JSON.stringify escapes them (`\"`, `\\`,
 *   `\b \f \n \r \t`, other control characters and lone surrogates as lower-case `\uXXXX`,
 *   everything else verbatim as UTF-8) — the same rules as JCS;
 * - numbers must be finite; integers must be safe integers (|n| <= 2^53-1) so every JSON
 *   reader gets the same value back; numbers are written as JSON.stringify writes them (the
 *   ECMAScript shortest round-trip form, which is also JCS's), -0 as 0;
 * - only null, booleans, numbers, strings, arrays and plain objects: anything else (bigint,
 *   Date, Map, functions, symbols, `undefined` inside arrays) is refused, never coerced.
 * Refusals throw TypeError; the sink turns them into AuditWriteError (nothing is written).
 */

export function canonicalJson(value: unknown): string {
  return writeValue(value, '$', 0);
}

const MAX_DEPTH = 100;

function writeValue(value: unknown, at: string, depth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return writeNumber(value, at);
    case 'object':
      if (depth >= MAX_DEPTH) throw new TypeError(`canonical JSON: ${at} is nested deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(value)) return writeArray(value, at, depth);
      return writeObject(value as Record<string, unknown>, at, depth);
    default:
      throw new TypeError(`canonical JSON: ${at} is a ${typeof value}, which JSON cannot represent`);
  }
}

function writeNumber(n: number, at: string): string {
  if (!Number.isFinite(n)) throw new TypeError(`canonical JSON: ${at} is ${n}, not a finite number`);
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) {
    throw new TypeError(`canonical JSON: ${at} is ${n}, outside the safe integer range (readers would not get it back exactly)`);
  }
  return JSON.stringify(n);
}

function writeArray(items: unknown[], at: string, depth: number): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    // a hole or undefined would silently become null; refuse instead
    if (items[i] === undefined) throw new TypeError(`canonical JSON: ${at}[${i}] is undefined`);
    out += writeValue(items[i], `${at}[${i}]`, depth + 1);
  }
  return out + ']';
}

function writeObject(obj: Record<string, unknown>, at: string, depth: number): string {
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`canonical JSON: ${at} is a ${proto?.constructor?.name ?? 'non-plain object'}, not a plain object`);
  }
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(key) + ':' + writeValue(v, `${at}.${key}`, depth + 1);
  }
  return out + '}';
}
