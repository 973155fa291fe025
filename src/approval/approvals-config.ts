/**
 * `approvals:` in hoopq.yaml: where requests for approval are announced. Webhook URLs are
 * secrets (a Slack incoming-webhook URL lets anyone post), so they live in the deployment's
 * config, not in policies; a policy names the ones it wants (`approval.notify`).
 */
import { z } from 'zod';
import { isLoopbackHost } from '../gateway/listen-address.js';

export const approvalsConfigSchema = z
  .object({
    webhooks: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'may hold only letters, digits, "_", "-" and "."').describe('how policies and the audit log name it'),
            url: z.string().url().describe('receives a Slack-compatible JSON POST ({"text", "blocks"}); https, or http on loopback'),
          })
          .strict(),
      )
      .default([])
      .describe('told of every request for approval'),
  })
  .strict();

export interface WebhookConfig {
  name: string;
  url: string;
}

export interface ApprovalsConfig {
  webhooks: WebhookConfig[];
}

/** A webhook URL carries request summaries (and is itself a secret): https, or http only to loopback. */
export function checkWebhookUrl(text: string, refuse: (message: string, hint: string) => never): string {
  const url = new URL(text);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    refuse(`${url.protocol}//${url.host}: only https is posted to (http only for 127.0.0.1, ::1 and localhost)`, 'use the https:// address your chat tool gives');
  }
  return text;
}
