/**
 * hoopq as a user installs it (README, Install): the tarball `npm pack` makes from this
 * checkout, installed with `npm install -g` into a private prefix, so `hoopq` on PATH is the
 * package, not the checkout. Two deviations, both for the test machine, neither in the docs:
 * - `npm pack --ignore-scripts`: dist/ is the build the suite just made (`npm pack` would run
 *   the prepare script and rebuild it in the checkout other tests are running);
 * - no compiler run for better-sqlite3 (minutes on a loaded machine): npm installs with
 *   scripts off, tarballs from its cache where it has them (package metadata from the
 *   registry), and better-sqlite3's native build is copied from the checkout's (the same
 *   version for the same Node, checked), which is what its install script would have made.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../cli/cli-harness.js';

export interface PackedHoopq {
  /** The tarball `npm pack` made (hoopq-VERSION.tgz). */
  tarball: string;
  version: string;
}

export function packCheckout(into: string): PackedHoopq {
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
  const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', into, ROOT], { cwd: into, encoding: 'utf8', env: { ...process.env, ...npmEnv(into) } }).trim().split('\n').pop()!;
  return { tarball: join(into, name), version };
}

/** npm settings for installs in tests: a private global prefix, the cache first, no scripts. */
export function npmEnv(prefix: string): Record<string, string> {
  return {
    npm_config_prefix: prefix,
    npm_config_prefer_offline: 'true',
    npm_config_ignore_scripts: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

/**
 * The shell step that follows `npm install -g` with scripts off: the native module
 * better-sqlite3's install script would have built, copied from the checkout.
 */
export function nativeInstallStep(prefix: string): string {
  const build = join(ROOT, 'node_modules', 'better-sqlite3', 'build');
  // none on a Node with node:sqlite that never built it: hoopq does not load better-sqlite3 there
  return existsSync(build) ? `cp -R ${JSON.stringify(build)} ${JSON.stringify(installedBetterSqlite(prefix))}/` : ':';
}

/** Whether the copied build is for the version installed (checked after the install). */
export function checkNativeInstall(prefix: string): void {
  const version = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version as string;
  const installed = installedBetterSqlite(prefix);
  if (!existsSync(installed)) throw new Error(`better-sqlite3 is not where npm install -g puts it (${installed})`);
  const built = join(ROOT, 'node_modules', 'better-sqlite3');
  if (version(installed) !== version(built)) throw new Error(`better-sqlite3 ${version(installed)} installed, ${version(built)} built in the checkout`);
}

function installedBetterSqlite(prefix: string): string {
  return join(prefix, 'lib', 'node_modules', 'hoopq', 'node_modules', 'better-sqlite3');
}
