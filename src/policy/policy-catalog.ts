/**
 * The deployment's policies, loaded from the policies folder on first use. An invalid policy
 * file is an error (exit 3) when that policy is asked for, never skipped silently.
 */
import type { PolicyPort } from '../pipeline/pipeline-parts.js';
import { findPolicyFile, listPolicyFiles, loadPolicy } from './load-policy.js';
import type { Policy } from './policy.js';
import { basename } from 'node:path';

export function createPolicyCatalog(dir: string): PolicyPort {
  const cache = new Map<string, Policy>();
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit) return hit;
      const file = findPolicyFile(dir, name);
      if (!file) return undefined;
      const policy = loadPolicy(file);
      cache.set(name, policy);
      return policy;
    },
    names() {
      return listPolicyFiles(dir).map((f) => basename(f).replace(/\.ya?ml$/, ''));
    },
  };
}
