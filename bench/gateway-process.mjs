// Shared by the gateway benchmarks: `hoopq gateway` started in its own process, and a client
// that sends one query over keep-alive HTTP and checks the end frame says ok.
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';

/** Starts the gateway on a free port; resolves with the process and its URL. */
export async function startGateway(hoopq, config, nodeArgs = []) {
  const gateway = spawn(process.execPath, [...nodeArgs, hoopq, 'gateway', '--listen', '127.0.0.1:0', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let err = '';
    gateway.stderr.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    gateway.once('exit', () => reject(new Error(err)));
  });
  return { gateway, url };
}

export async function stopGateway(gateway) {
  if (gateway && gateway.exitCode === null) {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
  }
}

/** A function that runs `sql` once through POST /v1/query; rejects unless the end frame says ok. */
export function gatewayQuery(url, token, sql, maxSockets) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const body = JSON.stringify({ sql, format: 'json' });
  const query = () =>
    new Promise((resolve, reject) => {
      const req = request(`${url}/v1/query`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          // the last frame is the end frame; it must say ok
          let at = 0;
          let end;
          while (at < b.length) {
            const len = b.readUInt32BE(at + 1);
            if (b[at] === 0x45) end = JSON.parse(b.subarray(at + 5, at + 5 + len).toString());
            at += 5 + len;
          }
          end?.ok ? resolve() : reject(new Error(`query failed: ${res.statusCode} ${b.toString().slice(0, 300)}`));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  return { query, close: () => agent.destroy() };
}
