/**
 * Policies for a long-running process. The CLI reads the policies folder on every command;
 * the gateway and `hoopq mcp` live for weeks, so they must see an operator's edit just as
 * soon, or the modes would decide differently (createLocalParts uses this for every entry point). A fingerprint of the folder (names, sizes, mtimes) is
 * taken at most every `checkEveryMs`; when it changes the catalog is rebuilt.
 */
import { statSync } from 'node:fs';
import type { PolicyPort } from '../pipeline/pipeline-parts.js';
import { createPolicyCatalog } from './policy-catalog.js';
import { listPolicyFiles } from './load-policy.js';

export function createReloadingPolicyPort(dir: string, checkEveryMs = 500): PolicyPort {
  let catalog = createPolicyCatalog(dir);
  let fingerprint = '';
  let checkedAt = -Infinity;
  const current = (): PolicyPort => {
    const now = Date.now();
    if (now - checkedAt < checkEveryMs) return catalog;
    checkedAt = now;
    const next = fingerprintOf(dir);
    if (next !== fingerprint) {
      fingerprint = next;
      catalog = createPolicyCatalog(dir);
    }
    return catalog;
  };
  return {
    get: (name) => current().get(name),
    names: () => current().names(),
  };
}

function fingerprintOf(dir: string): string {
  let files: string[];
  try {
    files = listPolicyFiles(dir);
  } catch {
    return 'unreadable'; // the catalog itself reports the error when asked
  }
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${f}:${s.size}:${s.mtimeMs}:${s.ino}`;
      } catch {
        return `${f}:gone`;
      }
    })
    .join('\n');
}
