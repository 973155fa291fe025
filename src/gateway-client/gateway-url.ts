/**
 * Where a client may send a token: a gateway URL must be https, or http to loopback (plain
 * HTTP carries the run token in clear text). The gateway applies the same loopback rule to
 * where it listens (src/gateway/listen-address.ts).
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

/** True only for names that cannot leave this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return false;
}

/**
 * The client side of the same rule: a gateway URL must be https, or http to loopback.
 * Returns the URL without a trailing slash.
 */
export function checkGatewayUrl(text: string, what = 'HOOPQ_GATEWAY'): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UsageError('usage.gateway_url', `refused ${what} "${text}": not a URL`, {
      rule: 'gateway.url',
      hint: 'write e.g. https://hoopq.internal:8470 (or http://127.0.0.1:8470 on this machine)',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError('usage.gateway_url', `refused ${what} "${url.origin}": only http(s) URLs are supported`, {
      rule: 'gateway.url',
      hint: 'write e.g. https://hoopq.internal:8470',
    });
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new UsageError('usage.gateway_insecure', `refused ${what} ${url.origin}: plain http would send the run token unencrypted over the network`, {
      rule: 'gateway.tls',
      hint: 'use an https:// URL (http is accepted only for 127.0.0.1, ::1 and localhost)',
    });
  }
  if (url.username || url.password) {
    throw new UsageError('usage.gateway_url', `refused ${what}: credentials in the URL are not supported`, {
      rule: 'gateway.url',
      hint: 'the run token goes in HOOPQ_TOKEN or --token',
    });
  }
  return url;
}
