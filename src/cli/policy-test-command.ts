/**
 * `hoopq policy test [FILE|DIR…]`: runs policy test files (default: every NAME.test.yaml in
 * the configured policies folder) offline against the analysis, the policy and the configured
 * warehouse's catalog. Text like a test runner, or `--format junit` for CI. Exit 0 when every
 * case passes, 10 when one fails, 3 when a test file or its policy is invalid.
 */
import type { Command } from 'commander';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, PolicyTestFailedError, UsageError } from '../errors.js';
import { isPolicyTestFile } from '../policy/load-policy.js';
import { formatPolicyTestJunit, formatPolicyTestText, totalsOf } from '../output/policy-test-report.js';
import { runPolicyTests } from '../pipeline/run-policy-tests.js';
import { loadCliContext } from './cli-context.js';

export function registerPolicyTestCommand(policy: Command): void {
  policy
    .command('test')
    .description('run policy test files (NAME.test.yaml: example queries and the decision each must get) offline')
    .argument('[paths...]', 'test files or folders of them (default: the configured policies folder)')
    .option('--format <format>', 'text or junit (JUnit XML for CI)', 'text')
    .action(async (paths: string[], opts: { format: string }, cmd: Command) => {
      if (opts.format !== 'text' && opts.format !== 'junit') {
        throw new UsageError('usage.format', `--format must be text or junit, not "${opts.format}"`, { hint: 'hoopq policy test --format junit > policy-tests.xml' });
      }
      const ctx = loadCliContext(cmd);
      try {
        const files = testFilesIn(paths.length > 0 ? paths.map((p) => resolve(p)) : [ctx.config.policiesDir], paths.length === 0);
        if (files.length === 0) {
          throw new UsageError('usage.no_policy_tests', `no policy test files (NAME.test.yaml) in ${paths.length > 0 ? paths.join(', ') : ctx.config.policiesDir}`, {
            hint: 'write policies/NAME.test.yaml next to policies/NAME.yaml (docs/policies.md, "Testing policies")',
          });
        }
        const results = await runPolicyTests(ctx.parts, files);
        process.stdout.write(opts.format === 'junit' ? formatPolicyTestJunit(results, new Date()) : formatPolicyTestText(results));
        const t = totalsOf(results);
        if (t.errors > 0) {
          const first = results.find((r) => r.error)!.error!;
          throw new ConfigError('config.policy_test_invalid', `${t.errors} of ${t.files} policy test file${t.files === 1 ? '' : 's'} could not run (first: ${first.message})`, { hint: first.hint });
        }
        if (t.failed > 0) {
          throw new PolicyTestFailedError('policy_test.failed', `${t.failed} of ${t.tests} policy test${t.tests === 1 ? '' : 's'} failed`, {
            hint: 'each failure above shows the expected (-) and actual (+) decision; fix the policy or the test',
          });
        }
      } finally {
        await ctx.close();
      }
    });
}

/** Test files among the paths: files as given (any name), folders searched (not recursively) for NAME.test.yaml. */
function testFilesIn(paths: string[], implicit: boolean): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      if (implicit) continue;
      throw new UsageError('usage.no_such_file', `${p}: no such file or folder`, { hint: 'give policy test files (NAME.test.yaml) or folders holding them' });
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    for (const f of readdirSync(p).sort()) if (isPolicyTestFile(f)) out.push(join(p, f));
  }
  return [...new Set(out)];
}
