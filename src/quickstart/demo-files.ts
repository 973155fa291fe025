/** The demo's configuration and policies, as the files a newcomer will read and edit. */
export const DEMO_CONFIG = `# hoopq configuration (see docs/configuration.md)
warehouse:
  kind: duckdb
  path: ./demo.duckdb          # the embedded warehouse; its file name (demo) is the project
  default_project: demo
  default_dataset: crm
policies: ./policies
audit: ./audit.jsonl
keys: ./.hoopq/keys
`;

export const DEMO_POLICIES: Record<string, string> = {
  'analyst-agent': `# An analyst agent: reads analytics and customers, never payment cards.
# Personal data in customers is masked at the source; free text is scanned on the way out.
name: analyst-agent
statements: [select]
tables:
  read:
    - demo.analytics.*
    - demo.crm.customers
    - demo.crm.customer_directory
  write: []
  deny:
    - demo.crm.payment_cards
columns:
  demo.crm.customers.email: hash
  demo.crm.customers.ssn: redact
  "*.*.*.phone": partial
detect: [email, phone, credit_card, us_ssn]
limits:
  max_rows: 1000
  max_queries: 200
  timeout: 60s
require_justification: true
identity:
  - issuer: https://token.actions.githubusercontent.com
    claims: { repository: acme/ml, workflow: nightly }
`,
  'scratch-writer': `# A writer agent: reads analytics, builds tables in the scratch dataset only.
name: scratch-writer
statements: [select, insert, update, delete, create, drop]
tables:
  read:
    - demo.analytics.*
    - demo.scratch.*
  write:
    - demo.scratch.*
  deny:
    - demo.crm.*
limits:
  max_rows: 10000
  timeout: 120s
require_justification: false
`,
};
