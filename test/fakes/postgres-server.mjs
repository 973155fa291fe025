/**
 * A real PostgreSQL server for the tests of the shared state and audit stores (not a fake:
 * Debian's postgresql package, started from its own binaries in a throwaway data directory).
 *
 * Each startPostgres() runs `initdb` and `postgres` on 127.0.0.1 at a free port, with its
 * socket in the data directory, and returns a URL per database the test asks for. As root
 * (CI containers) the server runs as the `postgres` user the package created, since PostgreSQL
 * refuses to run as root. Where the binaries are missing the tests that need them are
 * skipped and say so, except under CI, where .ci/run installs the package and a missing
 * server is a failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * The postmaster's pid, from the first line of `postmaster.pid` in its data directory.
 * @param {string} data
 * @returns {number | undefined}
 */
function postmasterPid(data) {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** @returns {string | undefined} */
function findBin() {
  if (process.env.HOOPQ_PG_BIN) return process.env.HOOPQ_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

export const PG_BIN = findBin();
export const HAS_POSTGRES = PG_BIN !== undefined;
if (!HAS_POSTGRES) {
  if (process.env.CI) throw new Error('CI: no PostgreSQL server binaries under /usr/lib/postgresql; .ci/run installs Debian\'s postgresql package');
  process.stderr.write("hoopq tests: no PostgreSQL server (apt-get install postgresql); the replica tests on PostgreSQL are skipped\n");
}

/**
 * @typedef {object} PostgresServer
 * @property {number} port
 * @property {(name?: string) => Promise<string>} createDatabase a new empty database on this server, as a postgres:// URL (no password: trust on 127.0.0.1)
 * @property {(url: string, text: string, params?: unknown[]) => Promise<import('pg').QueryResult>} sql runs SQL as the superuser against a database of this server
 * @property {() => Promise<void>} stop stops the server (fast shutdown) and removes its data directory
 */

/** @returns {Promise<number>} */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = /** @type {{ port: number }} */ (server.address()).port;
      server.close(() => resolve(port));
    });
  });
}

let databases = 0;

/** @returns {Promise<PostgresServer>} */
export async function startPostgres() {
  if (!PG_BIN) throw new Error('no PostgreSQL binaries');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-pg-'));
  const data = join(dir, 'data');
  const user = asRoot ? 'postgres' : userInfo().username;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  /** @type {(bin: string, args: string[]) => [string, string[]]} */
  const run = (bin, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args]);
  const [initCmd, initArgs] = run('initdb', ['-D', data, '-A', 'trust', '-U', user, '--no-sync', '-E', 'UTF8', '--locale=C']);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [cmd, args] = run('postgres', ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${data}`, '-c', 'fsync=on', '-c', 'max_connections=200']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d) => (log = (log + d.toString()).slice(-4000)));
  const admin = `postgres://${user}@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: admin });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`PostgreSQL did not start: ${/** @type {Error} */ (err).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  /** @type {(url: string, text: string, params?: unknown[]) => Promise<import('pg').QueryResult>} */
  const sql = async (url, text, params) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await client.query(text, params);
    } finally {
      await client.end();
    }
  };
  return {
    port,
    async createDatabase(name = `hoopq_${process.pid}_${++databases}`) {
      await sql(admin, `CREATE DATABASE "${name}"`);
      return `postgres://${user}@127.0.0.1:${port}/${name}`;
    },
    sql,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // as root `child` is runuser, which does not pass SIGINT on (its postgres would be left
        // running, orphaned, on a deleted data directory): signal the postmaster itself
        const postmaster = postmasterPid(data) ?? child.pid;
        const signal = (/** @type {NodeJS.Signals} */ sig) => {
          try {
            if (postmaster !== undefined) process.kill(postmaster, sig);
          } catch {
            // already gone
          }
        };
        signal('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null && child.signalCode === null) {
          signal('SIGKILL');
          child.kill('SIGKILL');
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
