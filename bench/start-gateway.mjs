// `hoopq gateway` for the benchmarks: spawned on a free loopback port, resolved with the
// process and its URL once it says where it listens (rejects if it exits first).
import { spawn } from 'node:child_process';

export function startGateway(hoopq, config) {
  const gateway = spawn(process.execPath, [hoopq, 'gateway', '--listen', '127.0.0.1:0', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    gateway.stderr.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ gateway, url: m[1] });
    });
    gateway.once('exit', () => reject(new Error(err)));
  });
}
