/** The demo's configuration and policies, as the files a newcomer will read and edit. */
import { readFileSync } from 'node:fs';

export const DEMO_CONFIG = `# yaml-language-server: $schema=./schema/hoopq.schema.json
# hoopq configuration (see docs/configuration.md)
warehouse:
  kind: duckdb
  path: ./demo.duckdb          # the embedded warehouse; its file name (demo) is the project
  default_project: demo
  default_dataset: crm
policies: ./policies
audit: ./audit.jsonl
keys: ./.hoopq/keys
# oidc:
#   audience: https://hoopq.internal.example   # the aud CI ID tokens must carry (default: the gateway's URL)
`;

/** The demo uses the example policies shipped in the package's policies/ folder. */
export const DEMO_POLICY_NAMES = ['analyst-agent', 'scratch-writer'] as const;

export function readDemoPolicy(name: (typeof DEMO_POLICY_NAMES)[number]): string {
  return readFileSync(new URL(`../../policies/${name}.yaml`, import.meta.url), 'utf8');
}

/** The policy's tests (`hoopq policy test`), shipped beside it. */
export function readDemoPolicyTests(name: (typeof DEMO_POLICY_NAMES)[number]): string {
  return readFileSync(new URL(`../../policies/${name}.test.yaml`, import.meta.url), 'utf8');
}
