/**
 * Suggests tables close to one an agent asked for and was refused (or that does not exist),
 * so the refusal can say what to read instead. Pure: the caller passes the candidates, and
 * passes only tables the policy lets it read, so a suggestion never names a table the agent
 * could not query anyway.
 * Closeness: edit distance between the table parts, helped by a shared dataset and by a
 * shared word (`payment_cards` ~ `card_spend`); far-off names are not suggested at all.
 */

/** At most `limit` candidates, closest first (ties by name). */
export function suggestTables(asked: string, candidates: readonly string[], limit = 3): string[] {
  const target = splitName(asked);
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of new Set(candidates)) {
    if (name.toLowerCase() === asked.toLowerCase()) continue;
    const score = closeness(target, splitName(name));
    if (score < CUTOFF) scored.push({ name, score });
  }
  scored.sort((a, b) => a.score - b.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return scored.slice(0, limit).map((s) => s.name);
}

/** Below this a candidate is close enough to suggest (0 = same table name). */
const CUTOFF = 0.6;

interface SplitName {
  dataset: string;
  table: string;
  words: string[];
}

function splitName(name: string): SplitName {
  const parts = name.toLowerCase().split('.');
  const table = parts[parts.length - 1] ?? '';
  return { dataset: parts.length >= 2 ? parts[parts.length - 2]! : '', table, words: table.split(/[_\-\s]+/).filter((w) => w.length >= 3) };
}

function closeness(a: SplitName, b: SplitName): number {
  let score = editDistance(a.table, b.table) / Math.max(a.table.length, b.table.length, 1);
  if (a.dataset !== '' && a.dataset === b.dataset) score -= 0.3;
  if (a.table.includes(b.table) || b.table.includes(a.table) || sharesWord(a.words, b.words)) score -= 0.3;
  return score;
}

/** A shared word, counting a plural or other suffix as the same word (`card` ~ `cards`). */
function sharesWord(a: string[], b: string[]): boolean {
  return a.some((x) => b.some((y) => x.startsWith(y) || y.startsWith(x)));
}

/** Levenshtein distance, two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
