/**
 * `console:` in hoopq.yaml: the operators' web console served by the gateway at /console.
 * Off unless this section is present.
 */
import { z } from 'zod';

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
