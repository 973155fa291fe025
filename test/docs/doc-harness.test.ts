/** The docs harness itself: a claimed exit code is checked both ways, and substitutions must match a line. */
import { describe, expect, it } from 'vitest';
import { checkSubstitutionsUsed, docBlocks, docsEnv, prepareScript, runBash } from './doc-harness.js';

const run = (text: string) => runBash(prepareScript(text).script, process.cwd(), docsEnv(undefined));

describe('docs harness', () => {
  it.each([
    ['sh -c "exit 5"   # exit 5: denied', 0],
    ['sh -c "exit 4"   # exit 5: denied', 1],
    ['sh -c "exit 0"   # exit 5', 1],
    ['true             # exit 0 intact, 9 tampered', 0],
    ['sh -c "exit 3"   # a comment, not a claim', 3],
    ['sh -c "exit 9"   # every later query: exit 4', 9],
  ])('%s -> script exits %i', (line, code) => {
    expect(run(line).code).toBe(code);
  });

  it('a failed claim names the line and what it got', () => {
    expect(run('sh -c "exit 4"   # exit 5').stderr).toContain('docs: expected exit 5, got 4: sh -c "exit 4"');
  });

  it('substitutions replace whole lines and must all be used', () => {
    const { script, used } = prepareScript('npm ci   # deps\necho hi', { substitute: { 'npm ci   # deps': 'echo replaced' } });
    expect(script).toBe('echo replaced\necho hi');
    expect(() => checkSubstitutionsUsed({ 'npm ci   # deps': ':' }, used)).not.toThrow();
    expect(() => checkSubstitutionsUsed({ 'npm ci': ':' }, used)).toThrow(/no longer has/);
  });

  it('docBlocks takes the blocks of one language with their line numbers', () => {
    const md = '# t\n\n```sh\necho a\n```\n\n```yaml\nk: v\n```\n```sh\necho b\n```\n';
    expect(docBlocks(md, 'sh')).toEqual([
      { lang: 'sh', text: 'echo a\n', line: 4 },
      { lang: 'sh', text: 'echo b\n', line: 11 },
    ]);
  });

  it('a background job is stopped when the script ends', () => {
    const r = runBash('sleep 30 &\necho $! > /dev/stderr', process.cwd(), docsEnv(undefined));
    const pid = Number(r.stderr.trim());
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
