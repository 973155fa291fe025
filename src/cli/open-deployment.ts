/**
 * The one place a command learns where its deployment is. Through a gateway when
 * HOOPQ_GATEWAY is set (no configuration file is read at all: the caller holds nothing but a
 * run token, or the operator key in HOOPQ_OPERATOR_KEY) or when the config names a `gateway:`;
 * else directly, with the config, keys, state and audit log of this host. Commands call the
 * Deployment they get and never ask which kind it is.
 */
import type { Command } from 'commander';
import { checkGatewayUrl } from '../gateway-client/gateway-url.js';
import { createRemoteDeployment } from '../gateway-client/remote-deployment.js';
import type { Deployment } from '../pipeline/deployment.js';
import { createLocalDeployment } from '../pipeline/local-deployment.js';
import { loadCliContext } from './cli-context.js';

export async function openDeployment(cmd: Command): Promise<Deployment> {
  const fromEnv = process.env.HOOPQ_GATEWAY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return remote(checkGatewayUrl(fromEnv));
  const ctx = loadCliContext(cmd);
  if (ctx.config.gateway) {
    await ctx.close();
    return remote(checkGatewayUrl(ctx.config.gateway, `gateway: in ${ctx.configPath}`));
  }
  return createLocalDeployment(ctx.config, { parts: ctx.parts, state: ctx.state, close: ctx.close });
}

/** Runs `work` on the deployment and closes it, whatever happens. */
export async function withDeployment<T>(cmd: Command, work: (deployment: Deployment) => Promise<T>): Promise<T> {
  const deployment = await openDeployment(cmd);
  try {
    return await work(deployment);
  } finally {
    await deployment.close();
  }
}

function remote(gateway: URL): Deployment {
  const operatorKey = process.env.HOOPQ_OPERATOR_KEY?.trim();
  return createRemoteDeployment(gateway, { operatorKey: operatorKey ? operatorKey : undefined });
}
