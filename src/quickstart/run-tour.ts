/**
 * The guided tour printed on stderr after `hoopq quickstart`: an allowed query, a masked one,
 * a refused one, then the audit log verified. It goes through exactly the same pipeline as
 * `hoopq query` (runQuery), so what the newcomer sees is what agents get.
 */
import { isHoopqError } from '../errors.js';
import { runQuery } from '../pipeline/run-query.js';
import type { CliContext } from '../cli/cli-context.js';

export interface TourStep {
  title: string;
  sql: string;
  justification: string | null;
}

export const TOUR_STEPS: TourStep[] = [
  {
    title: '1. An allowed query: events by type (policy analyst-agent reads demo.analytics.*)',
    sql: 'SELECT event_type, count(*) AS events FROM analytics.events GROUP BY event_type ORDER BY events DESC',
    justification: 'quickstart tour: weekly activity overview',
  },
  {
    title: '2. A masked query: email is hashed, ssn redacted, phone partial, notes scanned for personal data',
    sql: 'SELECT name, email, phone, ssn, notes FROM crm.customers ORDER BY id LIMIT 3',
    justification: 'quickstart tour: show how masks apply',
  },
  {
    title: '3. A refused query: payment cards are denied, even through a view in an allowed dataset',
    sql: 'SELECT brand, card_number FROM analytics.card_spend LIMIT 3',
    justification: 'quickstart tour: try to reach card numbers',
  },
];

export async function runTour(ctx: CliContext, token: string, err: NodeJS.WritableStream): Promise<void> {
  for (const step of TOUR_STEPS) {
    err.write(`\n${step.title}\n  $ hoopq query --justification "${step.justification}" "${step.sql}"\n`);
    try {
      await runQuery(ctx.parts, {
        sql: step.sql,
        token,
        justification: step.justification,
        format: 'pretty',
        out: err,
        notice: (m) => err.write(m + '\n'),
      });
    } catch (e) {
      if (!isHoopqError(e)) throw e;
      err.write(`  -> exit ${e.exitCode}: ${e.message}${e.hint ? `. ${e.hint}` : ''}\n`);
    }
  }
}
