/**
 * The Bearer credential of a BigQuery API call -> the run token the pipeline verifies.
 * A hoopq run token is used as it is.
 */
import type { Gateway } from '../gateway-context.js';

export async function resolveBearer(_gateway: Gateway, bearer: string | undefined): Promise<string | undefined> {
  return bearer;
}
