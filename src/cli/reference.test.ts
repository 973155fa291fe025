/**
 * docs/reference.md is the one reference hoopq cites, so it must match the code: every
 * command and flag of commander's tree, every exit code of the error classes, every key of
 * the configuration and policy schemas is there, and nothing there is stale. The lists come
 * from the code itself (the command tree, the zod schemas), never from a hand-kept copy.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../config/config-schema.js';
import * as errors from '../errors.js';
import { policySchema } from '../policy/policy-schema.js';
import { buildProgram } from './main.js';

const REFERENCE = readFileSync(new URL('../../docs/reference.md', import.meta.url), 'utf8');

interface Section {
  path: string;
  body: string;
}

/** `### \`hoopq token mint\`` headings and the text up to the next heading. */
function commandSections(): Section[] {
  const lines = REFERENCE.split('\n');
  const out: Section[] = [];
  let current: Section | undefined;
  for (const line of lines) {
    const heading = /^#{2,4} /.exec(line);
    if (heading) {
      const m = /^#{3,4} `hoopq((?: [a-z][a-z-]*)*)(?: [[<][^`]*)?`/.exec(line);
      current = m ? { path: m[1]!.trim(), body: '' } : undefined;
      if (current) out.push(current);
      continue;
    }
    if (current) current.body += line + '\n';
  }
  return out;
}

/** The flags named in the first cell of a section's table rows. */
function tableFlags(body: string): Set<string> {
  const flags = new Set<string>();
  for (const row of body.split('\n').filter((l) => l.startsWith('| `'))) {
    const first = row.split('|')[1]!;
    for (const m of first.matchAll(/(?<![\w-])(--?[A-Za-z][\w-]*)/g)) flags.add(m[1]!);
  }
  return flags;
}

function tableKeys(heading: string): Set<string> {
  const start = REFERENCE.indexOf(`\n## ${heading}\n`);
  expect(start, `section "## ${heading}"`).toBeGreaterThan(-1);
  const end = REFERENCE.indexOf('\n## ', start + 1);
  const body = REFERENCE.slice(start, end === -1 ? undefined : end);
  return new Set([...body.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
}

function allCommands(cmd: Command, prefix = ''): Array<{ path: string; cmd: Command }> {
  const path = prefix ? `${prefix} ${cmd.name()}` : '';
  return [{ path, cmd }, ...cmd.commands.flatMap((c) => allCommands(c, prefix ? path : 'hoopq').map((x) => ({ ...x, path: x.path.replace(/^hoopq ?/, '') })))];
}

function unwrap(s: z.ZodType): z.ZodType {
  let t = s;
  while (t instanceof z.ZodDefault || t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t.unwrap() as z.ZodType;
  return t;
}

function schemaKeys(s: z.ZodType, prefix = ''): string[] {
  const t = unwrap(s);
  if (t instanceof z.ZodObject) {
    return Object.entries(t.shape as Record<string, z.ZodType>).flatMap(([k, v]) => [prefix + k, ...schemaKeys(v, `${prefix}${k}.`)]);
  }
  if (t instanceof z.ZodUnion) {
    // one shape per warehouse kind: the keys of every shape
    return [...new Set((t.options as z.ZodType[]).flatMap((o) => schemaKeys(o, prefix)))];
  }
  if (t instanceof z.ZodArray) {
    const element = unwrap(t.element as z.ZodType);
    if (element instanceof z.ZodObject) return schemaKeys(element, `${prefix.slice(0, -1)}[].`);
  }
  return [];
}

describe('docs/reference.md', async () => {
  const program = await buildProgram({ machineErrors: false }, ['node', 'hoopq']);
  const commands = allCommands(program);
  const sections = commandSections();

  it('has a section for every command, and no section for a command that does not exist', () => {
    const documented = sections.map((s) => s.path).sort();
    expect(documented).toEqual(commands.map((c) => c.path).sort());
  });

  it.each(commands.map((c) => [c.path || '(global)', c.cmd] as const))('%s: every flag is documented, and no documented flag is stale', (_path, cmd) => {
    const section = sections.find((s) => s.path === (_path === '(global)' ? '' : _path))!;
    const documented = tableFlags(section.body);
    const actual = new Set(cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f))));
    for (const f of actual) expect(documented, `${_path}: ${f} is not in docs/reference.md`).toContain(f);
    for (const f of documented) expect(actual, `${_path}: ${f} is in docs/reference.md but not a flag`).toContain(f);
  });

  it('lists exactly the exit codes of the error classes, and 0', () => {
    const codes = new Set<number>([0]);
    for (const E of Object.values(errors)) {
      if (typeof E === 'function' && E.prototype instanceof errors.HoopqError) {
        codes.add(new (E as unknown as new (code: string, message: string) => errors.HoopqError)('x', 'x').exitCode);
      }
    }
    const start = REFERENCE.indexOf('\n## Exit codes\n');
    const body = REFERENCE.slice(start, REFERENCE.indexOf('\n## ', start + 1));
    const documented = new Set([...body.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])));
    expect([...documented].sort()).toEqual([...codes].sort());
  });

  it('lists exactly the configuration keys of the schema', () => {
    expect([...tableKeys('Configuration keys')].sort()).toEqual(schemaKeys(configSchema).sort());
  });

  it('lists exactly the policy keys of the schema', () => {
    expect([...tableKeys('Policy keys')].sort()).toEqual(schemaKeys(policySchema).sort());
  });

  it('no option states its default in words as well as through commander (it would print twice)', () => {
    for (const { path, cmd } of commands) {
      for (const o of cmd.options) {
        if (o.defaultValue === undefined || o.negate) continue;
        expect(o.description, `${path} ${o.long}`).not.toMatch(/default/i);
      }
    }
  });

  it('hoopq cites no file a user does not have', () => {
    expect(REFERENCE).not.toContain('CONTRACT');
  });
});
