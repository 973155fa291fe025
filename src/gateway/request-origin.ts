/**
 * DNS-rebinding and cross-origin defence (MCP transport spec, "Security Warning"): a web page
 * whose name an attacker points at the gateway's address must not reach the API. Two checks
 * on every request but the load-balancer probes:
 * - `Host` must name the gateway: one of `allowedHosts` (case-insensitive, port ignored).
 *   The default is the loopback names, the listen address, this machine's host name and its
 *   interface addresses; `--allowed-host NAME` adds the names clients use (the load
 *   balancer's), `--allowed-host '*'` turns the Host check off (a proxy that rewrites Host).
 * - `Origin`, when a browser sends one, must be the gateway's own origin (its host is an
 *   allowed host) or one given with `--allowed-origin`; `Origin: null` is refused.
 * Both refusals are 403 with code `gateway.foreign_host` / `gateway.foreign_origin`.
 * Input: the request's headers; output: nothing, or an AuthError (nothing else is read).
 */
import { hostname, networkInterfaces } from 'node:os';
import { AuthError } from '../errors.js';

export interface OriginRules {
  /** Lower-case host names and addresses (IPv6 without brackets); empty with `anyHost`. */
  hosts: ReadonlySet<string>;
  anyHost: boolean;
  /** Serialised origins (`https://console.example.com:8443`) allowed besides the gateway's own. */
  origins: ReadonlySet<string>;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** The names a client on this machine or on its network can use without configuration. */
export function defaultAllowedHosts(listenHost: string): string[] {
  const names = new Set(LOOPBACK_NAMES);
  const bare = bareHost(listenHost);
  const wildcard = bare === '0.0.0.0' || bare === '::' || bare === '';
  if (!wildcard) names.add(bare);
  // A wildcard listener answers on every interface: those addresses and the machine's name.
  if (wildcard || !LOOPBACK_NAMES.includes(bare)) {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) for (const nic of list ?? []) names.add(bareHost(nic.address));
  }
  return [...names];
}

export function createOriginRules(listenHost: string, allowedHosts: readonly string[] = [], allowedOrigins: readonly string[] = []): OriginRules {
  const anyHost = allowedHosts.includes('*');
  const hosts = new Set([...defaultAllowedHosts(listenHost), ...allowedHosts.filter((h) => h !== '*').map(bareHost)]);
  return { hosts: anyHost ? new Set() : hosts, anyHost, origins: new Set(allowedOrigins.map((o) => new URL(o).origin)) };
}

/** Throws AuthError (403) when Host or Origin names somebody else. */
export function checkRequestOrigin(headers: { host?: string; origin?: string | string[] }, rules: OriginRules): void {
  const host = headers.host ?? '';
  if (!rules.anyHost && !rules.hosts.has(hostOf(host))) {
    throw new AuthError('gateway.foreign_host', `refused a request for host "${printable(host)}": this gateway does not answer to that name`, {
      rule: 'gateway.allowed_hosts',
      hint: 'use the gateway by a name it serves; an operator adds names with hoopq gateway --allowed-host NAME',
    });
  }
  const origin = headers.origin;
  if (origin === undefined) return;
  const text = Array.isArray(origin) ? origin.join(',') : origin;
  let parsed: URL | null = null;
  try {
    parsed = text === 'null' ? null : new URL(text);
  } catch {
    parsed = null;
  }
  const ok = parsed !== null && (rules.origins.has(parsed.origin) || (parsed.origin === `${parsed.protocol}//${parsed.host}` && (rules.anyHost ? hostOf(parsed.host) === hostOf(host) : rules.hosts.has(hostOf(parsed.host)))));
  if (!ok) {
    throw new AuthError('gateway.foreign_origin', `refused a request from origin "${printable(text)}": a page from another site may not call this gateway`, {
      rule: 'gateway.allowed_origins',
      hint: 'call the gateway from a program (no Origin header) or from its own pages; an operator allows another site with hoopq gateway --allowed-origin URL',
    });
  }
}

/** `Example.COM:8470` -> `example.com`; `[::1]:8470` -> `::1`. */
function hostOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

function bareHost(name: string): string {
  return name.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
}

/** Header values are attacker-chosen: show them without control characters, bounded. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
