import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { mintRunToken, verifyRunToken } from './run-token.js';
import { loadSigningKey, privateKeyPath, publicKeyPath, readKeyset, rotateSigningKey } from './signing-keys.js';
import { openStateStore } from './state-store.js';
import type { StateStore } from './state-store.js';

const POLICY = { name: 'analyst', sha256: 'c'.repeat(64) };
const T0 = new Date('2030-06-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
const posix = process.platform !== 'win32';

let tmp: string;
let keysDir: string;
let state: StateStore;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-keys-'));
  keysDir = path.join(tmp, '.hoopq', 'keys');
  state = openStateStore(path.join(tmp, '.hoopq', 'state.db'));
});

afterEach(() => {
  state.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.runIf(posix)('key files and permissions', () => {
  it('creates the directory 0700, the private key 0600, the public key and keyset.json on first use', async () => {
    expect(fs.existsSync(keysDir)).toBe(false);
    const key = await loadSigningKey(keysDir, { now: T0 });
    expect(modeOf(keysDir)).toBe(0o700);
    expect(modeOf(privateKeyPath(keysDir, key.kid))).toBe(0o600);
    expect(fs.readFileSync(privateKeyPath(keysDir, key.kid), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(fs.readFileSync(publicKeyPath(keysDir, key.kid), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const keyset = readKeyset(keysDir)!;
    expect(keyset.keys).toEqual([{ kid: key.kid, created: T0.toISOString(), status: 'current', retired_at: null, retire_after: null }]);
    expect(keyset.deployment).toBe(key.deployment);
    // Loading again reuses the key and the deployment.
    expect((await loadSigningKey(keysDir)).kid).toBe(key.kid);
  });

  it('concurrent first use creates exactly one key', async () => {
    const kids = await Promise.all(Array.from({ length: 8 }, () => loadSigningKey(keysDir).then((k) => k.kid)));
    expect(new Set(kids).size).toBe(1);
    expect(readKeyset(keysDir)!.keys).toHaveLength(1);
  });

  it('refuses a private key with mode 0644, naming the file and the chmod that fixes it', async () => {
    const { token } = await mintRunToken({ keysDir, policy: POLICY, run: 'r', subject: 's', now: T0 });
    const kid = readKeyset(keysDir)!.keys[0]!.kid;
    const file = privateKeyPath(keysDir, kid);
    fs.chmodSync(file, 0o644);
    for (const attempt of [
      () => mintRunToken({ keysDir, policy: POLICY, run: 'r', subject: 's' }),
      () => verifyRunToken(token, { keysDir, state, now: T0 }),
      () => loadSigningKey(keysDir),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(3);
      expect((err as ConfigError).code).toBe('keys.permissions');
      expect((err as ConfigError).message).toContain(file);
      expect((err as ConfigError).message).toContain('0644');
      expect((err as ConfigError).hint).toBe(`chmod 600 ${file}`);
    }
    fs.chmodSync(file, 0o600);
    await expect(verifyRunToken(token, { keysDir, state, now: T0 })).resolves.toMatchObject({ run: 'r' });
  });

  it('refuses group-readable (0640) keys and a 0755 keys directory', async () => {
    const key = await loadSigningKey(keysDir);
    fs.chmodSync(privateKeyPath(keysDir, key.kid), 0o640);
    await expect(loadSigningKey(keysDir)).rejects.toMatchObject({ code: 'keys.permissions' });
    fs.chmodSync(privateKeyPath(keysDir, key.kid), 0o600);
    fs.chmodSync(keysDir, 0o755);
    const err = (await loadSigningKey(keysDir).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(keysDir);
    expect(err.hint).toBe(`chmod 700 ${keysDir}`);
  });

  it('a corrupt keyset.json is a ConfigError naming the file', async () => {
    await loadSigningKey(keysDir);
    fs.writeFileSync(path.join(keysDir, 'keyset.json'), '{"version": 1, "deployment": "x"');
    await expect(loadSigningKey(keysDir)).rejects.toMatchObject({ code: 'keys.keyset_invalid', exitCode: 3 });
  });
});

describe('rotation', () => {
  it('new tokens get the new kid; old tokens stay valid; the old private key is gone', async () => {
    const before = await mintRunToken({ keysDir, policy: POLICY, run: 'r-old', subject: 's', now: T0, ttlSeconds: 43_200 });
    const rotation = await rotateSigningKey(keysDir, { now: at(60) });
    expect(rotation.retired).toEqual([before.identity.kid]);
    expect(rotation.kid).not.toBe(before.identity.kid);
    expect(fs.existsSync(privateKeyPath(keysDir, before.identity.kid))).toBe(false);
    expect(fs.existsSync(publicKeyPath(keysDir, before.identity.kid))).toBe(true);

    const after = await mintRunToken({ keysDir, policy: POLICY, run: 'r-new', subject: 's', now: at(120) });
    expect(after.identity.kid).toBe(rotation.kid);
    const header = JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()) as { kid: string };
    expect(header.kid).toBe(rotation.kid);

    await expect(verifyRunToken(before.token, { keysDir, state, now: at(3600) })).resolves.toMatchObject({ run: 'r-old', kid: before.identity.kid });
    await expect(verifyRunToken(after.token, { keysDir, state, now: at(3600) })).resolves.toMatchObject({ run: 'r-new' });
    // Still valid until its own expiry (12 h after mint, i.e. before retire_after).
    await expect(verifyRunToken(before.token, { keysDir, state, now: at(43_200 + 20) })).resolves.toBeTruthy();

    const keyset = readKeyset(keysDir)!;
    const old = keyset.keys.find((k) => k.kid === before.identity.kid)!;
    expect(old.status).toBe('retired');
    expect(Date.parse(old.retire_after!)).toBeGreaterThanOrEqual(at(60 + 43_200).getTime());
  });

  it('prunes a retired key only after its grace window and two more rotations', async () => {
    const first = await mintRunToken({ keysDir, policy: POLICY, run: 'r', subject: 's', now: T0 });
    await rotateSigningKey(keysDir, { now: T0 });
    // every token of the first key has expired by T0 + 12 h, but the grace window and the
    // rotation count keep it through the next rotation
    expect((await rotateSigningKey(keysDir, { now: at(13 * 3600) })).pruned).toEqual([]);
    const later = at(25 * 3600);
    const third = await rotateSigningKey(keysDir, { now: later });
    expect(third.pruned).toEqual([first.identity.kid]);
    expect(fs.existsSync(publicKeyPath(keysDir, first.identity.kid))).toBe(false);
    expect(readKeyset(keysDir)!.keys.map((k) => k.status)).toEqual(['retired', 'retired', 'current']);
    await expect(verifyRunToken(first.token, { keysDir, state, now: later })).rejects.toMatchObject({ code: 'token.unknown_kid' });
  });

  it('a rotation under a clock 13 h ahead cuts off no token that is still valid (issue 13)', async () => {
    const token = await mintRunToken({ keysDir, policy: POLICY, run: 'r-clock', subject: 's', now: T0, ttlSeconds: 8 * 3600 });
    await rotateSigningKey(keysDir, { now: at(60) }); // the right clock: the token's key is retired
    const ahead = await rotateSigningKey(keysDir, { now: at(13 * 3600) }); // a clock 13 h ahead
    expect(ahead.pruned).toEqual([]);
    await rotateSigningKey(keysDir, { now: at(14 * 3600) }); // and again, still ahead: past the rotation count
    expect(fs.existsSync(publicKeyPath(keysDir, token.identity.kid))).toBe(true);
    // back on the right clock, the token verifies until its own expiry
    await expect(verifyRunToken(token.token, { keysDir, state, now: at(2 * 3600) })).resolves.toMatchObject({ run: 'r-clock' });
    await expect(verifyRunToken(token.token, { keysDir, state, now: at(9 * 3600) })).rejects.toMatchObject({ code: 'token.expired' });
  });

  it('a rotation under a clock 11 h behind leaves the old key trusted for its tokens\' whole life', async () => {
    const token = await mintRunToken({ keysDir, policy: POLICY, run: 'r-slow', subject: 's', now: T0, ttlSeconds: 12 * 3600 });
    await rotateSigningKey(keysDir, { now: at(-11 * 3600) });
    await expect(verifyRunToken(token.token, { keysDir, state, now: at(12 * 3600 - 60) })).resolves.toMatchObject({ run: 'r-slow' });
  });

  it('minting while another caller rotates never fails and every token verifies', async () => {
    await loadSigningKey(keysDir);
    const work = [
      ...Array.from({ length: 6 }, (_, i) => mintRunToken({ keysDir, policy: POLICY, run: `r${i}`, subject: 's' })),
      rotateSigningKey(keysDir),
      rotateSigningKey(keysDir),
    ];
    const results = await Promise.all(work);
    for (const result of results.slice(0, 6)) {
      await expect(verifyRunToken((result as { token: string }).token, { keysDir, state })).resolves.toBeTruthy();
    }
    expect(readKeyset(keysDir)!.keys.filter((k) => k.status === 'current')).toHaveLength(1);
    const onDisk = fs.readdirSync(keysDir).filter((f) => f.endsWith('.key'));
    expect(onDisk).toEqual([`token-${readKeyset(keysDir)!.keys.find((k) => k.status === 'current')!.kid}.key`]);
  });

  it('rotating an empty directory creates the first key', async () => {
    const rotation = await rotateSigningKey(keysDir, { now: T0 });
    expect(rotation.retired).toEqual([]);
    expect((await loadSigningKey(keysDir)).kid).toBe(rotation.kid);
  });
});
