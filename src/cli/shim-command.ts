/**
 * `hoopq shim install DIR`: puts a `bq` command in DIR that runs `hoopq bq` (a two-line
 * shell script naming this node and this hoopq by absolute path), so an agent whose PATH
 * starts with DIR types `bq query …` and is governed by hoopq. An existing `bq` in DIR that
 * hoopq did not write is left alone unless --force.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliState } from './main.js';

const MARK = '# written by hoopq shim install';

export function registerShimCommand(program: Command, _state: CliState): void {
  const shim = program.command('shim').description('a `bq` command that runs hoopq bq, for agents used to bq');
  shim
    .command('install')
    .description('write DIR/bq, which runs `hoopq bq`; put DIR first on the agent\'s PATH')
    .argument('<dir>', 'the folder to put bq in (created if missing)')
    .option('--force', 'replace a bq in DIR that hoopq did not write')
    .action((dirArg: string, opts: { force?: boolean }) => {
      const dir = resolve(dirArg);
      const target = join(dir, 'bq');
      if (existsSync(target) && !opts.force && !readFileSync(target, 'utf8').includes(MARK)) {
        throw new UsageError('usage.shim_exists', `${target} exists and was not written by hoopq`, { hint: `choose another folder, or replace it with hoopq shim install ${dirArg} --force` });
      }
      mkdirSync(dir, { recursive: true });
      const hoopq = fileURLToPath(new URL('../../bin/hoopq', import.meta.url));
      writeFileSync(target, `#!/bin/sh\n${MARK}: bq is hoopq bq (docs/bq.md)\nexec ${shellQuote(process.execPath)} ${shellQuote(hoopq)} bq "$@"\n`, { mode: 0o755 });
      chmodSync(target, 0o755);
      process.stdout.write(`${target}\n`);
      process.stderr.write(`hoopq: wrote ${target}; put ${dir} first on the agent's PATH (export PATH="${dir}:$PATH")\n`);
    });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
