import { describe, expect, it } from 'vitest';
import { AnalysisError, AuditWriteError, AuthError, ConfigError, InternalError, PolicyDeniedError, UsageError, WarehouseError } from '../errors.js';
import { errorFromJson } from './error-from-json.js';

describe('errorFromJson re-creates the gateway\'s error for the CLI', () => {
  it.each([
    new UsageError('usage.x', 'bad flag'),
    new ConfigError('config.x', 'bad config', { hint: 'fix it' }),
    new AuthError('token.expired', 'run token refused: expired', { rule: 'token.expired', hint: 'mint a new one' }),
    new PolicyDeniedError('policy.table_denied', 'refused: demo.crm.payment_cards', { rule: 'tables.deny', hint: 'read demo.analytics.*' }),
    new AnalysisError('analysis.parse', 'cannot analyse'),
    new WarehouseError('warehouse.cancelled', 'cancelled'),
    new AuditWriteError('audit.write_failed', 'no fsync'),
    new InternalError('internal', 'internal error: boom'),
  ])('$code', (original) => {
    const wire = JSON.parse(JSON.stringify(original.toJSON()));
    const copy = errorFromJson(wire, 'http://127.0.0.1:1');
    expect(copy.constructor).toBe(original.constructor);
    expect(copy.toJSON()).toEqual(original.toJSON());
  });

  it.each([null, 'x', {}, { code: 'a', message: 'b', exit: 42 }, { code: 1, message: 'b', exit: 4 }, { code: 'a', message: 'b', hint: 5, exit: 4 }])(
    'a malformed error %j is exit 7, never success or a chosen exit code',
    (wire) => {
      const e = errorFromJson(wire, 'http://127.0.0.1:1');
      expect(e.exitCode).toBe(7);
      expect(e.code).toBe('gateway.bad_response');
    },
  );
});
