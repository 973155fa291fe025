/**
 * `hoopq policy …`: policy files as code. `validate [FILE…]` (every error names the file, line
 * and column) and `schema` live here; test, backtest and diff have a file each.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError, UsageError, isHoopqError } from '../errors.js';
import { EDITOR_SCHEMAS, editorJsonSchemaText, isEditorSchemaName } from '../policy/editor-schemas.js';
import { listPolicyFiles, loadPolicy } from '../policy/load-policy.js';
import { configPathFrom } from './cli-context.js';
import { loadConfig } from '../config/load-config.js';
import type { CliState } from './main.js';
import { registerPolicyTestCommand } from './policy-test-command.js';
import { registerPolicyBacktestCommand } from './policy-backtest-command.js';
import { registerPolicyDiffCommand } from './policy-diff-command.js';

export function registerPolicyCommands(program: Command, _state: CliState): void {
  const policy = program.command('policy').description('work with policy files: validate, test, backtest, diff, schema');
  policy
    .command('validate')
    .description('validate policies (default: every policy in the configured folder)')
    .argument('[files...]', 'policy files')
    .action(async (files: string[], _opts: unknown, cmd: Command) => {
      let targets = files;
      if (targets.length === 0) {
        const configPath = configPathFrom(cmd);
        if (!existsSync(configPath)) {
          throw new ConfigError('config.missing', `no policy files given and no configuration at ${configPath}`, { hint: 'hoopq policy validate policies/NAME.yaml' });
        }
        targets = listPolicyFiles(loadConfig(configPath).policiesDir);
      }
      let failures = 0;
      let first: ConfigError | undefined;
      for (const file of targets) {
        try {
          const p = loadPolicy(file);
          process.stdout.write(`ok ${file} (policy ${p.name}, sha256 ${p.sha256.slice(0, 12)}…)\n`);
        } catch (err) {
          if (!isHoopqError(err)) throw err;
          failures++;
          first ??= err as ConfigError;
          process.stderr.write(`hoopq: ${err.message}${err.hint ? `. ${err.hint}` : ''}\n`);
        }
      }
      if (failures > 0) {
        throw new ConfigError('config.policy_invalid', `${failures} of ${targets.length} polic${targets.length === 1 ? 'y is' : 'ies are'} invalid (first: ${first!.message})`);
      }
    });
  registerPolicyTestCommand(policy);
  registerPolicyBacktestCommand(policy);
  registerPolicyDiffCommand(policy);
  policy
    .command('schema')
    .description('print the JSON Schema of policy files (or of hoopq.yaml, or of policy test files) for editors')
    .argument('[which]', `policy, config or test`, 'policy')
    .action((which: string) => {
      if (!isEditorSchemaName(which)) {
        throw new UsageError('usage.schema', `no schema named "${which}"`, { hint: `use one of: ${Object.keys(EDITOR_SCHEMAS).join(', ')}` });
      }
      process.stdout.write(editorJsonSchemaText(which));
    });
}
