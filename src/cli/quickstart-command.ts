/**
 * `hoopq quickstart [DIR]`: a working demo in DIR (default ./hoopq-demo): an embedded DuckDB
 * warehouse with personal data, two example policies, a config and keys; then the guided
 * tour on stderr. Afterwards every command works from inside DIR.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { verifyAuditLog } from '../audit/verify-audit-log.js';
import { UsageError } from '../errors.js';
import { createDemoWarehouse } from '../quickstart/create-demo-warehouse.js';
import { DEMO_CONFIG, DEMO_POLICY_NAMES, readDemoPolicy, readDemoPolicyTests } from '../quickstart/demo-files.js';
import { EDITOR_SCHEMAS, editorJsonSchemaText, type EditorSchemaName } from '../policy/editor-schemas.js';
import { runTour } from '../quickstart/run-tour.js';
import { mintToken } from '../pipeline/token-lifecycle.js';
import { loadContextAt } from './cli-context.js';
import type { CliState } from './main.js';

export function registerQuickstartCommand(program: Command, _state: CliState): void {
  program
    .command('quickstart')
    .description('set up a working demo (warehouse with personal data, policies, config, keys) and take the tour')
    .argument('[dir]', 'where to put the demo (default: ./hoopq-demo)')
    .option('--force', 'replace an existing demo in DIR')
    .option('--no-tour', 'set up only')
    .action(async (dirGiven: string | undefined, opts: { force?: boolean; tour: boolean }) => {
      const dirArg = dirGiven ?? './hoopq-demo';
      const dir = resolve(dirArg);
      const err = process.stderr;
      if (dirGiven === undefined && existsSync('hoopq.yaml')) {
        // run from inside a demo (or any hoopq folder): a second demo nested in it helps nobody
        throw new UsageError('usage.demo_nested', `refused to create a demo in ./hoopq-demo: this folder holds hoopq.yaml, so you are already in a hoopq folder`, {
          hint: 'use this one as it is, recreate it here with "hoopq quickstart . --force", or name another folder: hoopq quickstart DIR',
        });
      }
      if (existsSync(join(dir, 'hoopq.yaml')) && !opts.force) {
        throw new UsageError('usage.demo_exists', `${dir} already holds a hoopq demo`, { hint: `cd ${dirArg} and use it, or run "hoopq quickstart ${dirArg} --force" to start over` });
      }
      if (opts.force) {
        for (const f of ['demo.duckdb', 'demo.duckdb.wal', 'audit.jsonl', 'audit.jsonl.lock.db', 'audit.jsonl.checkpoints', '.hoopq', 'policies', 'schema', 'hoopq.yaml']) {
          rmSync(join(dir, f), { recursive: true, force: true });
        }
      }
      mkdirSync(join(dir, 'policies'), { recursive: true });
      err.write(`hoopq quickstart: creating a demo in ${dir}\n`);
      const counts = await createDemoWarehouse(join(dir, 'demo.duckdb'));
      err.write(`  warehouse  demo.duckdb: demo.crm.customers (${counts.customers} rows, with emails, phones, SSNs, notes), demo.crm.payment_cards, demo.analytics.events (${counts.events} rows), views\n`);
      for (const name of DEMO_POLICY_NAMES) {
        writeFileSync(join(dir, 'policies', `${name}.yaml`), readDemoPolicy(name));
        writeFileSync(join(dir, 'policies', `${name}.test.yaml`), readDemoPolicyTests(name));
      }
      err.write(`  policies   policies/analyst-agent.yaml (masks, detectors, deny payment cards), policies/scratch-writer.yaml, and their tests (*.test.yaml)\n`);
      writeFileSync(join(dir, 'hoopq.yaml'), DEMO_CONFIG);
      // the files name these schemas on their first line, for editors (yaml-language-server)
      mkdirSync(join(dir, 'schema'), { recursive: true });
      for (const [name, { file }] of Object.entries(EDITOR_SCHEMAS)) writeFileSync(join(dir, 'schema', file), editorJsonSchemaText(name as EditorSchemaName));
      err.write(`  config     hoopq.yaml; keys in .hoopq/keys (created now), audit log audit.jsonl; JSON Schemas for editors in schema/\n`);

      const ctx = loadContextAt(join(dir, 'hoopq.yaml'));
      try {
        const minted = await mintToken(ctx, { operator: 'operator:quickstart' }, { policy: 'analyst-agent', run: 'quickstart-tour', subject: 'quickstart', ttlSeconds: 3600 });
        err.write(`  token      minted for run quickstart-tour under policy analyst-agent (hoopq token mint --policy analyst-agent --run quickstart-tour)\n`);
        if (opts.tour) await runTour(ctx, minted.token, err);
        await ctx.close();
        const report = await verifyAuditLog(join(dir, 'audit.jsonl'), { keyDir: ctx.config.keysDir });
        err.write(`\n4. The audit log: every attempt above, allowed or refused, hash-chained\n  $ hoopq audit verify\n  -> ${report.ok ? `intact: ${report.records} records` : `BROKEN: ${report.firstBad?.problem}`}\n`);
        // a fresh run id each time: a run that was revoked stays revoked, and minting for it fails
        err.write(
          `\nNext:\n  cd ${dirArg}\n  RUN=explore-$(date +%s)\n  export HOOPQ_TOKEN=$(npx hoopq token mint --policy analyst-agent --run $RUN)\n  npx hoopq query --justification "exploring" "SELECT city, count(*) FROM customers GROUP BY city"\n  npx hoopq explain --format pretty "SELECT * FROM crm.payment_cards"\n  npx hoopq audit list --run $RUN\n  npx hoopq policy test                     # the policies' own tests (policies/*.test.yaml)\n`,
        );
      } finally {
        await ctx.close();
      }
    });
}
