/**
 * Black-box suite of approvals, run in direct mode (approvals.test.ts) and through a gateway
 * (test/gateway/approvals-gateway.test.ts): a held query's answer (exit 11 and its JSON), the
 * webhook, re-asking, four-eyes, approving and denying with `hoopq review`, `--wait`, expiry,
 * one run per approval under a race, binding to token / SQL / policy, max_pending, unmask.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, hoopq, hoopqAsync, startGatewayProcess, stopProcess, type CliResult, type Demo, type GatewayProcess, type Mode } from '../cli/cli-harness.js';

interface Hook {
  url: string;
  bodies: Array<{ text: string; blocks: unknown[] }>;
  server: Server;
}

async function startReceiver(status: number): Promise<Hook> {
  const bodies: Hook['bodies'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

const writer = (name: string, approval: string[]) =>
  [
    `name: ${name}`,
    'statements: [select, delete, insert, create]',
    'tables:',
    '  read: ["demo.scratch.*", "demo.analytics.*"]',
    '  write: ["demo.scratch.*"]',
    'approval:',
    ...approval.map((l) => `  ${l}`),
    '',
  ].join('\n');

export function defineApprovalSuite(mode: Mode): void {
  // each test spawns a dozen hoopq processes; on a loaded CI machine that takes minutes
  describe(`approvals (${mode} mode)`, { timeout: 240_000 }, () => {
    let demo: Demo;
    let hook: Hook;
    let broken: Hook;
    let gateway: GatewayProcess | undefined;
    let agentDir: string;
    let keys: { alice: string; bob: string };

    const operator = (args: string[], key?: string): CliResult =>
      hoopq(['review', ...args], { cwd: mode === 'gateway' ? agentDir : demo.dir, env: mode === 'gateway' ? { HOOPQ_GATEWAY: gateway!.url, HOOPQ_OPERATOR_KEY: key } : { HOOPQ_CONFIG: demo.config, HOOPQ_OPERATOR_KEY: key } });
    const agentEnv = (token: string) => (mode === 'gateway' ? { HOOPQ_GATEWAY: gateway!.url, HOOPQ_TOKEN: token } : { HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: token });
    const query = (token: string, sql: string, extra: string[] = []) => hoopqAsync(['query', '--format', 'json', ...extra, sql], { cwd: mode === 'gateway' ? agentDir : demo.dir, env: agentEnv(token) });
    const pendingOf = (r: CliResult) => JSON.parse(r.stdout) as { status: string; request: string; new: boolean; notified: string[]; not_notified?: string[]; expires_at: string; rules: Array<{ rule: string; why: string }> };
    const count = () => Number(JSON.parse(demo.admin(['query', '--format', 'json', '--token', demo.mint('scratch-writer', 'count'), 'SELECT count(*) AS n FROM scratch.items']).stdout)[0].n);

    beforeAll(async () => {
      hook = await startReceiver(200);
      broken = await startReceiver(500);
      demo = createDemo();
      agentDir = mkdtempSync(join(tmpdir(), 'hoopq-agent-'));
      writeFileSync(join(demo.dir, 'policies', 'held-writer.yaml'), writer('held-writer', ['rules:', '  - name: deletes', '    statements: [delete]', 'expires: 10m', 'max_pending: 3', 'notify: [oncall, broken]']));
      writeFileSync(join(demo.dir, 'policies', 'held-short.yaml'), writer('held-short', ['rules:', '  - statements: [delete]', 'expires: 2s']));
      writeFileSync(
        join(demo.dir, 'policies', 'held-unmask.yaml'),
        ['name: held-unmask', 'tables:', '  read: ["demo.crm.customers"]', 'columns:', '  demo.crm.customers.ssn: redact', 'approval:', '  rules:', '    - name: unmask', '      unmask: true', ''].join('\n'),
      );
      appendFileSync(demo.config, ['', 'approvals:', '  webhooks:', `    - { name: oncall, url: "${hook.url}" }`, `    - { name: broken, url: "${broken.url}" }`, ''].join('\n'));
      const made = demo.admin(['query', '--token', demo.mint('scratch-writer', 'setup'), 'CREATE TABLE scratch.items AS SELECT range AS id FROM range(100)']);
      expect(made.code).toBe(0);
      keys = { alice: demo.admin(['operator', 'add', 'alice']).stdout.trim(), bob: demo.admin(['operator', 'add', 'bob@example.com']).stdout.trim() };
      if (mode === 'gateway') gateway = await startGatewayProcess(demo.dir, demo.config);
    }, 120_000);

    afterAll(async () => {
      if (gateway) await stopProcess(gateway.process);
      hook.server.close();
      broken.server.close();
      rmSync(agentDir, { recursive: true, force: true });
      rmSync(demo.dir, { recursive: true, force: true });
    });

    it('holds the query: exit 11, the pending JSON on stdout, one line on stderr, a webhook told, nothing ran', async () => {
      const token = demo.mint('held-writer', 'held-1', ['--subject', 'alice']);
      const before = count();
      const r = await query(token, "DELETE FROM scratch.items WHERE id = 1 OR 'hush-literal' = 'x'");
      expect(r.code).toBe(11);
      const p = pendingOf(r);
      expect(p).toMatchObject({ status: 'pending', new: true, rules: [{ rule: 'deletes', why: 'delete statement' }], notified: ['webhook:oncall'], not_notified: ['webhook:broken'] });
      expect(p.request).toMatch(/^apr_/);
      expect(Date.parse(p.expires_at) - Date.now()).toBeGreaterThan(9 * 60_000);
      // --format json: the refusal line is a JSON object on stderr, with the same pending answer
      const line = JSON.parse(r.stderr) as { code: string; exit: number; message: string; pending: unknown };
      expect(line).toMatchObject({ code: 'approval.pending', exit: 11, rule: 'approval', pending: p });
      expect(line.message).toMatch(/^held for approval: rule approval.rules "deletes" \(delete statement\) of policy held-writer; request apr_\S+ waits for an operator until \S+; nothing ran$/);
      const plain = await hoopqAsync(['query', "DELETE FROM scratch.items WHERE id = 1 OR 'hush-literal' = 'x'"], { cwd: mode === 'gateway' ? agentDir : demo.dir, env: agentEnv(token) });
      expect(plain.code).toBe(11);
      expect(plain.stderr).toMatch(/^hoopq: held for approval: .* nothing ran\. Wait with hoopq query --wait, or run the same query with the same token again once it is approved/);
      expect(count()).toBe(before);
      const records = demo.auditRecords().filter((x) => x.approval?.id === p.request);
      expect(records.map((x) => x.event).slice(0, 3)).toEqual(['approval.requested', 'approval.notified', 'approval.notified']);
      expect(records[0]).toMatchObject({ decision: 'pending', exit_code: 11, run: 'held-1', statements: ['delete'], tables: { write: ['demo.scratch.items'] } });
      expect(records.find((x) => x.notifier?.name === 'broken')).toMatchObject({ decision: 'error', notifier: { ok: false, status: 500 } });
      expect(demo.auditRecords().some((x) => x.event === 'query.intent' && x.run === 'held-1')).toBe(false);
      const sent = hook.bodies.find((b) => b.text.includes(p.request))!;
      expect(sent.text).toContain('run held-1');
      expect(Array.isArray(sent.blocks)).toBe(true);
      expect(JSON.stringify(sent)).not.toContain('hush-literal');
      expect(JSON.stringify(sent)).toContain('DELETE FROM scratch.items');

      // asked again: the same request, recorded, nobody told twice
      const told = hook.bodies.length;
      const again = await query(token, "DELETE FROM scratch.items WHERE id = 1 OR 'hush-literal' = 'x'");
      expect(again.code).toBe(11);
      expect(pendingOf(again)).toMatchObject({ request: p.request, new: false });
      expect(hook.bodies.length).toBe(told);
      expect(demo.auditRecords().filter((x) => x.event === 'approval.pending' && x.approval?.id === p.request)).toHaveLength(2);
    });

    it('four-eyes: the requester cannot approve; a personal key is needed; another operator approves it for one run, exactly as asked', async () => {
      const token = demo.mint('held-writer', 'held-2', ['--subject', 'operator:alice']);
      const sql = 'DELETE FROM scratch.items WHERE id = 2';
      const p = pendingOf(await query(token, sql));
      const self = operator(['approve', p.request, '--reason', 'mine'], keys.alice);
      expect(self.code).toBe(5);
      expect(self.stderr).toMatch(/refused: alice made request .* may not approve it \(four-eyes/);
      const nokey = operator(['approve', p.request, '--reason', 'x']);
      expect(nokey.code).toBe(4);
      const forged = operator(['approve', p.request, '--reason', 'x'], 'hqok_' + 'A'.repeat(43));
      expect(forged.code).toBe(4);
      expect(demo.auditRecords().filter((x) => x.event === 'approval.review_refused' && x.approval?.id === p.request).map((x) => x.code)).toContain('approval.self_approval');

      // another token of the same run, the same SQL with one more space, an edited policy: none uses the approval
      const ok = operator(['approve', p.request, '--reason', 'cleanup is fine', '--format', 'json'], keys.bob);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'approved', decided_by: 'bob@example.com', grant: { runs: 1, used: 0 } });
      const other = await query(demo.mint('held-writer', 'held-2'), sql);
      expect(other.code).toBe(11);
      expect(pendingOf(other).request).not.toBe(p.request);
      const spaced = await query(token, sql.replace('WHERE', ' WHERE'));
      expect(spaced.code).toBe(11);
      const before = count();
      const run = await query(token, sql);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(count()).toBe(before - 1);
      const twice = await query(token, sql);
      expect(twice.code).toBe(11);
      expect(pendingOf(twice)).toMatchObject({ new: true });
      const trail = demo.auditRecords().filter((x) => x.approval?.id === p.request).map((x) => x.event);
      expect(trail.filter((e) => e === 'approval.executed')).toHaveLength(1);
      expect(trail.slice(-4)).toEqual(['approval.approved', 'approval.executed', 'query.intent', 'query']);
    });

    it('--wait returns the rows once approved, and exit 5 once denied (which then stays denied)', async () => {
      const token = demo.mint('held-writer', 'held-3', ['--subject', 'carol']);
      const before = count();
      const waiting = query(token, 'DELETE FROM scratch.items WHERE id = 3', ['--wait', '--wait-timeout', '2m']);
      const id = await requestOf('held-3');
      expect(operator(['approve', id, '--reason', 'go', '--runs', '2', '--for', '30m'], keys.bob).code).toBe(0);
      const done = await waiting;
      expect(done.code).toBe(0);
      expect(count()).toBe(before - 1);
      expect(done.stderr).toContain(`waiting for an operator to approve ${id}`);

      const denied = query(token, 'DELETE FROM scratch.items WHERE id = 4', ['--wait']);
      const id2 = await requestOf('held-3', id);
      expect(operator(['deny', id2, '--reason', 'not today'], keys.alice).code).toBe(0);
      const d = await denied;
      expect(d.code).toBe(5);
      expect(d.stderr).toMatch(/request apr_\S+ for this query was denied by alice \(not today\)/);
      const again = await query(token, 'DELETE FROM scratch.items WHERE id = 4');
      expect(again.code).toBe(5);
      expect(demo.auditRecords().filter((x) => x.run === 'held-3' && x.code === 'approval.denied').length).toBeGreaterThanOrEqual(2);
    });

    it('requests expire: a late approval is refused, --wait ends with exit 5, the expiry is recorded once', async () => {
      const token = demo.mint('held-short', 'held-4');
      const waiting = query(token, 'DELETE FROM scratch.items WHERE id = 5', ['--wait']);
      const id = await requestOf('held-4');
      const w = await waiting;
      expect(w.code).toBe(5);
      expect(w.stderr).toMatch(/expired at .* without a decision; nothing ran/);
      const late = operator(['approve', id, '--reason', 'too late'], keys.bob);
      expect(late.code).toBe(5);
      expect(late.stderr).toMatch(/expired|already expired/);
      expect(demo.auditRecords().filter((x) => x.event === 'approval.expired' && x.approval?.id === id)).toHaveLength(1);
      const listed = JSON.parse(operator(['list', '--status', 'expired', '--format', 'json'], keys.bob).stdout) as Array<{ id: string }>;
      expect(listed.map((x) => x.id)).toContain(id);
    });

    it('an approval for one run runs once when two processes race for it', async () => {
      const token = demo.mint('held-writer', 'held-5');
      const sql = 'DELETE FROM scratch.items WHERE id = 6';
      const p = pendingOf(await query(token, sql));
      expect(operator(['approve', p.request, '--reason', 'once'], keys.bob).code).toBe(0);
      const results = await Promise.all([query(token, sql), query(token, sql), query(token, sql)]);
      expect(results.map((r) => r.code).sort()).toEqual([0, 11, 11]);
      expect(demo.auditRecords().filter((x) => x.event === 'approval.executed' && x.approval?.id === p.request)).toHaveLength(1);
    });

    it('the budget is spent by an approved query when it runs, never by a held one; a query the budget refuses leaves its approval unused', async () => {
      const token = demo.mint('held-writer', 'held-8', ['--max-queries', '1']);
      const sql = 'DELETE FROM scratch.items WHERE id = 30';
      const p = pendingOf(await query(token, sql));
      expect((await query(token, sql)).code).toBe(11); // asked again: still no budget spent
      expect(operator(['approve', p.request, '--reason', 'ok'], keys.bob).code).toBe(0);
      const select = await query(token, 'SELECT count(*) AS n FROM scratch.items');
      expect(select.code, select.stderr).toBe(0); // the run's one query
      const refused = await query(token, sql);
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain('limits.max_queries');
      const shown = JSON.parse(operator(['show', p.request, '--format', 'json'], keys.bob).stdout) as { status: string; grant: { runs: number; used: number } };
      expect(shown).toMatchObject({ status: 'approved', grant: { runs: 1, used: 0 } });
      expect(demo.auditRecords().some((x) => x.event === 'approval.executed' && x.approval?.id === p.request)).toBe(false);
    });

    it('a run may have only max_pending requests waiting', async () => {
      const token = demo.mint('held-writer', 'held-6');
      for (const id of [10, 11, 12]) expect((await query(token, `DELETE FROM scratch.items WHERE id = ${id}`)).code).toBe(11);
      const fourth = await query(token, 'DELETE FROM scratch.items WHERE id = 13');
      expect(fourth.code).toBe(5);
      expect(fourth.stderr).toMatch(/already has 3 requests waiting for approval \(rule approval.max_pending/);
    });

    it('an approval does not survive a change of the policy file', async () => {
      const token = demo.mint('held-writer', 'held-7');
      const sql = 'DELETE FROM scratch.items WHERE id = 20';
      const p = pendingOf(await query(token, sql));
      expect(operator(['approve', p.request, '--reason', 'ok'], keys.bob).code).toBe(0);
      appendFileSync(join(demo.dir, 'policies', 'held-writer.yaml'), '# edited after the approval\n');
      await sleep(1200); // the gateway re-reads policies at most every 0.5 s
      const r = await query(token, sql);
      // the token was minted against the old digest: refused or held, never run under the old approval
      expect([4, 5, 11]).toContain(r.code);
      expect(demo.auditRecords().some((x) => x.event === 'approval.executed' && x.approval?.id === p.request)).toBe(false);
    });

    it('--unmask: refused without an unmask rule; held with one; once approved the column comes back unmasked', async () => {
      const refused = await query(demo.mint('analyst-agent', 'unmask-1'), 'SELECT ssn FROM crm.customers LIMIT 1', ['--unmask', '*', '--justification', 'x']);
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain('rule columns: no approval rule with unmask: true');
      // a dry run gets the real query's answer, not "would run"
      const dry = await query(demo.mint('analyst-agent', 'unmask-dry'), 'SELECT ssn FROM crm.customers LIMIT 1', ['--unmask', '*', '--justification', 'x', '--dry-run']);
      expect(dry.code).toBe(5);
      expect(dry.stderr).toContain('rule columns: no approval rule with unmask: true');
      expect(demo.auditRecords().filter((x) => x.run === 'unmask-dry' && x.event !== 'token.mint').map((x) => [x.event, x.decision, x.code])).toEqual([['query.dry_run', 'deny', 'policy.unmask_not_allowed']]);
      const token = demo.mint('held-unmask', 'unmask-2');
      const masked = await query(token, 'SELECT ssn FROM crm.customers ORDER BY id LIMIT 1');
      expect(masked.code).toBe(0);
      expect(JSON.parse(masked.stdout)).toEqual([{ ssn: '[REDACTED]' }]);
      const held = await query(token, 'SELECT ssn FROM crm.customers ORDER BY id LIMIT 1', ['--unmask', 'demo.crm.customers.ssn']);
      expect(held.code).toBe(11);
      const p = pendingOf(held);
      expect(p.rules[0]).toMatchObject({ rule: 'unmask', why: 'unmasking demo.crm.customers.ssn' });
      expect(operator(['approve', p.request, '--reason', 'fraud case 12'], keys.bob).code).toBe(0);
      const clear = await query(token, 'SELECT ssn FROM crm.customers ORDER BY id LIMIT 1', ['--unmask', 'demo.crm.customers.ssn']);
      expect(clear.code).toBe(0);
      expect(JSON.parse(clear.stdout)[0].ssn).toMatch(/^\d{3}-\d{2}-\d{4}$/);
      const outcome = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'unmask-2').at(-1)!;
      expect(outcome).toMatchObject({ unmasked: { 'demo.crm.customers.ssn': 'redact' }, approval: { id: p.request } });
      expect(JSON.stringify(demo.auditRecords())).not.toContain(JSON.parse(clear.stdout)[0].ssn);
    });

    async function requestOf(run: string, not?: string): Promise<string> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = demo.auditRecords().filter((x) => x.event === 'approval.requested' && x.run === run && x.approval.id !== not).at(-1);
        if (r) return r.approval.id as string;
        if (Date.now() > deadline) throw new Error(`no request for ${run}`);
        await sleep(100);
      }
    }
  });
}
