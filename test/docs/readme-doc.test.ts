/**
 * Docs that run: every ```sh block of README.md, as written, with hoopq installed the way its
 * Install section says (an `npm pack` tarball, `npm install -g`), each block in its own shell
 * from the folder where Install ran. Claims like `# exit 5` are checked by the harness; the
 * gateway block starts a real gateway process and talks to it from an empty folder.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSubstitutionsUsed, docBlocks, docsEnv, prepareScript, readDoc, runBash, type DocBlock } from './doc-harness.js';
import { checkNativeInstall, nativeInstallStep, npmEnv, packCheckout, type PackedHoopq } from './package-install.js';

const work = mkdtempSync(join(tmpdir(), 'hoopq-readme-'));
const prefix = join(work, 'npm-global');
let packed: PackedHoopq;
let blocks: DocBlock[];
let env: Record<string, string>;

beforeAll(() => {
  mkdirSync(prefix);
  packed = packCheckout(work);
  blocks = docBlocks(readDoc('README.md'), 'sh');
  // PATH: the npm prefix's bin (empty until Install's `npm install -g`), never the checkout
  env = docsEnv(join(prefix, 'bin'), npmEnv(prefix));
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

function block(heading: string): DocBlock {
  const readme = readDoc('README.md');
  const at = readme.indexOf(`\n## ${heading}\n`);
  expect(at, `README has a "## ${heading}" section`).toBeGreaterThan(0);
  const line = readme.slice(0, at).split('\n').length + 1;
  const found = blocks.find((b) => b.line > line);
  expect(found, `a sh block under "## ${heading}"`).toBeDefined();
  return found!;
}

function run(b: DocBlock, substitute: Record<string, string> = {}) {
  const { script, used } = prepareScript(b.text, { substitute });
  checkSubstitutionsUsed(substitute, used);
  const r = runBash(script, work, env);
  expect(r.stderr).not.toMatch(/command not found|No such file/);
  expect(r.code, `README.md line ${b.line}:\n${r.stderr}`).toBe(0);
  return r;
}

describe('README.md', () => {
  it('every sh block belongs to a section this file runs', () => {
    const sections = ['Install', 'Five-minute tour', 'Policies as code', 'Gateway mode'].map((h) => block(h).line);
    expect(blocks.map((b) => b.line)).toEqual(sections);
  });

  it('Install: the npm pack tarball, installed with npm install -g, puts a working hoopq on PATH', () => {
    run(block('Install'), {
      // the suite's own checkout is the clone, and npm ci has run in it (the suite needs it)
      'npm ci                              # in the clone: dependencies; the prepare script builds dist/': ':',
      // packed above from the checkout (scripts off: dist/ is the suite's build)
      'npm pack                            # hoopq-0.1.0.tgz, the package: keep it where your machines and CI can fetch it': `[ -f ${JSON.stringify(packed.tarball)} ]`,
      'npm install -g ./hoopq-0.1.0.tgz    # on any machine: puts hoopq on PATH': `npm install -g ./hoopq-${packed.version}.tgz && ${nativeInstallStep(prefix)}`,
    });
    expect(existsSync(join(prefix, 'bin', 'hoopq'))).toBe(true);
    checkNativeInstall(prefix);
    expect(existsSync(join(work, 'hoopq-demo', 'hoopq.yaml'))).toBe(true);
  }, 300_000);

  it('Five-minute tour: each line exits as its comment says; the revoked run is refused', () => {
    const r = run(block('Five-minute tour'));
    expect(r.stdout).toMatch(/"email":"[^"]*"/);
    const log = readFileSync(join(work, 'hoopq-demo', 'audit.jsonl'), 'utf8');
    expect(log).toContain('"event":"token.revoke"');
  }, 180_000);

  it('Policies as code: tests pass, the junit report and the diff are written', () => {
    run(block('Policies as code'));
    expect(readFileSync(join(work, 'hoopq-demo', 'policy-tests.xml'), 'utf8')).toMatch(/failures="0"/);
  }, 180_000);

  it('Gateway mode: a real gateway; the agent side has only the URL and a run token', () => {
    run(block('Gateway mode'));
    const log = readFileSync(join(work, 'hoopq-demo', 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(log.find((r) => r.event === 'token.mint' && r.run === 'gw-run')).toMatchObject({ via: 'gateway' });
    expect(log.find((r) => r.event === 'query' && r.run === 'gw-run' && r.decision === 'allow')).toMatchObject({ via: 'gateway' });
    expect(log.find((r) => r.event === 'token.revoke' && r.run === 'gw-run')).toMatchObject({ via: 'gateway', revoked_by: { run: 'gw-run' } });
  }, 180_000);
});
