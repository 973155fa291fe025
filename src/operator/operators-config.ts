/**
 * `operators:` in hoopq.yaml: who may approve held queries and use the console. Operators are
 * named people, never the shared operator key: each logs in through the deployment's OIDC
 * provider or with a personal key (`hoopq operator add NAME`). Four-eyes (default on): nobody
 * approves a request they made themselves.
 */
import { z } from 'zod';

export const operatorsConfigSchema = z
  .object({
    four_eyes: z.boolean().default(true).describe('refuse an approval by the person who made the request (default true)'),
    oidc: z
      .object({
        issuer: z.string().url().describe('the OIDC provider operators log in with (discovery at ISSUER/.well-known/openid-configuration)'),
        client_id: z.string().min(1).describe("the console's client id at the provider"),
        client_secret_file: z.string().min(1).optional().describe('a file (mode 0600) holding the client secret; leave out for a public client (PKCE only)'),
        name_claim: z.string().min(1).default('email').describe('the ID token claim that names the operator (default email)'),
        allow: z.array(z.string().min(1)).min(1).describe('operator names accepted, "*" matching any characters (e.g. "*@example.com")'),
      })
      .strict()
      .optional()
      .describe('operator login through an OIDC provider (authorization code with PKCE)'),
  })
  .strict();

export interface OidcLoginConfig {
  issuer: string;
  clientId: string;
  /** Absolute path, when the client is confidential. */
  clientSecretFile?: string;
  nameClaim: string;
  allow: string[];
}

export interface OperatorsConfig {
  fourEyes: boolean;
  oidc?: OidcLoginConfig;
}

/** Operator names are shown in the console and written to the audit log: no control characters, no markup. */
export const OPERATOR_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** `*` matches any characters (names may contain dots and @); everything else literally, case-insensitively. */
export function isOperatorAllowed(name: string, allow: readonly string[]): boolean {
  return allow.some((glob) => new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i').test(name));
}
