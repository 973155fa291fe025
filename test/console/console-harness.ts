/**
 * Harness for the console tests: a quickstart demo with a policy whose reads of
 * analytics.events wait for approval, the console and OIDC operator login configured against
 * the fake issuer (test/fakes/oidc-issuer.ts), a personal operator key for alice, and a
 * running `hoopq gateway`. The browser is Debian's Chromium driven by playwright-core; where
 * it is missing the browser tests are skipped (and say so) except under CI, where
 * .ci/run installs it and a missing browser is a failure.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDemo, hoopq, startGatewayProcess, stopProcess, type Demo, type GatewayProcess } from '../cli/cli-harness.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../fakes/oidc-issuer.js';

export const CHROMIUM = process.env.HOOPQ_CHROMIUM ?? '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) {
  if (process.env.CI) throw new Error(`CI: no Chromium at ${CHROMIUM}; .ci/run installs Debian's chromium package`);
  process.stderr.write(`hoopq tests: no Chromium at ${CHROMIUM} (apt-get install chromium); the console's browser tests are skipped\n`);
}

/** The flags this sandbox needs (no GPU, no network beyond loopback, a fresh profile each time). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const HELD_POLICY = 'analyst-held';

export interface ConsoleFixture {
  demo: Demo;
  issuer: FakeOidcIssuer;
  gateway: GatewayProcess;
  url: string;
  aliceKey: string;
  operatorKey: string;
  webhook?: { url: string; bodies: unknown[] };
  stop(): Promise<void>;
}

export async function startConsoleFixture(extraConfig = ''): Promise<ConsoleFixture> {
  const demo = createDemo();
  const issuer = await startFakeOidcIssuer();
  writeFileSync(
    join(demo.dir, 'policies', `${HELD_POLICY}.yaml`),
    [
      `name: ${HELD_POLICY}`,
      'statements: [select]',
      'tables:',
      '  read: ["demo.analytics.*", "demo.crm.customers"]',
      'columns:',
      '  demo.crm.customers.ssn: redact',
      'approval:',
      '  rules:',
      '    - name: event-reads',
      '      tables: ["demo.analytics.events"]',
      '    - name: unmask',
      '      unmask: true',
      '  expires: 10m',
      '',
    ].join('\n'),
  );
  appendFileSync(
    demo.config,
    [
      '',
      'console: {}',
      'operators:',
      '  four_eyes: true',
      '  oidc:',
      `    issuer: ${issuer.issuer}`,
      '    client_id: hoopq-console',
      '    allow: ["*@example.com"]',
      extraConfig,
      '',
    ].join('\n'),
  );
  const added = hoopq(['operator', 'add', 'alice@example.com'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
  if (added.code !== 0) throw new Error(`operator add failed: ${added.stderr}`);
  const gateway = await startGatewayProcess(demo.dir, demo.config);
  const operatorKey = readFileSync(join(demo.dir, '.hoopq', 'keys', 'operator.key'), 'utf8').trim();
  return {
    demo,
    issuer,
    gateway,
    url: gateway.url,
    aliceKey: added.stdout.trim(),
    operatorKey,
    async stop() {
      await stopProcess(gateway.process);
      await issuer.close();
    },
  };
}
