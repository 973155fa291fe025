/**
 * An HTTP(S) proxy for tests that answers for Google's own https hosts (oauth2, iamcredentials,
 * bigquery .googleapis.com) with the fake servers. Why: google-auth-library 10 posts a
 * service-account key's JWT-bearer grant to the fixed https://oauth2.googleapis.com/token,
 * whatever else is configured; its HTTP layer (gaxios) and @google-cloud/common's
 * (teeny-request) honour HTTPS_PROXY, so a child process started with
 * `HTTPS_PROXY=<url>` and `NODE_EXTRA_CA_CERTS=<caFile>` talks to the fakes instead.
 *
 * CONNECT to a *.googleapis.com host on 443 is terminated here with a leaf certificate signed
 * by a throw-away CA (made with `openssl` at start); CONNECT anywhere else is tunnelled to its
 * target unchanged, and absolute-form plain HTTP requests are forwarded, so that
 * `api_endpoint`/`iam_endpoint` overrides on 127.0.0.1 still reach their own servers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';

export interface GoogleHttpsProxy {
  url: string;
  /** PEM file of the CA that signed the proxy's certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** `host:port` of every CONNECT, in order. */
  connects: string[];
  close(): Promise<void>;
}

const GOOGLE_HOST = /\.googleapis\.com$/;

export async function startGoogleHttpsProxy(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<GoogleHttpsProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-fake-ca-'));
  const { key, cert, caFile } = makeCertificates(dir);
  const google = createServer(answer);
  const connects: string[] = [];
  const sockets = new Set<Socket>();

  const proxy = createServer((req, res) => forwardPlain(req, res));
  proxy.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  proxy.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push(target);
    const [host, port] = splitHostPort(target);
    socket.on('error', () => undefined);
    if (GOOGLE_HOST.test(host) && port === 443) {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) socket.unshift(head);
      const tls = new TLSSocket(socket, { isServer: true, key, cert });
      tls.on('error', () => undefined);
      google.emit('connection', tls);
      return;
    }
    const upstream = connect(port, host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    caFile,
    connects,
    async close() {
      for (const s of sockets) s.destroy();
      proxy.closeAllConnections();
      google.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function forwardPlain(req: IncomingMessage, res: ServerResponse): void {
  const target = new URL(req.url ?? '/');
  const out = httpRequest(
    { host: target.hostname, port: target.port || 80, method: req.method, path: `${target.pathname}${target.search}`, headers: req.headers },
    (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    },
  );
  out.on('error', () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(out);
}

function splitHostPort(target: string): [string, number] {
  const i = target.lastIndexOf(':');
  return [target.slice(0, i).replace(/^\[|\]$/g, ''), Number(target.slice(i + 1))];
}

function makeCertificates(dir: string): { key: Buffer; cert: Buffer; caFile: string } {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=hoopq test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=googleapis.com');
  writeFileSync(f('leaf.ext'), 'subjectAltName=DNS:*.googleapis.com,DNS:googleapis.com\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '2', '-extfile', f('leaf.ext'));
  return { key: readFileSync(f('leaf.key')), cert: readFileSync(f('leaf.pem')), caFile: f('ca.pem') };
}
