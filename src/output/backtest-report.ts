/**
 * The text of `hoopq policy backtest`: what would change, grouped and counted, each group with
 * an example (the SQL as the log shows it, the recorded and the new decision) and every record
 * id. `--format json` prints the BacktestReport itself.
 */
import { relative } from 'node:path';
import { CHANGE_KINDS, SKIP_REASONS, type BacktestReport, type ChangeGroup, type ChangeKind, type DecisionSummary, type SkipReason } from '../pipeline/backtest-policy.js';

const TITLES: Record<ChangeKind, string> = {
  allow_to_deny: 'allowed -> denied',
  deny_to_allow: 'denied -> allowed',
  masks_added: 'new masks',
  masks_removed: 'masks removed',
  masks_changed: 'masks changed',
};

export function formatBacktestText(r: BacktestReport, cwd = process.cwd()): string {
  const out: string[] = [];
  const rel = (p: string) => relative(cwd, p) || p;
  out.push(`policy backtest: ${rel(r.policy.file)} (policy ${r.policy.name}, sha256 ${r.policy.sha256.slice(0, 12)}…) over ${rel(r.log)}`);
  const scope = [
    r.scope.recorded_policy === null ? 'query records of every policy' : `query records of policy ${r.scope.recorded_policy}`,
    r.scope.since ? `since ${r.scope.since}` : 'all time',
    ...(r.scope.run ? [`run ${r.scope.run}`] : []),
  ];
  if (r.scope.note) out.push(`note: ${r.scope.note}`);
  out.push(`replayed ${n(r.replayed)} ${scope.join(', ')} (${n(r.distinct_sql)} distinct SQL text${r.distinct_sql === 1 ? '' : 's'})`);
  const skipped = (Object.entries(r.skipped) as Array<[SkipReason, number]>).filter(([, c]) => c > 0);
  for (const [why, count] of skipped) out.push(`  skipped ${n(count)}: ${SKIP_REASONS[why]}`);
  const others = Object.entries(r.other_policies);
  if (others.length > 0) out.push(`  not in scope: ${others.map(([p, c]) => `${n(c)} of ${p}`).join(', ')}${r.scope.recorded_policy !== null ? ' (--recorded-policy NAME or --all-policies to replay them)' : ''}`);
  if (r.replayed === 0 && r.scope.recorded_policy !== null) out.push(`  no query of policy ${r.scope.recorded_policy} in the log${others.length > 0 ? '' : ' at all'}`);
  out.push('', `${n(r.unchanged)} unchanged, ${n(r.changed)} would change: ${CHANGE_KINDS.map((k) => `${n(r.changes[k].records)} ${TITLES[k]}`).join(', ')}`);
  for (const kind of CHANGE_KINDS) {
    const c = r.changes[kind];
    if (c.groups.length === 0) continue;
    out.push('', `${TITLES[kind]}: ${n(c.records)} quer${c.records === 1 ? 'y' : 'ies'}`);
    for (const g of c.groups) out.push(...formatGroup(g));
  }
  if (r.denied_by_another_rule.groups.length > 0) {
    out.push('', `still denied, by another rule: ${n(r.denied_by_another_rule.records)} quer${r.denied_by_another_rule.records === 1 ? 'y' : 'ies'}`);
    for (const g of r.denied_by_another_rule.groups) out.push(...formatGroup(g));
  }
  return out.join('\n') + '\n';
}

function formatGroup(g: ChangeGroup): string[] {
  const e = g.example;
  const lines = [`  ${n(g.count)} × ${g.label}`, `      e.g. ${e.id} at ${e.time}${e.run ? ` (run ${e.run})` : ''}`, `        sql: ${oneLine(e.sql, 200)}`];
  lines.push(`        recorded: ${summary(e.recorded)}`, `        now:      ${summary(e.now)}`);
  lines.push(...wrapIds('      records: ', g.records));
  if (g.intents.length > 0) lines.push(...wrapIds('      their intents: ', g.intents));
  return lines;
}

function summary(d: DecisionSummary): string {
  if (d.decision === 'deny') return `deny${d.reason ? ` — ${oneLine(d.reason, 200)}` : d.rule ? ` (rule ${d.rule})` : ''}`;
  const masks = Object.entries(d.masks);
  return `allow${masks.length > 0 ? `, masks ${masks.map(([c, m]) => `${c}=${m}`).join(', ')}` : ', no masks'}`;
}

/** Every id, a few to a line: the report names each record that would change. */
function wrapIds(head: string, ids: string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < ids.length; i += 3) lines.push(`${i === 0 ? head : ' '.repeat(head.length)}${ids.slice(i, i + 3).join(', ')}${i + 3 < ids.length ? ',' : ''}`);
  return lines;
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}
