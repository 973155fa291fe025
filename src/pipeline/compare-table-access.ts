/**
 * The concrete side of `policy diff`: for every table and view the warehouse lists, whether a
 * `SELECT *` of it is allowed under the old and the new policy (views checked through, by the
 * same checkTableRead that listings use) and which masks it gets. Input: an open warehouse,
 * name defaults, two policies. Output: the tables a change opens or closes and the columns it
 * masks or unmasks, with the tables through which they are read. Reads the catalog only.
 */
import type { NameDefaults } from '../analysis/query-analysis.js';
import { isHoopqError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { checkTableRead, type TableRead } from './check-table-read.js';

export interface TableAccessChanges {
  /** Tables and views examined. */
  tables: number;
  newly_readable: Array<{ table: string; masks: Record<string, string> }>;
  no_longer_readable: Array<{ table: string; rule: string | null; reason: string }>;
  /** A column's mask before and after (null: unmasked), and the tables or views whose reads it applies to. */
  mask_changes: Array<{ column: string; from: string | null; to: string | null; through: string[] }>;
}

export async function compareTableAccess(warehouse: Warehouse, names: NameDefaults, before: Policy, after: Policy): Promise<TableAccessChanges> {
  const out: TableAccessChanges = { tables: 0, newly_readable: [], no_longer_readable: [], mask_changes: [] };
  const masks = new Map<string, TableAccessChanges['mask_changes'][number]>();
  for (const table of await warehouse.listTables()) {
    out.tables++;
    const was = await readOf(warehouse, table, before, names);
    const now = await readOf(warehouse, table, after, names);
    if ('refused' in was && 'refused' in now) continue;
    if ('refused' in was && !('refused' in now)) {
      out.newly_readable.push({ table, masks: now.masks });
      continue;
    }
    if ('refused' in now) {
      out.no_longer_readable.push({ table, rule: now.refused.rule, reason: now.refused.reason });
      continue;
    }
    const wasRead = was as TableRead;
    const nowRead = now as TableRead;
    for (const column of new Set([...Object.keys(wasRead.masks), ...Object.keys(nowRead.masks)])) {
      const from = wasRead.masks[column] ?? null;
      const to = nowRead.masks[column] ?? null;
      if (from === to) continue;
      const key = `${column}\0${from}\0${to}`;
      const entry = masks.get(key) ?? { column, from, to, through: [] };
      entry.through.push(table);
      masks.set(key, entry);
    }
  }
  out.mask_changes = [...masks.values()].sort((a, b) => (a.column < b.column ? -1 : a.column > b.column ? 1 : 0));
  return out;
}

async function readOf(warehouse: Warehouse, table: string, policy: Policy, names: NameDefaults): Promise<TableRead | { refused: { rule: string | null; reason: string } }> {
  try {
    return await checkTableRead(warehouse, table, policy, names);
  } catch (err) {
    if (!isHoopqError(err) || (err.exitCode !== 5 && err.exitCode !== 6)) throw err;
    return { refused: { rule: err.rule ?? null, reason: err.message } };
  }
}
