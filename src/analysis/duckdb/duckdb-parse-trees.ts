/**
 * DuckDB's parse trees (`json_serialize_sql`: parse only, nothing is bound or run) of the
 * texts one analysis needs, fetched in as few engine calls as possible.
 *
 * Why: one analysis of a plain SELECT needs at least two trees (the lexing probe of
 * verify-duckdb-lexing.ts and the statement itself), and each `runAndReadAll` of a fresh
 * query costs DuckDB a prepare and the process two hops to libuv's pool (~1 ms, measured on
 * 1.5). Here the texts made known before a tree is asked for (`load`, by whichever step knows
 * them: the script's statements, the lexing probes) are serialised in one call, through a statement
 * prepared once per parser connection (`list_transform` over a bound list), so the second
 * and later analyses on a warm connection pay one execute (~0.5 ms) for all of them.
 *
 * Input: a parser connection. Output: per text, DuckDB's raw JSON string, exactly what
 * `SELECT json_serialize_sql(text)` returns. Invariants:
 * - the trees are DuckDB's own: this only batches the calls, it never derives or reuses a
 *   tree for a text other than the one serialised;
 * - the prepared statement is shared by the analyses on one connection, one at a time:
 *   bind and execute happen under one queue, so no analysis reads another's result;
 * - a failed call fails every text it carried (the caller turns it into a parse refusal);
 *   nothing is cached across analyses but the prepared statement itself.
 */
import { LIST, VARCHAR, listValue, type DuckDBConnection, type DuckDBPreparedStatement } from '@duckdb/node-api';

const SERIALIZE_LIST = 'SELECT list_transform(?::VARCHAR[], lambda t: json_serialize_sql(t)) AS trees';

interface SharedStatement {
  prepared: Promise<DuckDBPreparedStatement>;
  /** The tail of the calls queued on it. */
  tail: Promise<unknown>;
}

const byConnection = new WeakMap<DuckDBConnection, SharedStatement>();

/** The texts of one analysis and their trees, serialised in batches. */
export class DuckDbParseTrees {
  private readonly trees = new Map<string, Promise<string>>();
  /** Texts loaded but not fetched yet: the next engine call carries them all. */
  private readonly pending = new Set<string>();

  constructor(readonly parser: DuckDBConnection) {}

  /** Texts whose trees the next engine call fetches too (it is made when a tree is first asked for). */
  load(texts: readonly string[]): void {
    for (const text of texts) if (!this.trees.has(text)) this.pending.add(text);
  }

  /** DuckDB's raw JSON for `text`: fetched now, with every text loaded before, unless it was already. */
  raw(text: string): Promise<string> {
    if (!this.trees.has(text)) {
      this.pending.add(text);
      this.fetchPending();
    }
    return this.trees.get(text)!;
  }

  private fetchPending(): void {
    const texts = [...this.pending];
    this.pending.clear();
    const batch = serializeAll(this.parser, texts);
    texts.forEach((text, i) => {
      const tree = batch.then((raw) => raw[i]!);
      tree.catch(() => undefined); // a text nobody reads must not become an unhandled rejection
      this.trees.set(text, tree);
    });
  }
}

async function serializeAll(parser: DuckDBConnection, texts: string[]): Promise<string[]> {
  let shared = byConnection.get(parser);
  if (!shared) {
    const prepared = parser.prepare(SERIALIZE_LIST);
    shared = { prepared, tail: Promise.resolve() };
    byConnection.set(parser, shared);
    prepared.catch(() => byConnection.delete(parser)); // the next analysis prepares again
  }
  const { prepared } = shared;
  const call = shared.tail.then(async () => {
    const statement = await prepared;
    statement.bind([listValue(texts)], [LIST(VARCHAR)]);
    // materialised: one engine call, and its one row is read without another
    const result = await statement.run();
    return result.chunkCount > 0 ? result.getChunk(0).getRows()[0]?.[0] : undefined;
  });
  shared.tail = call.catch(() => undefined);
  const value = await call;
  const items = (value as { items?: unknown[] } | null | undefined)?.items;
  if (!Array.isArray(items) || items.length !== texts.length || items.some((t) => typeof t !== 'string')) {
    throw new Error(`json_serialize_sql returned ${Array.isArray(items) ? items.length : 'no'} trees for ${texts.length} texts`);
  }
  return items as string[];
}
