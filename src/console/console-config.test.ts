import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { consoleOrigin, needsSecureCookies } from './console-config.js';

const refuse = (message: string): never => {
  throw new Error(message);
};

describe('console.url', () => {
  it.each([
    ['https://hoopq.internal:8470', 'https://hoopq.internal:8470'],
    ['https://hoopq.internal:8470/', 'https://hoopq.internal:8470'],
    ['http://127.0.0.1:8470', 'http://127.0.0.1:8470'],
    ['http://localhost:8470', 'http://localhost:8470'],
    ['http://[::1]:8470', 'http://[::1]:8470'],
  ])('%s is accepted as %s', (url, origin) => expect(consoleOrigin(url, refuse)).toBe(origin));

  it.each([
    ['http://hoopq.internal:8470', /plain http would send operators' session cookies unencrypted/],
    ['http://10.0.0.5:8470', /plain http/],
    ['ftp://hoopq.internal', /not an http\(s\) address/],
    ['https://hoopq.internal/hoopq', /more than an origin/],
    ['https://hoopq.internal/?next=x', /more than an origin/],
    ['https://user:pw@hoopq.internal', /more than an origin/],
  ])('%s is refused', (url, why) => expect(() => consoleOrigin(url, refuse)).toThrow(why));

  it('a refused url names the file, line and column of console.url (exit 3)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-console-config-'));
    const file = join(dir, 'hoopq.yaml');
    writeFileSync(file, 'warehouse: { kind: duckdb, path: ./w.duckdb }\nconsole:\n  url: http://hoopq.internal:8470\n');
    let caught: unknown;
    try {
      loadConfig(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'config.invalid', exitCode: 3 });
    expect((caught as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: invalid configuration \\(console\\.url\\): http://hoopq\\.internal:8470: plain http`));
  });
});

describe('approvals.webhooks[].url', () => {
  function load(url: string): unknown {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-webhook-config-'));
    const file = join(dir, 'hoopq.yaml');
    writeFileSync(file, `warehouse: { kind: duckdb, path: ./w.duckdb }\napprovals:\n  webhooks:\n    - name: ok\n      url: https://hooks.example/ok\n    - name: oncall\n      url: ${url}\n`);
    try {
      return loadConfig(file).approvals.webhooks.map((w) => w.url);
    } catch (err) {
      return (err as Error).message.replace(file, 'FILE');
    }
  }
  it.each(['https://hooks.slack.com/services/T0/B0/x', 'http://127.0.0.1:9000/hook', 'http://localhost/hook'])('%s is accepted', (url) => expect(load(url)).toEqual(['https://hooks.example/ok', url]));
  it.each(['http://hooks.example/hook', 'ftp://hooks.example/hook'])('%s is refused with its position', (url) =>
    expect(load(url)).toMatch(/^FILE:7:\d+: invalid configuration \(approvals\.webhooks\.1\.url\): .*only https is posted to/));
});

describe('needsSecureCookies', () => {
  it.each([
    [{ tls: false, listenHost: '127.0.0.1' }, false],
    [{ tls: false, listenHost: '127.0.0.1', url: 'http://localhost:8470' }, false],
    [{ tls: true, listenHost: '127.0.0.1' }, true],
    [{ tls: false, listenHost: '0.0.0.0' }, true],
    [{ tls: false, listenHost: '10.0.0.5' }, true],
    // TLS ends at a proxy in front of a loopback gateway: browsers still speak https
    [{ tls: false, listenHost: '127.0.0.1', url: 'https://hoopq.internal' }, true],
  ])('%o -> %s', (options, secure) => expect(needsSecureCookies(options)).toBe(secure));
});
