import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseListenAddress } from './listen-address.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:8470', { host: '127.0.0.1', port: 8470 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    [':9000', { host: '127.0.0.1', port: 9000 }],
    ['[::1]:8470', { host: '::1', port: 8470 }],
    ['0.0.0.0:443', { host: '0.0.0.0', port: 443 }],
    ['gw.internal:8443', { host: 'gw.internal', port: 8443 }],
  ])('%s', (text, expected) => expect(parseListenAddress(text)).toEqual(expected));

  it.each(['8470', '127.0.0.1', '127.0.0.1:70000', '127.0.0.1:-1', '::1:80', 'a:b', ''])('refuses %j', (text) => {
    expect(() => parseListenAddress(text)).toThrow(UsageError);
  });
});
