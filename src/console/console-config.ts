/**
 * `console:` in hoopq.yaml: the operators' web console served by the gateway at /console.
 * Off unless this section is present.
 */
import { z } from 'zod';
import { isLoopbackHost } from '../gateway/listen-address.js';

export const consoleConfigSchema = z
  .object({
    url: z
      .string()
      .url()
      .optional()
      .describe("the console's address as browsers reach it (Host and Origin checks, the OIDC redirect, links in notifications); default the gateway's listen address"),
    session_ttl: z
      .union([z.string(), z.number().positive()])
      .default('8h')
      .describe('how long an operator stays logged in (default 8h)'),
  })
  .strict();

export interface ConsoleConfig {
  /** The origin browsers use, e.g. https://hoopq.internal:8470; undefined: the listen address. */
  url?: string;
  sessionTtlMs: number;
}

/**
 * console.url, checked: an origin (scheme, host, port; the console is always at /console),
 * https, or http only to loopback — session cookies must never cross a network in clear.
 * Returns the origin; `refuse` throws with the config file's position.
 */
export function consoleOrigin(text: string, refuse: (message: string, hint: string) => never): string {
  const url = new URL(text);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse(`"${text}" is not an http(s) address`, 'write e.g. https://hoopq.internal:8470');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    refuse(`${url.origin}: plain http would send operators' session cookies unencrypted over the network`, 'use https:// (http only for 127.0.0.1, ::1 and localhost)');
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    refuse(`"${text}" has more than an origin`, `write only scheme, host and port (${url.origin}); the console is always at /console`);
  }
  return url.origin;
}

/** Secure cookies unless browsers reach the console over plain HTTP on loopback. */
export function needsSecureCookies(options: { tls: boolean; listenHost: string; url?: string }): boolean {
  return options.tls || !isLoopbackHost(options.listenHost) || (options.url !== undefined && new URL(options.url).protocol === 'https:');
}
