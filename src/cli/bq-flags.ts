/**
 * Accepts the flag spellings agents already use with `bq query` on plain `hoopq query`:
 * `--use_legacy_sql=false`, `--nouse_legacy_sql`, `--max_rows=N`, `--dry_run[=true|false]`,
 * `--nodry_run`, `--format=…`. They are rewritten to hoopq's own flags before commander
 * parses, so there is one definition of each option. Legacy SQL itself is refused: hoopq
 * analyses GoogleSQL only. (`hoopq bq` parses bq's whole flag syntax itself: src/cli/bq/.)
 */
import { UsageError } from '../errors.js';

const ALIASES: Record<string, string> = {
  '--max_rows': '--max-rows',
  '--nodry_run': '',
  '--nouse_legacy_sql': '',
};

export function normaliseBqFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const [flag, value] = splitFlag(arg);
    if (flag === '--use_legacy_sql') {
      let v = value;
      if (v === undefined && argv[i + 1] !== undefined && /^(true|false)$/i.test(argv[i + 1]!)) v = argv[++i];
      if (v === undefined || /^true$/i.test(v)) {
        throw new UsageError('usage.legacy_sql', 'legacy SQL is not supported', { hint: 'use GoogleSQL: --use_legacy_sql=false or --nouse_legacy_sql' });
      }
      continue;
    }
    if (flag === '--dry_run') {
      if (value === undefined || /^(true|1)$/i.test(value)) out.push('--dry-run');
      else if (!/^(false|0)$/i.test(value)) throw new UsageError('usage.bool_flag', `--dry_run takes true or false, not "${value}"`);
      continue;
    }
    if (flag in ALIASES) {
      const to = ALIASES[flag]!;
      if (to !== '') out.push(value === undefined ? to : `${to}=${value}`);
      continue;
    }
    out.push(arg);
  }
  return out;
}

function splitFlag(arg: string): [string, string | undefined] {
  if (!arg.startsWith('--')) return [arg, undefined];
  const eq = arg.indexOf('=');
  return eq === -1 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
