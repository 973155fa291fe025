/**
 * Where the gateway listens. Plain HTTP carries the run
 * token in clear text, so it is only accepted on loopback (this host) unless the operator
 * forces it; everything else must be HTTPS.
 */
import { UsageError } from '../errors.js';
import { isLoopbackHost } from '../gateway-client/gateway-url.js';

export { isLoopbackHost };

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
