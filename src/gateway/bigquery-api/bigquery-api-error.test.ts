import { describe, expect, it } from 'vitest';
import { ApprovalPendingError } from '../../errors.js';
import { bigQueryErrorBody, bigQueryErrorOf } from './bigquery-api-error.js';

describe('bigQueryErrorOf', () => {
  it('a query held for approval is refused in BigQuery terms (403 accessDenied) naming the request, not an internal error', () => {
    const held = new ApprovalPendingError('approval.pending', 'held for approval: rule approval.rules "deletes" (delete statement) of policy p; request apr_x waits for an operator until T; nothing ran', {
      rule: 'approval',
      details: { pending: { status: 'pending', request: 'apr_x' } },
    });
    const shape = bigQueryErrorOf(held);
    expect(shape.status).toBe(403);
    expect(shape.proto.reason).toBe('accessDenied');
    expect(shape.proto.message).toContain('apr_x');
    expect(bigQueryErrorBody(shape).error.status).toBe('PERMISSION_DENIED');
  });
});
