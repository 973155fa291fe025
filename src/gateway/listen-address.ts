/**
 * Where the gateway listens and where a client may send a token. Plain HTTP carries the run
 * token in clear text, so it is only accepted on loopback (this host) unless the operator
 * forces it; everything else must be HTTPS.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:8470';

/** `HOST:PORT`, `[IPv6]:PORT`, or `:PORT` (loopback). Port 0 asks the OS for a free port. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError('usage.listen', `refused --listen "${text}": expected HOST:PORT`, {
      rule: 'gateway.listen',
      hint: 'write e.g. --listen 127.0.0.1:8470, or [::1]:8470',
    });
  }
  const host = m[1] ?? (m[2] || '127.0.0.1');
  return { host, port };
}

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
