import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../errors.js';
import { checkRequestOrigin, createOriginRules } from './request-origin.js';

const loopback = createOriginRules('127.0.0.1');

function refusal(headers: { host?: string; origin?: string }, rules = loopback): string | null {
  try {
    checkRequestOrigin(headers, rules);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return (err as AuthError).code;
  }
}

describe('Host: a rebinding name is refused, the gateway’s own names pass', () => {
  it.each(['127.0.0.1:8470', 'localhost:8470', 'LOCALHOST', '[::1]:8470', '127.0.0.1'])('accepts %s on loopback', (host) => {
    expect(refusal({ host })).toBeNull();
  });

  it.each(['evil.example.com', 'evil.example.com:8470', '127.0.0.1.nip.io', 'localhost.evil.com', '', '[::2]:1', '10.0.0.1:8470', 'localhost\r\nx: y'])('refuses %j on loopback', (host) => {
    expect(refusal({ host })).toBe('gateway.foreign_host');
  });

  it('--allowed-host adds a load balancer name; * turns the check off', () => {
    const lb = createOriginRules('0.0.0.0', ['hoopq.internal']);
    expect(refusal({ host: 'HOOPQ.internal:443' }, lb)).toBeNull();
    expect(refusal({ host: hostname() }, lb)).toBeNull();
    expect(refusal({ host: 'evil.example.com' }, lb)).toBe('gateway.foreign_host');
    expect(refusal({ host: 'evil.example.com' }, createOriginRules('0.0.0.0', ['*']))).toBeNull();
  });
});

describe('Origin: only the gateway’s own pages or listed sites', () => {
  it('no Origin (a program, not a browser) passes', () => {
    expect(refusal({ host: '127.0.0.1:8470' })).toBeNull();
  });

  it.each(['http://127.0.0.1:8470', 'http://localhost:3000', 'https://[::1]'])('accepts %s', (origin) => {
    expect(refusal({ host: '127.0.0.1:8470', origin })).toBeNull();
  });

  it.each(['http://evil.example.com', 'https://127.0.0.1.nip.io', 'null', 'not a url', 'chrome-extension://abcdef', 'file://'])('refuses %j', (origin) => {
    expect(refusal({ host: '127.0.0.1:8470', origin })).toBe('gateway.foreign_origin');
  });

  it('the conformance suite’s rebinding request (foreign Host and Origin) is refused', () => {
    expect(refusal({ host: 'evil.example.com', origin: 'http://evil.example.com' })).not.toBeNull();
  });

  it('--allowed-origin lets one other site in; with Host unchecked, Origin must match Host', () => {
    const rules = createOriginRules('127.0.0.1', [], ['https://console.example.com']);
    expect(refusal({ host: '127.0.0.1', origin: 'https://console.example.com' }, rules)).toBeNull();
    expect(refusal({ host: '127.0.0.1', origin: 'http://console.example.com' }, rules)).toBe('gateway.foreign_origin');
    const open = createOriginRules('0.0.0.0', ['*']);
    expect(refusal({ host: 'proxy.example.com', origin: 'https://proxy.example.com' }, open)).toBeNull();
    expect(refusal({ host: 'proxy.example.com', origin: 'https://evil.example.com' }, open)).toBe('gateway.foreign_origin');
  });

  it('a refusal message shows the header without control characters', () => {
    try {
      checkRequestOrigin({ host: 'a\u001b[31mb' }, loopback);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toMatch(/[\u0000-\u001f]/);
    }
  });
});
