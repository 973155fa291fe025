/**
 * Black-box: a client that only knows Google auth sends a Google-style ID token (from a fake
 * issuer: RS256, no jti, a service account's email) as its bearer credential to the gateway's
 * BigQuery API. The gateway exchanges it by the policies' `identity:` rules — issuer,
 * published keys, audience, claims — and runs the query under the matching policy; every
 * other token is refused with 401 authError.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, startGatewayProcess, stopProcess, type Demo, type GatewayProcess } from '../cli/cli-harness.js';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../fakes/oidc-issuer.js';

const SERVICE_ACCOUNT = 'nightly@acme-ml.iam.gserviceaccount.com';
const AUDIENCE = 'hoopq-gateway';

describe('Google ID tokens on the BigQuery API', () => {
  let demo: Demo;
  let issuer: FakeOidcIssuer;
  let gateway: GatewayProcess;
  const googleToken = (claims: Record<string, unknown> = {}, options: Parameters<FakeOidcIssuer['issue']>[1] = {}) =>
    issuer.issue({ sub: '1122334455', email: SERVICE_ACCOUNT, email_verified: true, azp: '1122334455', ...claims }, { aud: AUDIENCE, omit: ['jti', 'nbf'], ...options });
  const client = (token: string) => {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: token });
    return new BigQuery({ projectId: 'demo', apiEndpoint: gateway.url, authClient: auth, autoRetry: false });
  };
  const failureOf = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (err) {
      const e = err as { code?: number; errors?: Array<{ reason?: string }>; message: string };
      return { code: e.code, reason: e.errors?.[0]?.reason, message: e.message };
    }
    throw new Error('expected the call to fail');
  };

  beforeAll(async () => {
    issuer = await startFakeOidcIssuer();
    demo = createDemo();
    writeFileSync(
      join(demo.dir, 'policies', 'google-agent.yaml'),
      [
        'name: google-agent',
        'statements: [select]',
        'tables:',
        '  read: ["demo.analytics.*"]',
        'identity:',
        `  - issuer: ${issuer.issuer}`,
        `    audience: ${AUDIENCE}`,
        `    claims: { email: "${SERVICE_ACCOUNT}", email_verified: true }`,
        '',
      ].join('\n'),
    );
    gateway = await startGatewayProcess(demo.dir, demo.config);
  });

  afterAll(async () => {
    if (gateway) await stopProcess(gateway.process);
    await issuer?.close();
    if (demo) rmSync(demo.dir, { recursive: true, force: true });
  });

  it('an ID token the identity rules accept runs queries under the matching policy, exchanged once', async () => {
    const token = await googleToken();
    const bq = client(token);
    const [rows] = await bq.query('SELECT count(*) AS n FROM analytics.events');
    expect(rows).toEqual([{ n: 5000 }]);
    const [job] = await bq.createQueryJob('SELECT id FROM analytics.events ORDER BY id LIMIT 3');
    const [ids] = await job.getQueryResults();
    expect(ids.map((r) => r.id)).toEqual([1, 2, 3]);
    const records = demo.auditRecords();
    const exchanges = records.filter((r) => r.event === 'token.exchange' && r.via === 'bigquery-api');
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({ decision: 'allow', policy: { name: 'google-agent' }, subject: `${issuer.issuer}#1122334455` });
    const queries = records.filter((r) => r.event === 'query' && r.via === 'bigquery-api');
    expect(queries.map((r) => r.run)).toEqual([exchanges[0]!.run, exchanges[0]!.run]);
    // issue 12: an exchanged run is namespaced by its issuer (oidc:<host and path>/<run>), so two
    // issuers can never share a run; the BigQuery API's one-run-per-ID-token id goes after it
    const host = new URL(issuer.issuer).host + new URL(issuer.issuer).pathname.replace(/\/+$/, '');
    expect(queries[0]!.run).toBe(`oidc:${host}/${queries[0]!.run.split('/').pop()}`);
    expect(queries[0]!.run.split('/').pop()).toMatch(/^oidc-[0-9a-f]{24}$/);
    expect(JSON.stringify(records)).not.toContain(token);
    // the policy's own limits hold: it may not read crm
    const denied = await failureOf(() => bq.query('SELECT name FROM crm.customers'));
    expect(denied).toMatchObject({ code: 403, reason: 'accessDenied' });
  });

  it('refuses ID tokens the rules do not accept: 401 authError naming the check', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['another audience', await googleToken({}, { aud: 'https://bigquery.googleapis.com' }), /audience/],
      ['another service account', await googleToken({ email: 'intruder@evil.iam.gserviceaccount.com' }), /claims/],
      ['signed by a key the issuer never published', await googleToken({}, { signWith: 'foreign' }), /key/],
      ['a forged signature under the published kid', await googleToken({}, { signWith: 'foreign', kid: issuer.currentKid() }), /signature/],
      ['expired', await googleToken({}, { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/],
      ['an issuer no policy names', await googleToken({}, { iss: 'https://accounts.example.com' }), /issuer/],
    ];
    for (const [name, token, why] of cases) {
      const failure = await failureOf(() => client(token).query('SELECT 1 AS one'));
      expect(failure, name).toMatchObject({ code: 401, reason: 'authError' });
      expect(failure.message, name).toMatch(why);
    }
    expect(demo.auditRecords().filter((r) => r.event === 'token.exchange' && r.decision === 'deny').length).toBe(cases.length);
  });
});
