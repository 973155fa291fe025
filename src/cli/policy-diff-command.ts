/**
 * `hoopq policy diff OLD NEW`: what a policy change grants and takes away, for review in a
 * pull request (`--format markdown`). OLD and NEW are policy files of any name (e.g. `git show
 * main:policies/a.yaml > /tmp/a.yaml`). With a configuration at hand the concrete tables and
 * columns the change opens or closes are listed too, from the warehouse's catalog.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { diffPolicies } from '../policy/diff-policies.js';
import { loadPolicy } from '../policy/load-policy.js';
import { formatPolicyDiff } from '../output/policy-diff-report.js';
import { compareTableAccess, type TableAccessChanges } from '../pipeline/compare-table-access.js';
import { nameDefaultsFor } from '../pipeline/decide-offline.js';
import { MemoizingWarehouse } from '../pipeline/memoizing-warehouse.js';
import { configPathFrom, loadContextAt } from './cli-context.js';

export function registerPolicyDiffCommand(policy: Command): void {
  policy
    .command('diff')
    .description('what a policy change grants and takes away (tables, statement kinds, masks, routines, destinations, limits), for review')
    .argument('<old>', 'the policy file before the change')
    .argument('<new>', 'the policy file after the change')
    .option('--format <format>', 'text, markdown (for a pull request) or json', 'text')
    .option('--no-catalog', "do not check the warehouse's tables, only the rules")
    .action(async (oldFile: string, newFile: string, opts: { format: string; catalog: boolean }, cmd: Command) => {
      if (!['text', 'markdown', 'json'].includes(opts.format)) {
        throw new UsageError('usage.format', `--format must be text, markdown or json, not "${opts.format}"`, { hint: 'hoopq policy diff --format markdown OLD NEW' });
      }
      const before = loadPolicy(oldFile, { nameMatchesFile: false });
      const after = loadPolicy(newFile, { nameMatchesFile: false });
      const diff = diffPolicies(before, after);
      let access: TableAccessChanges | null = null;
      const configPath = configPathFrom(cmd);
      if (opts.catalog && existsSync(configPath)) {
        const ctx = loadContextAt(configPath);
        try {
          const warehouse = new MemoizingWarehouse(await ctx.parts.openWarehouse({ writable: false, policy: after }));
          try {
            access = await compareTableAccess(warehouse, nameDefaultsFor(ctx.config, warehouse), before, after);
          } finally {
            await warehouse.close();
          }
        } finally {
          await ctx.close();
        }
      } else if (opts.catalog) {
        process.stderr.write(`hoopq: note: no configuration at ${configPath}; comparing the rules only (pass --config to check the warehouse's tables too)\n`);
      }
      process.stdout.write(opts.format === 'json' ? JSON.stringify({ ...diff, warehouse: access }, null, 2) + '\n' : formatPolicyDiff(diff, access, opts.format as 'text' | 'markdown'));
    });
}
