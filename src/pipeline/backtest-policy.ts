/**
 * policy backtest: what a proposed policy would have decided for the queries the audit log
 * recorded. Every recorded query in scope (its outcome record; an intent only when its outcome
 * is missing) is decided again offline with the exact SQL (unsealed where the log holds it
 * sealed) through decideOffline — the same analysis, policy evaluation and mask planning as
 * `query` — and compared with the recorded decision and masks.
 * Input: the log, the proposed policy, a read-only (memoizing) warehouse, the scope.
 * Output: a BacktestReport: the changes (allowed -> denied, denied -> allowed, masks added,
 * removed or changed) grouped and counted, with every record id and an example of each.
 * Invariants: reads the log and the catalog only; prints no unsealed SQL (examples show the
 * `sql` as logged, refusal messages are scrubbed of the sealed text's literals).
 * Speed: analysis does not depend on the policy, and the decision depends on the justification
 * only through whether one was given, so each distinct (SQL, justification given) is decided
 * once; memoizing warehouses share analyses and catalog answers across them; new texts are
 * decided on several warehouses at once while the log is read on.
 */
import type { NameDefaults } from '../analysis/query-analysis.js';
import type { AuditRecord } from '../audit/audit-record.js';
import { listAuditRecords, logHasPolicy } from '../audit/read-audit-log.js';
import { unsealSql } from '../audit/seal-sql.js';
import { isHoopqError } from '../errors.js';
import { scrubLiterals } from '../masking/redact-sql-literals.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { decideOffline, type OfflineDecision } from './decide-offline.js';

export interface BacktestScope {
  /** Replay the records of this policy; null: every query record, whatever its policy. */
  recordedPolicy: string | null;
  /**
   * When the log holds no record of `recordedPolicy` (a new policy has no history), replay
   * every query record instead, and say so in the report.
   */
  allWhenNoRecords?: boolean;
  since?: Date;
  run?: string;
}

export interface BacktestInput extends BacktestScope {
  logPath: string;
  /** How the report names the log, when logPath is a temporary copy (a log in PostgreSQL). */
  logName?: string;
  policy: Policy;
  /**
   * Read-only warehouses on the same catalog (memoizing ones: see memoizing-warehouse.ts);
   * distinct SQL texts are decided on all of them at once.
   */
  warehouses: Warehouse[];
  names: NameDefaults;
  /** The deployment's SQL sealing key; null when it is not at hand (sealed records are then skipped). */
  sealKey: Buffer | null;
  /** Told the records replayed so far (drives the command's progress line on a terminal). */
  onReplayed?: (replayed: number) => void;
}

export const CHANGE_KINDS = ['allow_to_deny', 'deny_to_allow', 'masks_added', 'masks_removed', 'masks_changed'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const SKIP_REASONS = {
  not_a_policy_decision: 'refused or failed before the policy decided (token, configuration, internal error)',
  budget: 'refused by the per-run budget limits.max_queries (run state, not replayed)',
  dry_run: "decided by the warehouse's dry run (not replayed offline)",
  sealed_sql_unreadable: 'the exact SQL is sealed and cannot be opened with the keys at hand',
  no_sql: 'the record holds no SQL',
} as const;
export type SkipReason = keyof typeof SKIP_REASONS;

export interface DecisionSummary {
  decision: 'allow' | 'deny';
  rule: string | null;
  code: string | null;
  reason: string | null;
  masks: Record<string, string>;
}

export interface BacktestExample {
  id: string;
  time: string;
  run: string | null;
  /** The SQL as the log shows it (literals redacted where the log redacts them). */
  sql: string;
  recorded: DecisionSummary;
  now: DecisionSummary;
}

export interface ChangeGroup {
  /** A change of decision or masks, or (listed apart) a refusal by another rule. */
  kind: ChangeKind | 'deny_rule_changed';
  /** One line saying what changes, e.g. `demo.crm.customers.email: hash -> (none)`. */
  label: string;
  rule?: string | null;
  code?: string | null;
  table?: string | null;
  tables?: string[];
  column?: string;
  from?: string | null;
  to?: string | null;
  count: number;
  /** The query records (outcomes, or intents whose outcome is missing), oldest first. */
  records: string[];
  /** Their intent records, where they have one. */
  intents: string[];
  example: BacktestExample;
}

export interface BacktestReport {
  policy: { name: string; file: string; sha256: string };
  log: string;
  scope: { recorded_policy: string | null; since: string | null; run: string | null; note?: string };
  /** Query records decided again. */
  replayed: number;
  distinct_sql: number;
  unchanged: number;
  /** Records with at least one change (a record with two mask changes counts once). */
  changed: number;
  skipped: Record<SkipReason, number>;
  changes: Record<ChangeKind, { records: number; groups: ChangeGroup[] }>;
  /** Denied before and after, by another rule: not a change of decision, listed for review. */
  denied_by_another_rule: { records: number; groups: ChangeGroup[] };
  /** Query records of other policies in the window, left out of scope. */
  other_policies: Record<string, number>;
}

type Recorded = { decision: 'allow' | 'deny'; rule: string | null; code: string | null; reason: string | null; masks: Record<string, string> } | { skip: SkipReason };

const DRY_RUN_CODES = new Set(['analysis.dry_run', 'analysis.dry_run_mismatch', 'analysis.dry_run_statement_type', 'policy.too_many_tables', 'policy.bytes_exceeded']);
const EXIT_BY_CODE_PREFIX: Array<[string, number]> = [['token.', 4], ['policy.', 5], ['analysis.', 6], ['masking.', 6]];

export async function backtestPolicy(given: BacktestInput): Promise<BacktestReport> {
  let input = given;
  let note: string | undefined;
  if (input.recordedPolicy !== null && input.allWhenNoRecords && !(await logHasPolicy(input.logPath, input.recordedPolicy))) {
    note = `the log holds no query of policy ${input.recordedPolicy} (a new policy): every policy's recorded queries are replayed`;
    input = { ...input, recordedPolicy: null };
  }
  const report = emptyReport(input);
  if (note) report.scope.note = note;
  const groups = new Map<string, ChangeGroup>();
  const ruleGroups = new Map<string, ChangeGroup>();
  // every record is compared once, so counting as it is compared counts records, not changes
  const recordsByKind = Object.fromEntries([...CHANGE_KINDS, 'deny_rule_changed'].map((k) => [k, 0])) as Record<ChangeKind | 'deny_rule_changed', number>;
  const pendingIntents = new Map<string, AuditRecord>();
  const pool = new DecisionPool(input);

  /** The record's recorded decision and exact SQL, or a skip counted now. */
  const prepare = (record: AuditRecord, intentId: string | null): Replay | undefined => {
    const recorded = recordedDecisionOf(record);
    if ('skip' in recorded) {
      report.skipped[recorded.skip]++;
      return undefined;
    }
    const sql = exactSql(record, input.sealKey);
    if (sql === null) {
      report.skipped.sealed_sql_unreadable++;
      return undefined;
    }
    const justification = typeof record.justification === 'string' ? record.justification : null;
    const justified = Boolean(justification && justification.trim());
    // only what the report needs is kept: whole records held while decisions are pending would
    // leave V8's young generation and make the garbage collector a large cost of a backtest
    const ref: RecordRef = { id: record.id, time: record.time, run: record.run, sql: record.sql ?? '', sealed: typeof record.sql_sealed === 'string', justification };
    return { record: ref, intentId, recorded, sql, key: (justified ? '1' : '0') + sql };
  };

  const finish = ({ record, intentId, recorded, key }: Replay) => {
    const now = pool.decided(key)!;
    report.replayed++;
    given.onReplayed?.(report.replayed);
    const found = compareDecisions(recorded, now);
    if (found.length === 0) {
      if (recorded.decision === 'deny' && now.decision === 'deny' && (recorded.rule !== now.rule || recorded.code !== now.code)) {
        const label = `${describeRule(recorded.rule, recorded.code)} -> ${describeRule(now.rule, now.code)}`;
        addToGroup(ruleGroups, label, () => ({ kind: 'deny_rule_changed', label, from: recorded.rule, to: now.rule, code: now.code }), record, intentId, recorded, now);
        recordsByKind.deny_rule_changed++;
      }
      report.unchanged++;
      return;
    }
    report.changed++;
    let counted: ChangeKind | undefined;
    for (const change of found) {
      addToGroup(groups, `${change.kind}\0${change.key}`, () => ({ kind: change.kind, label: change.label, ...change.fields }), record, intentId, recorded, now);
      // a record's changes come grouped by kind (two masks removed: two in a row)
      if (change.kind !== counted) recordsByKind[change.kind]++;
      counted = change.kind;
    }
  };

  // Records are compared in log order. A record whose SQL is not decided yet waits, with those
  // after it, while the log is read on: reading and parsing (this thread) overlap deciding
  // (the warehouses' threads), up to MAX_WAITING records.
  const waiting = new ReplayQueue();
  /** Compares the waiting records whose SQL is decided, from the oldest, up to one that is not. */
  const compareReady = () => {
    for (let head = waiting.peek(); head && pool.decided(head.key); head = waiting.peek()) finish(waiting.shift()!);
  };
  /** Waits for decisions until at most `room` records wait. */
  const drain = async (room: number) => {
    compareReady();
    while (waiting.length > room) {
      await pool.settled(waiting.peek()!.key);
      compareReady();
    }
  };
  const replay = (r: Replay | undefined): Promise<void> | undefined => {
    if (!r) return undefined;
    pool.request(r);
    waiting.push(r);
    compareReady();
    return waiting.length >= MAX_WAITING ? drain(MAX_WAITING / 2) : undefined;
  };

  for await (const record of listAuditRecords(input.logPath, { run: input.run, since: input.since })) {
    if (typeof record.event !== 'string' || !record.event.startsWith('query')) continue;
    const name = typeof record.policy?.name === 'string' ? record.policy.name : null;
    if (input.recordedPolicy !== null && name !== input.recordedPolicy) {
      // counted once per query: by its outcome (or its refusal), not its intent
      if (record.event !== 'query.intent') {
        const other = name ?? '(none: refused before a policy was known)';
        report.other_policies[other] = (report.other_policies[other] ?? 0) + 1;
      }
      continue;
    }
    if (record.event === 'query.intent') {
      pendingIntents.set(record.id, record);
      continue;
    }
    const intentId = typeof record.intent === 'string' ? record.intent : null;
    if (intentId) pendingIntents.delete(intentId);
    const wait = replay(prepare(record, intentId));
    if (wait) await wait;
  }
  // an intent whose outcome never came (the process died while the query ran) is still a query that ran
  for (const intent of pendingIntents.values()) await replay(prepare(intent, null));
  await drain(0);

  report.distinct_sql = pool.distinctSql();
  for (const g of groups.values()) report.changes[g.kind as ChangeKind].groups.push(g);
  for (const kind of CHANGE_KINDS) {
    report.changes[kind].records = recordsByKind[kind];
    report.changes[kind].groups.sort(byCount);
  }
  report.denied_by_another_rule.records = recordsByKind.deny_rule_changed;
  report.denied_by_another_rule.groups = [...ruleGroups.values()].sort(byCount);
  return report;
}

/** Records read ahead of the oldest one still waiting for its decision. */
const MAX_WAITING = 8192;

/**
 * Decides each distinct (SQL, justification given) once, on whichever warehouse is free: as
 * many decisions run at once as there are warehouses.
 */
class DecisionPool {
  private readonly done = new Map<string, OfflineDecision>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly free: Warehouse[];
  private readonly queue: Array<(w: Warehouse) => void> = [];

  constructor(private readonly input: BacktestInput) {
    this.free = [...input.warehouses];
  }

  decided(key: string): OfflineDecision | undefined {
    return this.done.get(key);
  }

  /** Starts deciding the replay's SQL unless it is decided or under way. */
  request(r: Replay): void {
    if (this.done.has(r.key) || this.running.has(r.key)) return;
    const task = this.withWarehouse((w) => decideOffline(w, r.sql, this.input.policy, r.record.justification, this.input.names)).then((d) => {
      this.done.set(r.key, d);
      this.running.delete(r.key);
    });
    // a failure is raised where the decision is awaited (settled), never left unhandled meanwhile
    task.catch(() => undefined);
    this.running.set(r.key, task);
  }

  /** Resolves once the key is decided; rejects with the decision's failure. */
  async settled(key: string): Promise<void> {
    await this.running.get(key);
  }

  distinctSql(): number {
    return new Set([...this.done.keys()].map((k) => k.slice(1))).size;
  }

  private async withWarehouse<T>(work: (w: Warehouse) => Promise<T>): Promise<T> {
    const w = this.free.pop() ?? (await new Promise<Warehouse>((resolve) => this.queue.push(resolve)));
    try {
      return await work(w);
    } finally {
      const next = this.queue.shift();
      if (next) next(w);
      else this.free.push(w);
    }
  }
}

/** First in, first out, without Array#shift's copying. */
class ReplayQueue {
  private items: Replay[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(r: Replay): void {
    this.items.push(r);
  }

  peek(): Replay | undefined {
    return this.items[this.head];
  }

  shift(): Replay | undefined {
    const r = this.items[this.head];
    if (r === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as Replay;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return r;
  }
}

/** What a report keeps of a record. */
interface RecordRef {
  id: string;
  time: string;
  run: string | null;
  /** As logged. */
  sql: string;
  sealed: boolean;
  justification: string | null;
}

interface Replay {
  record: RecordRef;
  intentId: string | null;
  recorded: Exclude<Recorded, { skip: SkipReason }>;
  sql: string;
  /** Whether a justification was given, and the exact SQL: all a decision depends on besides the policy. */
  key: string;
}

function emptyReport(input: BacktestInput): BacktestReport {
  return {
    policy: { name: input.policy.name, file: input.policy.file, sha256: input.policy.sha256 },
    log: input.logName ?? input.logPath,
    scope: { recorded_policy: input.recordedPolicy, since: input.since?.toISOString() ?? null, run: input.run ?? null },
    replayed: 0,
    distinct_sql: 0,
    unchanged: 0,
    changed: 0,
    skipped: Object.fromEntries(Object.keys(SKIP_REASONS).map((k) => [k, 0])) as Record<SkipReason, number>,
    changes: Object.fromEntries(CHANGE_KINDS.map((k) => [k, { records: 0, groups: [] }])) as unknown as BacktestReport['changes'],
    denied_by_another_rule: { records: 0, groups: [] },
    other_policies: {},
  };
}

/** The decision the log records, as the policy stage made it; or why the record cannot be compared. */
function recordedDecisionOf(record: AuditRecord): Recorded {
  if (typeof record.sql !== 'string') return { skip: 'no_sql' };
  const masks = record.masked?.columns ?? {};
  // an intent is written only once the query passed every check
  if (record.event === 'query.intent' || record.decision === 'allow') return { decision: 'allow', rule: null, code: null, reason: null, masks };
  const code = typeof record.code === 'string' ? record.code : null;
  const exit = typeof record.exit_code === 'number' ? record.exit_code : (EXIT_BY_CODE_PREFIX.find(([p]) => code?.startsWith(p))?.[1] ?? null);
  if (record.decision === 'error') {
    // exit 7: the policy let it run and the warehouse failed it
    return exit === 7 ? { decision: 'allow', rule: null, code: null, reason: null, masks } : { skip: 'not_a_policy_decision' };
  }
  if (code === 'policy.budget_spent') return { skip: 'budget' };
  if (code !== null && DRY_RUN_CODES.has(code)) return { skip: 'dry_run' };
  if (exit !== 5 && exit !== 6) return { skip: 'not_a_policy_decision' };
  return { decision: 'deny', rule: record.rule ?? null, code, reason: record.reason, masks };
}

function exactSql(record: AuditRecord, key: Buffer | null): string | null {
  if (typeof record.sql_sealed !== 'string') return record.sql;
  if (!key) return null;
  try {
    return unsealSql(record.sql_sealed, key);
  } catch (err) {
    if (isHoopqError(err)) return null;
    throw err;
  }
}

interface FoundChange {
  kind: ChangeKind;
  key: string;
  label: string;
  fields: Partial<ChangeGroup>;
}

function compareDecisions(recorded: Exclude<Recorded, { skip: SkipReason }>, now: OfflineDecision): FoundChange[] {
  if (recorded.decision === 'allow' && now.decision === 'deny') {
    const what = now.table ? `${describeRule(now.rule, now.code)}: ${now.table}` : describeRule(now.rule, now.code);
    return [{ kind: 'allow_to_deny', key: `${now.code}\0${now.rule}\0${now.table}`, label: `now refused by ${what}`, fields: { rule: now.rule, code: now.code, table: now.table } }];
  }
  if (recorded.decision === 'deny' && now.decision === 'allow') {
    const tables = now.tables.read;
    const reads = tables.length > 0 ? `; reads ${tables.join(', ')}` : '';
    return [{ kind: 'deny_to_allow', key: `${recorded.code}\0${recorded.rule}\0${tables.join(',')}`, label: `was refused by ${describeRule(recorded.rule, recorded.code)}${reads}`, fields: { rule: recorded.rule, code: recorded.code, tables } }];
  }
  if (recorded.decision === 'deny') return [];
  // by kind (added, changed, removed), so that a record's changes of one kind stand together
  const added: FoundChange[] = [];
  const changed: FoundChange[] = [];
  const removed: FoundChange[] = [];
  for (const [column, method] of Object.entries(now.masks)) {
    const before = recorded.masks[column];
    if (before === undefined) added.push({ kind: 'masks_added', key: `${column}\0${method}`, label: `${column}: now ${method}`, fields: { column, from: null, to: method } });
    else if (before !== method) changed.push({ kind: 'masks_changed', key: `${column}\0${before}\0${method}`, label: `${column}: ${before} -> ${method}`, fields: { column, from: before, to: method } });
  }
  for (const [column, method] of Object.entries(recorded.masks)) {
    if (!(column in now.masks)) removed.push({ kind: 'masks_removed', key: `${column}\0${method}`, label: `${column}: was ${method}, now unmasked`, fields: { column, from: method, to: null } });
  }
  return added.length + changed.length + removed.length === 0 ? added : [...added, ...changed, ...removed];
}

function addToGroup(
  groups: Map<string, ChangeGroup>,
  key: string,
  make: () => Partial<ChangeGroup> & Pick<ChangeGroup, 'kind' | 'label'>,
  record: RecordRef,
  intentId: string | null,
  recorded: Exclude<Recorded, { skip: SkipReason }>,
  now: OfflineDecision,
): ChangeGroup {
  let g = groups.get(key);
  if (!g) {
    g = { ...make(), count: 0, records: [], intents: [], example: exampleOf(record, recorded, now) };
    groups.set(key, g);
  }
  g.count++;
  g.records.push(record.id);
  if (intentId) g.intents.push(intentId);
  return g;
}

function exampleOf(record: RecordRef, recorded: Exclude<Recorded, { skip: SkipReason }>, now: OfflineDecision): BacktestExample {
  // a refusal message may quote the SQL: never echo a literal the log keeps sealed
  const scrub = (s: string | null) => (s === null || !record.sealed ? s : scrubLiterals(s, now.sqlLiterals));
  return {
    id: record.id,
    time: record.time,
    run: record.run,
    sql: record.sql,
    recorded: { decision: recorded.decision, rule: recorded.rule, code: recorded.code, reason: recorded.reason, masks: recorded.masks },
    now: { decision: now.decision, rule: now.rule, code: now.code, reason: scrub(now.reason), masks: now.masks },
  };
}

function describeRule(rule: string | null, code: string | null): string {
  if (rule && code) return `${rule} (${code})`;
  return rule ?? code ?? 'an unnamed rule';
}

function byCount(a: { count: number; label: string }, b: { count: number; label: string }): number {
  return b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
}
