/**
 * What the pipeline and the review faces (CLI, gateway API, console) need of approvals: the
 * shared request store and the channels that tell people. Built once per composition root
 * (createLocalParts).
 */
import type { Policy } from '../policy/policy.js';
import type { ApprovalRequest, ApprovalStore } from './approval-store.js';
import type { NotifyResult } from './notify-webhooks.js';

export interface ApprovalPort {
  store(): ApprovalStore;
  /** Tells the policy's webhooks (all configured ones when it names none). */
  notify(request: ApprovalRequest, policy: Policy): Promise<NotifyResult[]>;
  /** Where an operator reviews the request, when a console is configured. */
  reviewUrl(requestId: string): string | undefined;
  /** Nobody approves their own request (operators.four_eyes). */
  fourEyes: boolean;
}
