/**
 * Test set-up shared by the PostgreSQL audit tests: one real server for the file (when the
 * machine has PostgreSQL, see postgres-server.mjs), and before each test a fresh database and
 * a fresh keys folder (mode 0700) for the sink's checkpoint key. Call it at the top level of a
 * test file; read `server`, `url` and `keyDir` inside the tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { HAS_POSTGRES, startPostgres } from './postgres-server.mjs';

/** @param {string} keyDirPrefix */
export function usePgTestDatabase(keyDirPrefix) {
  /** @type {import('./postgres-server.mjs').PostgresServer | undefined} */
  let server;
  let url = '';
  let keyDir = '';
  beforeAll(async () => {
    if (HAS_POSTGRES) server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    if (!HAS_POSTGRES || !server) return;
    url = await server.createDatabase();
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), keyDirPrefix));
    fs.chmodSync(keyDir, 0o700);
  });
  return {
    get server() {
      return /** @type {import('./postgres-server.mjs').PostgresServer} */ (server);
    },
    get url() {
      return url;
    },
    get keyDir() {
      return keyDir;
    },
  };
}
