/**
 * `hoopq policy diff`: the change as a reviewer reads it — what it grants, what it takes
 * away, what else changes, and (with a warehouse at hand) the tables and columns it opens or
 * closes. Plain text for a terminal, or Markdown for a pull request comment.
 */
import { relative } from 'node:path';
import type { PolicyDiff } from '../policy/diff-policies.js';
import type { TableAccessChanges } from '../pipeline/compare-table-access.js';

export function formatPolicyDiff(diff: PolicyDiff, access: TableAccessChanges | null, style: 'text' | 'markdown', cwd = process.cwd()): string {
  const md = style === 'markdown';
  const code = (s: string) => (md ? `\`${s}\`` : s);
  const rel = (p: string) => relative(cwd, p) || p;
  const out: string[] = [];
  const name = diff.old.name === diff.new.name ? diff.new.name : `${diff.old.name} -> ${diff.new.name}`;
  out.push(md ? `### Policy change: ${code(name)}` : `policy diff: ${name}`);
  out.push(`${code(rel(diff.old.file))} (sha256 ${diff.old.sha256.slice(0, 12)}…) -> ${code(rel(diff.new.file))} (sha256 ${diff.new.sha256.slice(0, 12)}…)`);
  const section = (title: string, mark: string, items: Array<{ area: string; text: string }>) => {
    out.push('', md ? `**${title}**` : `${title}:`);
    if (items.length === 0) out.push(md ? '- nothing' : '  nothing');
    for (const i of items) out.push(md ? `- ${code(i.area)}: ${i.text}` : `  ${mark} ${i.area}: ${i.text}`);
  };
  if (diff.old.sha256 === diff.new.sha256) {
    out.push('', 'the two files are identical');
    return out.join('\n') + '\n';
  }
  section('Grants', '+', diff.grants);
  section('Takes away', '-', diff.takes_away);
  if (diff.other.length > 0) section('Other changes', '~', diff.other);
  if (access) {
    const items: Array<{ area: string; text: string }> = [
      ...access.newly_readable.map((t) => ({ area: 'readable', text: `${code(t.table)} becomes readable${maskNote(t.masks, code)}` })),
      ...access.no_longer_readable.map((t) => ({ area: 'refused', text: `${code(t.table)} is no longer readable (rule ${t.rule ?? 'unnamed'})` })),
      ...access.mask_changes.map((m) => ({
        area: m.to === null ? 'unmasked' : m.from === null ? 'masked' : 'mask',
        text: `${code(m.column)}: ${m.from ?? 'clear'} -> ${m.to ?? 'clear'} when reading ${m.through.map(code).join(', ')}`,
      })),
    ];
    out.push('', md ? `**In the warehouse** (${access.tables} tables and views checked through, as queries see them)` : `in the warehouse (${access.tables} tables and views checked through, as queries see them):`);
    if (items.length === 0) out.push(md ? '- no table or column changes for a `SELECT *`' : '  no table or column changes for a SELECT *');
    for (const i of items) out.push(md ? `- ${i.text}` : `  ${i.area === 'refused' || i.area === 'masked' ? '-' : i.area === 'mask' ? '~' : '+'} ${i.text}`);
  }
  return out.join('\n') + '\n';
}

function maskNote(masks: Record<string, string>, code: (s: string) => string): string {
  const entries = Object.entries(masks);
  return entries.length === 0 ? ', unmasked' : `, masked: ${entries.map(([c, m]) => `${code(c)}=${m}`).join(', ')}`;
}
