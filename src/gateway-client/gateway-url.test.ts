import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { checkGatewayUrl, isLoopbackHost } from './gateway-url.js';

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true], ['127.1.2.3', true], ['::1', true], ['[::1]', true], ['localhost', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['10.0.0.1', false], ['::', false], ['localhost.evil.com', false], ['127.0.0.1.nip.io', false], ['128.0.0.1', false],
  ])('%s -> %s', (host, expected) => expect(isLoopbackHost(host)).toBe(expected));
});

describe('checkGatewayUrl: the token never crosses the network in clear text', () => {
  it.each(['https://gw.example.com', 'https://10.0.0.5:8470/base', 'http://127.0.0.1:8470', 'http://localhost:1', 'http://[::1]:8470'])('accepts %s', (u) => {
    expect(checkGatewayUrl(u).href.startsWith(u.split(':')[0]!)).toBe(true);
  });
  it.each(['http://gw.example.com', 'http://10.0.0.5:8470', 'http://127.0.0.1.nip.io', 'ftp://127.0.0.1', 'not a url', 'https://user:pw@gw.example.com'])('refuses %s', (u) => {
    expect(() => checkGatewayUrl(u)).toThrow(UsageError);
  });
});
