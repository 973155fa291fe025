import { describe, expect, it } from 'vitest';
import { redactSqlLiterals, scrubLiterals } from './redact-sql-literals.js';

const SSN = '123-45-6789';

describe('redactSqlLiterals', () => {
  it.each([
    [`SELECT * FROM crm.customers WHERE ssn = '${SSN}'`, `SELECT * FROM crm.customers WHERE ssn = '[REDACTED]'`],
    [`SELECT 1 WHERE reverse(ssn) = '9876-54-321'`, `SELECT 1 WHERE reverse(ssn) = '[REDACTED]'`],
    [`SELECT 1 WHERE x = 'it''s ${SSN}'`, `SELECT 1 WHERE x = '[REDACTED]'`],
    [`SELECT 1 WHERE x = E'a\\'${SSN}'`, `SELECT 1 WHERE x = '[REDACTED]'`],
    [`SELECT 1 WHERE x = r"${SSN}"`, `SELECT 1 WHERE x = '[REDACTED]'`],
    [`SELECT 1 WHERE x = """${SSN}"""`, `SELECT 1 WHERE x = '[REDACTED]'`],
    [`SELECT 1 WHERE x = $$${SSN}$$`, `SELECT 1 WHERE x = '[REDACTED]'`],
    [`SELECT 1 WHERE x = $t$${SSN}$t$`, `SELECT 1 WHERE x = '[REDACTED]'`],
    [`SELECT 1 WHERE d = 123456789`, `SELECT 1 WHERE d = [NUMBER]`],
    [`SELECT 1 -- ${SSN}\nFROM t`, `SELECT 1 /* [REDACTED] */\nFROM t`],
    [`SELECT 1 /* ${SSN} */ FROM t`, `SELECT 1 /* [REDACTED] */ FROM t`],
    [`SELECT x AS "${SSN}" FROM t`, `SELECT x AS '[REDACTED]' FROM t`],
    [`SELECT 1 WHERE x = '${SSN}`, `SELECT 1 WHERE x = '[REDACTED]'`],
  ])('%s', (sql, expected) => {
    const r = redactSqlLiterals(sql);
    expect(r.text).toBe(expected);
    expect(r.text).not.toContain('6789');
  });

  it('keeps names, small numbers and the statement shape readable', () => {
    const sql = 'SELECT "Events".id, `acme-prod.analytics.events_2024` FROM "CRM"."Customers" t1 LIMIT 10';
    expect(redactSqlLiterals(sql).text).toBe(sql);
  });

  it('returns the literals so messages quoting them can be scrubbed', () => {
    const r = redactSqlLiterals(`SELECT 1 WHERE a = '${SSN}' AND b = 'QUJD'`);
    expect(r.literals).toEqual([SSN, 'QUJD']);
    expect(scrubLiterals(`Binder Error: near "${SSN}" and 'QUJD'`, r.literals)).toBe('Binder Error: near "[REDACTED]" and \'[REDACTED]\'');
  });
});
