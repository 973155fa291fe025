/**
 * What a model needs to know about its policy before it writes SQL, as plain sentences for
 * the MCP server's instructions and tool descriptions: which statements and tables it may
 * use, what it will get masked, that a justification is expected, the limits. Derived from
 * the policy itself, so the descriptions cannot drift from what the pipeline enforces.
 */
import type { HoopqConfig } from '../config/config.js';
import type { Policy } from '../policy/policy.js';
import { warehouseDialectOf } from '../warehouse/open-warehouse.js';

/** Rows and bytes one MCP tool result carries at most (the context window is the scarce thing). */
export const MCP_MAX_ROWS = 100;
export const MCP_MAX_RESULT_BYTES = 64 * 1024;

const MASK_MEANING: Record<string, string> = {
  hash: 'a keyed hash (hex HMAC-SHA256) of the value: equal values hash equally, so joins and GROUP BY work, but a hash cannot be recomputed from a guess',
  redact: 'the text [REDACTED]',
  null: 'NULL',
  partial: 'all but the last four characters replaced by *',
};

export function describePolicyForModel(policy: Policy, config: HoopqConfig): string[] {
  const lines: string[] = [];
  const dialect = warehouseDialectOf(config.warehouse.kind).label;
  lines.push(`You act under hoopq policy "${policy.name}". SQL dialect: ${dialect}. Name tables project.dataset.table${defaultsSentence(config)}.`);
  lines.push(`Statement kinds allowed: ${policy.statements.join(', ') || 'none'}.`);
  lines.push(`Tables you may read (* matches within one name part): ${policy.tables.read.join(', ') || 'none'}.`);
  if (policy.tables.write.length > 0) lines.push(`Tables you may write: ${policy.tables.write.join(', ')}.`);
  if (policy.tables.deny.length > 0) lines.push(`Never allowed, whatever else matches: ${policy.tables.deny.join(', ')} (also not through views).`);
  const masks = Object.entries(policy.columns);
  if (masks.length > 0) {
    lines.push(
      `Masked columns (you receive only masked values, wherever the column is used, including WHERE, JOIN, GROUP BY and views): ${masks
        .map(([glob, method]) => `${glob} -> ${method} (${MASK_MEANING[method] ?? method})`)
        .join('; ')}. Filtering or joining on a masked column compares masked values.`,
    );
  }
  if (policy.detect.length > 0) {
    lines.push(`Returned text is scanned for ${policy.detect.join(', ')}; matches come back replaced by placeholders such as [EMAIL].`);
  }
  if (policy.requireJustification) {
    lines.push('Every query needs a justification: pass `justification`, one sentence on why you need this data (it is recorded in the audit log).');
  }
  lines.push(limitsSentence(policy));
  lines.push('Every call is checked against this policy and recorded in a tamper-evident audit log. A refused call says what was refused, the rule, and what you may do instead.');
  return lines;
}

function defaultsSentence(config: HoopqConfig): string {
  const { defaultProject, defaultDataset } = config.warehouse;
  if (defaultProject && defaultDataset) return `; a bare table name means ${defaultProject}.${defaultDataset}.TABLE and dataset.table means ${defaultProject}.dataset.table`;
  if (defaultProject) return `; dataset.table means ${defaultProject}.dataset.table`;
  return '';
}

function limitsSentence(policy: Policy): string {
  const parts = [`a tool result carries at most ${MCP_MAX_ROWS} rows and ${MCP_MAX_RESULT_BYTES / 1024} KiB, so aggregate, filter and LIMIT in SQL`];
  if (policy.limits.maxRows !== undefined) parts.push(`the policy returns at most ${policy.limits.maxRows} rows per query`);
  if (policy.limits.maxQueries !== undefined) parts.push(`this run may start at most ${policy.limits.maxQueries} queries`);
  if (policy.limits.timeoutMs !== undefined) parts.push(`a query is cancelled after ${Math.round(policy.limits.timeoutMs / 1000)} s`);
  return `Limits: ${parts.join('; ')}.`;
}
