/**
 * `approvals:` in hoopq.yaml: where requests for approval are announced. Webhook URLs are
 * secrets (a Slack incoming-webhook URL lets anyone post), so they live in the deployment's
 * config, not in policies; a policy names the ones it wants (`approval.notify`).
 */
import { z } from 'zod';

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
