/**
 * `hoopq gateway [--listen HOST:PORT]`: the long-running enforcement point. Reads the config
 * once, starts the server (src/gateway/start-gateway.ts), prints where it listens on stderr,
 * and on SIGTERM/SIGINT stops gracefully: running queries get `--shutdown-grace` to finish,
 * then are cancelled and recorded.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../config/units.js';
import { UsageError } from '../errors.js';
import { DEFAULT_LISTEN, parseListenAddress } from '../gateway/listen-address.js';
import { startGateway } from '../gateway/start-gateway.js';
import { libuvPoolSize } from '../warehouse/engine-call-gate.js';
import { loadCliContext } from './cli-context.js';
import type { CliState } from './main.js';

interface GatewayOpts {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  allowInsecureRemote?: boolean;
  shutdownGrace: string;
  maxConcurrentQueries?: string;
  maxConcurrentQueriesPerRun?: string;
  stallTimeout: string;
  maxMcpSessions?: string;
  maxMcpSessionsPerRun?: string;
  mcpIdleTimeout: string;
  allowedHost: string[];
  allowedOrigin: string[];
}

export function registerGatewayCommand(program: Command, _state: CliState): void {
  program
    .command('gateway')
    .description('serve the HTTP API: the only process that holds warehouse credentials, signing keys and the audit sink')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', DEFAULT_LISTEN)
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM); with --tls-cert')
    .option('--allow-insecure-remote', 'serve plain HTTP on a non-loopback address (run tokens then cross the network in clear text)')
    .option('--shutdown-grace <duration>', 'on SIGTERM/SIGINT, how long running queries may finish before they are cancelled', '10s')
    .option('--max-concurrent-queries <n>', 'queries running at once; more wait for a slot (default 32)')
    .option('--max-concurrent-queries-per-run <n>', 'queries of one run running at once; its others wait while other runs take turns (default 2)')
    .option('--stall-timeout <duration>', 'cut off a client that reads none of its result for this long (its query is cancelled)', '30s')
    .option('--max-mcp-sessions <n>', 'MCP sessions open at once at /v1/mcp; one more is refused with 503 (default 64)')
    .option('--max-mcp-sessions-per-run <n>', 'MCP sessions of one run open at once; one more is refused with 503 (default 8)')
    .option('--mcp-idle-timeout <duration>', 'close an MCP session nobody has used for this long', '15m')
    .option('--allowed-host <name>', 'a host name clients use to reach the gateway (repeatable; the loopback names, the listen address and this machine\'s names are always allowed; * allows any)', collect, [])
    .option('--allowed-origin <url>', 'a web origin whose pages may call the gateway besides its own (repeatable)', collect, [])
    .action(async (opts: GatewayOpts, cmd: Command) => {
      const listen = parseListenAddress(opts.listen);
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) {
        throw new UsageError('usage.tls_pair', 'give both --tls-cert and --tls-key, or neither');
      }
      const graceMs = parseDuration(opts.shutdownGrace);
      if (graceMs === undefined) throw new UsageError('usage.shutdown_grace', `"${opts.shutdownGrace}" is not a duration`, { hint: 'write e.g. 10s or 1m' });
      const stallTimeoutMs = parseDuration(opts.stallTimeout);
      if (stallTimeoutMs === undefined) throw new UsageError('usage.stall_timeout', `"${opts.stallTimeout}" is not a duration`, { hint: 'write e.g. 30s' });
      const maxConcurrentQueries = countOption(opts.maxConcurrentQueries, 'max_concurrent_queries');
      const maxConcurrentQueriesPerRun = countOption(opts.maxConcurrentQueriesPerRun, 'max_concurrent_queries_per_run');
      const maxMcpSessions = countOption(opts.maxMcpSessions, 'max_mcp_sessions');
      const maxMcpSessionsPerRun = countOption(opts.maxMcpSessionsPerRun, 'max_mcp_sessions_per_run');
      const mcpIdleMs = parseDuration(opts.mcpIdleTimeout);
      if (mcpIdleMs === undefined || mcpIdleMs <= 0) throw new UsageError('usage.mcp_idle_timeout', `"${opts.mcpIdleTimeout}" is not a positive duration`, { hint: 'write e.g. 15m' });
      const tls = opts.tlsCert && opts.tlsKey ? { cert: readPem(opts.tlsCert), key: readPem(opts.tlsKey) } : undefined;
      const ctx = loadCliContext(cmd); // only for the config: the gateway builds its own parts
      await ctx.close();
      const log = (line: string) => process.stderr.write(line + '\n');
      const gateway = await startGateway({
        config: ctx.config,
        listen,
        tls,
        allowInsecureRemote: Boolean(opts.allowInsecureRemote),
        version: cmd.parent?.version(),
        allowedHosts: opts.allowedHost,
        allowedOrigins: opts.allowedOrigin.map(checkOrigin),
        poolSize: libuvPoolSize(process.env.UV_THREADPOOL_SIZE),
        limits: {
          stallTimeoutMs,
          mcpIdleMs,
          ...(maxConcurrentQueries ? { maxConcurrentQueries } : {}),
          ...(maxConcurrentQueriesPerRun ? { maxConcurrentQueriesPerRun } : {}),
          ...(maxMcpSessions ? { maxMcpSessions } : {}),
          ...(maxMcpSessionsPerRun ? { maxMcpSessionsPerRun } : {}),
        },
        log,
      });
      log(`hoopq: gateway listening on ${gateway.url}`);
      log(`hoopq: operator key in ${gateway.operatorKeyFile}; audit-writer key in ${gateway.auditWriterKeyFile}`);
      log(`hoopq: OIDC exchanges expect audience ${gateway.oidcAudience}${ctx.config.oidcAudience ? ' (oidc.audience)' : ' (this URL; set oidc.audience in hoopq.yaml to the URL CI jobs use)'}, unless a policy rule names its own`);
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      log(`hoopq: gateway stopping (${signal}): no new requests; running queries have ${opts.shutdownGrace} to finish`);
      // A second signal while draining means "now": queries are then cancelled at once.
      const now = new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      void now.then(() => gateway.close(0));
      await gateway.close(graceMs);
      log('hoopq: gateway stopped');
    });
}

/** A whole number between 1 and 4096, or undefined when the flag was not given. */
function countOption(text: string | undefined, code: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isInteger(n) && n > 0 && n <= 4096)) throw new UsageError(`usage.${code}`, `"${text}" is not a whole number between 1 and 4096`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function checkOrigin(text: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  } catch {
    // refused below
  }
  throw new UsageError('usage.allowed_origin', `--allowed-origin "${text}" is not an http(s) origin`, { hint: 'write e.g. --allowed-origin https://console.example.com' });
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError('usage.tls_file', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}
