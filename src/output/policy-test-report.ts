/**
 * Reports of `hoopq policy test`: a test runner's text (a line per case, a diff per failed
 * expectation, a summary) and JUnit XML for CI systems (one <testsuite> per test file, one
 * <testcase> per case, <failure> with the same diff, <error> for a file that could not run).
 */
import { relative } from 'node:path';
import type { ExpectationMismatch, PolicyTestFileResult } from '../pipeline/run-policy-tests.js';

export interface PolicyTestTotals {
  files: number;
  tests: number;
  passed: number;
  failed: number;
  /** Files that could not run. */
  errors: number;
  durationMs: number;
}

export function totalsOf(results: PolicyTestFileResult[]): PolicyTestTotals {
  const cases = results.flatMap((r) => r.cases);
  return {
    files: results.length,
    tests: cases.length,
    passed: cases.filter((c) => c.passed).length,
    failed: cases.filter((c) => !c.passed).length,
    errors: results.filter((r) => r.error).length,
    durationMs: results.reduce((n, r) => n + r.durationMs, 0),
  };
}

/** Lines of a diff for a list or map expectation: `- expected` / `+ actual`, item by item; [] for a single value. */
export function mismatchDiff(m: ExpectationMismatch): string[] {
  const { expected, actual } = m;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    return [...expected.filter((x) => !actual.includes(x)).map((x) => `- ${x}`), ...actual.filter((x) => !expected.includes(x)).map((x) => `+ ${x}`)];
  }
  if (isMap(expected) && isMap(actual)) {
    const lines: string[] = [];
    for (const k of [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()) {
      if (expected[k] === actual[k]) continue;
      if (k in expected) lines.push(`- ${k}: ${expected[k]}`);
      if (k in actual) lines.push(`+ ${k}: ${actual[k]}`);
    }
    return lines;
  }
  return [];
}

/** `decision: expected deny, got allow`, or for a list or map the field and its diff lines. */
function describeMismatch(m: ExpectationMismatch, indent: string): string[] {
  const diff = mismatchDiff(m);
  if (diff.length === 0) {
    const expected = m.field === 'reason_includes' ? `a refusal containing "${String(m.expected)}"` : show(m.expected);
    const actual = m.field === 'reason_includes' && m.actual === null ? 'no refusal' : show(m.actual);
    return [`${indent}${m.field}: expected ${expected}, got ${actual}`];
  }
  return [`${indent}${m.field}: (- expected, + actual)`, ...diff.map((l) => `${indent}  ${l}`)];
}

export function formatPolicyTestText(results: PolicyTestFileResult[], cwd = process.cwd()): string {
  const out: string[] = [];
  for (const r of results) {
    const file = relative(cwd, r.file) || r.file;
    out.push(r.policy ? `${file}  (policy ${r.policy.name}, sha256 ${r.policy.sha256.slice(0, 12)}…)` : file);
    if (r.error) {
      out.push(`  ! cannot run: ${r.error.message}${r.error.hint ? `. ${r.error.hint}` : ''}`);
      continue;
    }
    for (const c of r.cases) {
      out.push(`  ${c.passed ? '✓' : '✗'} ${c.name}`);
      if (c.passed) continue;
      out.push(`      at ${relative(cwd, c.at) || c.at}`, `      sql: ${oneLine(c.sql)}`);
      for (const m of c.mismatches) out.push(...describeMismatch(m, '      '));
      if (c.actual.reason && !c.mismatches.some((m) => m.field === 'reason_includes')) out.push(`      hoopq said: ${oneLine(c.actual.reason)}`);
    }
  }
  const t = totalsOf(results);
  out.push('', `${t.tests} test${t.tests === 1 ? '' : 's'}: ${t.passed} passed, ${t.failed} failed${t.errors ? `, ${t.errors} file${t.errors === 1 ? '' : 's'} could not run` : ''} (${t.files} file${t.files === 1 ? '' : 's'}, ${(t.durationMs / 1000).toFixed(2)} s)`);
  return out.join('\n') + '\n';
}

export function formatPolicyTestJunit(results: PolicyTestFileResult[], now: Date, cwd = process.cwd()): string {
  const t = totalsOf(results);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="hoopq policy test" tests="${t.tests + t.errors}" failures="${t.failed}" errors="${t.errors}" time="${seconds(t.durationMs)}">`);
  for (const r of results) {
    const file = relative(cwd, r.file) || r.file;
    const classname = r.policy?.name ?? file;
    const tests = r.error ? 1 : r.cases.length;
    const failures = r.cases.filter((c) => !c.passed).length;
    out.push(
      `  <testsuite name="${xml(file)}" tests="${tests}" failures="${failures}" errors="${r.error ? 1 : 0}" skipped="0" time="${seconds(r.durationMs)}" timestamp="${now.toISOString().replace(/\.\d+Z$/, '')}" file="${xml(file)}">`,
    );
    if (r.policy) {
      out.push('    <properties>', `      <property name="policy" value="${xml(r.policy.name)}"/>`, `      <property name="policy_file" value="${xml(relative(cwd, r.policy.file) || r.policy.file)}"/>`, `      <property name="policy_sha256" value="${r.policy.sha256}"/>`, '    </properties>');
    }
    if (r.error) {
      out.push(`    <testcase name="load ${xml(file)}" classname="${xml(classname)}" file="${xml(file)}" time="0">`);
      out.push(`      <error message="${xml(r.error.message)}" type="${xml(r.error.code)}">${xml([r.error.message, r.error.hint].filter(Boolean).join('\n'))}</error>`);
      out.push('    </testcase>');
    }
    for (const c of r.cases) {
      const line = /:(\d+):\d+$/.exec(c.at)?.[1];
      const open = `    <testcase name="${xml(c.name)}" classname="${xml(classname)}" file="${xml(file)}"${line ? ` line="${line}"` : ''} time="${seconds(c.durationMs)}"`;
      if (c.passed) {
        out.push(`${open}/>`);
        continue;
      }
      const message = c.mismatches.map((m) => `${m.field}: expected ${show(m.expected)}, got ${show(m.actual)}`).join('; ');
      const body = [`sql: ${c.sql}`, ...c.mismatches.flatMap((m) => describeMismatch(m, '')), ...(c.actual.reason ? [`hoopq said: ${c.actual.reason}`] : [])].join('\n');
      out.push(`${open}>`, `      <failure message="${xml(message)}" type="PolicyExpectation">${xml(body)}</failure>`, '    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  if (isMap(v)) return `{${Object.entries(v).map(([k, x]) => `${k}: ${String(x)}`).join(', ')}}`;
  return String(v);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Text for an XML attribute or element: escaped, and without the characters XML 1.0 cannot carry. */
export function xml(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;');
}
