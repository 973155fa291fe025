/**
 * bq's command line, parsed as bq parses it (absl flags): `bq [GLOBAL FLAGS] COMMAND [FLAGS]
 * [ARGS]`, with `--flag=value`, `--flag value`, `-n 5`, booleans as `--flag`, `--noflag` or
 * `--flag=true|false`, global flags accepted before or after the command, and the remaining
 * words kept in order (`bq query SELECT 1` joins them into the SQL, as bq does).
 * Every flag is in one table below: used, accepted and ignored (documented in docs/bq.md), or
 * refused with one line that says why and what to do instead. Unknown flags are refused.
 * Pure: no I/O; the command file (bq-command.ts) acts on the result.
 */
import { UsageError } from '../../errors.js';

export const BQ_COMMANDS = ['query', 'ls', 'show', 'head'] as const;
export type BqCommand = (typeof BQ_COMMANDS)[number];

type FlagKind = 'bool' | 'value' | 'multi';

export interface BqFlagSpec {
  kind: FlagKind;
  /** One-letter alias, e.g. `n` for `-n`. */
  short?: string;
  /** use: acted on; ignore: accepted, no effect (says why); refuse: exit 2 with `why`. */
  status: 'use' | 'ignore' | 'refuse';
  why?: string;
}

const CREDENTIALS = 'under hoopq the run token ($HOOPQ_TOKEN) is the only credential an agent holds; the warehouse credentials stay with the operator';
const refuse = (kind: FlagKind, why: string, short?: string): BqFlagSpec => ({ kind, status: 'refuse', why, ...(short ? { short } : {}) });
const ignore = (kind: FlagKind, why: string, short?: string): BqFlagSpec => ({ kind, status: 'ignore', why, ...(short ? { short } : {}) });
const use = (kind: FlagKind, short?: string): BqFlagSpec => ({ kind, status: 'use', ...(short ? { short } : {}) });

/** bq's global flags (and hoopq's own --config, --token, --justification). */
export const BQ_GLOBAL_FLAGS: Readonly<Record<string, BqFlagSpec>> = {
  format: use('value'),
  project_id: use('value'),
  dataset_id: use('value'),
  quiet: use('bool', 'q'),
  config: use('value'),
  token: use('value'),
  justification: use('value'),
  headless: ignore('bool', 'hoopq never prompts'),
  apilog: ignore('value', 'every request is recorded in hoopq\'s audit log instead'),
  location: ignore('value', 'the deployment\'s configuration fixes the location'),
  job_id: ignore('value', 'hoopq names its jobs; the audit record id is the handle'),
  fingerprint_job_id: ignore('bool', 'hoopq names its jobs'),
  synchronous_mode: ignore('bool', 'hoopq always waits for the result'),
  sync: ignore('bool', 'hoopq always waits for the result'),
  max_rows_per_request: ignore('value', 'rows stream as the warehouse produces them'),
  enable_gdrive: ignore('bool', 'no effect'),
  use_regional_endpoints: ignore('bool', 'the deployment\'s configuration fixes the endpoint'),
  api: ignore('value', 'the deployment\'s configuration fixes the endpoint'),
  api_version: ignore('value', 'the deployment\'s configuration fixes the endpoint'),
  trace: ignore('value', 'no effect'),
  httplib2_debuglevel: ignore('value', 'no effect'),
  ca_certificates_file: ignore('value', 'no effect: TLS to the gateway uses the system trust store'),
  debug_mode: ignore('bool', 'no effect'),
  credential_file: refuse('value', CREDENTIALS),
  service_account: refuse('value', CREDENTIALS),
  service_account_credential_file: refuse('value', CREDENTIALS),
  service_account_private_key_file: refuse('value', CREDENTIALS),
  service_account_private_key_password: refuse('value', CREDENTIALS),
  use_gce_service_account: refuse('bool', CREDENTIALS),
  application_default_credential_file: refuse('value', CREDENTIALS),
  oauth_access_token: refuse('value', CREDENTIALS),
  impersonate_service_account: refuse('value', CREDENTIALS),
  bigqueryrc: refuse('value', 'hoopq bq reads no .bigqueryrc: give flags on the command line'),
  disable_ssl_validation: refuse('bool', 'hoopq never turns off TLS validation'),
  discovery_file: refuse('value', 'the deployment\'s configuration fixes the API'),
  job_property: refuse('multi', 'job properties are set by hoopq and the policy'),
  mtls: refuse('bool', 'the deployment\'s configuration fixes the endpoint'),
  proxy_address: refuse('value', 'the deployment\'s configuration fixes the network path'),
  proxy_port: refuse('value', 'the deployment\'s configuration fixes the network path'),
  proxy_username: refuse('value', 'the deployment\'s configuration fixes the network path'),
  proxy_password: refuse('value', 'the deployment\'s configuration fixes the network path'),
};

const NO_TABLE_WRITES = 'hoopq returns results to the caller; to write a table, run CREATE TABLE … AS SELECT or INSERT … SELECT, if the policy allows it';
const ONLY_DATASETS_AND_TABLES = 'hoopq bq ls lists datasets and tables';
const ONLY_TABLES = 'hoopq bq show describes datasets and tables';

export const BQ_COMMAND_FLAGS: Readonly<Record<BqCommand, Readonly<Record<string, BqFlagSpec>>>> = {
  query: {
    use_legacy_sql: use('bool'),
    max_rows: use('value', 'n'),
    dry_run: use('bool'),
    parameter: use('multi'),
    maximum_bytes_billed: use('value'),
    label: use('multi'),
    batch: ignore('bool', 'queries run at interactive priority'),
    use_cache: ignore('bool', 'the warehouse decides'),
    allow_large_results: ignore('bool', 'results stream to the caller whatever their size'),
    flatten_results: ignore('bool', 'legacy SQL only'),
    job_timeout: ignore('value', 'the policy\'s limits.timeout applies'),
    priority: ignore('value', 'queries run at interactive priority'),
    destination_table: refuse('value', NO_TABLE_WRITES),
    replace: refuse('bool', NO_TABLE_WRITES),
    append_table: refuse('bool', NO_TABLE_WRITES),
    destination_kms_key: refuse('value', NO_TABLE_WRITES),
    destination_schema: refuse('value', NO_TABLE_WRITES),
    time_partitioning_type: refuse('value', NO_TABLE_WRITES),
    time_partitioning_expiration: refuse('value', NO_TABLE_WRITES),
    time_partitioning_field: refuse('value', NO_TABLE_WRITES),
    range_partitioning: refuse('value', NO_TABLE_WRITES),
    clustering_fields: refuse('value', NO_TABLE_WRITES),
    schema_update_option: refuse('multi', NO_TABLE_WRITES),
    require_partition_filter: refuse('bool', NO_TABLE_WRITES),
    require_cache: refuse('bool', 'hoopq cannot promise a cached result'),
    start_row: refuse('value', 'page with LIMIT and OFFSET in the SQL', 's'),
    min_completion_ratio: refuse('value', 'hoopq returns complete results only'),
    schedule: refuse('value', 'hoopq runs queries now, under a run token; schedule the agent instead'),
    display_name: refuse('value', 'scheduled queries are not supported'),
    target_dataset: refuse('value', 'scheduled queries are not supported'),
    udf_resource: refuse('multi', 'user-defined function files cannot be analysed; define functions in the SQL'),
    external_table_definition: refuse('multi', 'external tables cannot be checked against the policy'),
    session_id: refuse('value', 'sessions would carry state between queries that hoopq cannot check'),
    create_session: refuse('bool', 'sessions would carry state between queries that hoopq cannot check'),
    connection_property: refuse('multi', 'connection properties are set by hoopq'),
    continuous: refuse('bool', 'continuous queries are not supported'),
    reservation_id: refuse('value', 'the deployment decides where jobs run'),
    job_creation_mode: refuse('value', 'hoopq decides how jobs are created'),
  },
  ls: {
    max_results: use('value', 'n'),
    datasets: use('bool', 'd'),
    all: ignore('bool', 'hoopq lists every dataset and table the policy lets the run read', 'a'),
    projects: refuse('bool', ONLY_DATASETS_AND_TABLES, 'p'),
    jobs: refuse('bool', `${ONLY_DATASETS_AND_TABLES}; hoopq audit list shows what ran`, 'j'),
    models: refuse('bool', ONLY_DATASETS_AND_TABLES, 'm'),
    routines: refuse('bool', ONLY_DATASETS_AND_TABLES),
    row_access_policies: refuse('bool', ONLY_DATASETS_AND_TABLES),
    transfer_config: refuse('bool', ONLY_DATASETS_AND_TABLES),
    transfer_run: refuse('bool', ONLY_DATASETS_AND_TABLES),
    reservation: refuse('bool', ONLY_DATASETS_AND_TABLES),
    capacity_commitment: refuse('bool', ONLY_DATASETS_AND_TABLES),
    reservation_assignment: refuse('bool', ONLY_DATASETS_AND_TABLES),
    connection: refuse('bool', ONLY_DATASETS_AND_TABLES),
    filter: refuse('value', 'name the dataset instead'),
    page_token: refuse('value', 'listings are not paged; use -n'),
    min_creation_time: refuse('value', 'listings are not filtered by time'),
    max_creation_time: refuse('value', 'listings are not filtered by time'),
  },
  show: {
    schema: use('bool'),
    dataset: use('bool', 'd'),
    view: refuse('bool', 'a view\'s definition may name tables the policy hides; hoopq explain shows what a query of it reads'),
    materialized_view: refuse('bool', 'a view\'s definition may name tables the policy hides'),
    job: refuse('bool', `${ONLY_TABLES}; hoopq audit show ID shows a recorded query`, 'j'),
    model: refuse('bool', ONLY_TABLES, 'm'),
    routine: refuse('bool', ONLY_TABLES),
    reservation: refuse('bool', ONLY_TABLES),
    connection: refuse('bool', ONLY_TABLES),
    encryption_service_account: refuse('bool', ONLY_TABLES),
    transfer_config: refuse('bool', ONLY_TABLES),
    transfer_run: refuse('bool', ONLY_TABLES),
  },
  head: {
    max_rows: use('value', 'n'),
    start_row: use('value', 's'),
    selected_fields: use('value', 'c'),
    table: use('bool', 't'),
    job: refuse('bool', 'hoopq bq head reads tables', 'j'),
  },
};

/** Commands bq has that hoopq's face does not, with what to use instead. */
const OTHER_COMMANDS: Record<string, string> = {
  mk: 'create tables with CREATE TABLE through hoopq bq query, if the policy allows it',
  rm: 'drop tables with DROP TABLE through hoopq bq query, if the policy allows it',
  update: 'change tables with ALTER TABLE through hoopq bq query, if the policy allows it',
  load: 'load data with LOAD DATA or INSERT through hoopq bq query, if the policy allows it',
  insert: 'insert rows with INSERT through hoopq bq query, if the policy allows it',
  cp: 'copy tables with CREATE TABLE … COPY or AS SELECT through hoopq bq query, if the policy allows it',
  extract: 'export with EXPORT DATA through hoopq bq query, if the policy allows it',
  truncate: 'truncate with TRUNCATE TABLE through hoopq bq query, if the policy allows it',
  cancel: 'revoking the run (hoopq token revoke) cancels its running queries',
  wait: 'hoopq always waits for the result',
  partition: 'not supported',
  mkdef: 'external tables are not supported',
  'get-iam-policy': 'IAM is managed by the operator',
  'set-iam-policy': 'IAM is managed by the operator',
  'add-iam-policy-binding': 'IAM is managed by the operator',
  'remove-iam-policy-binding': 'IAM is managed by the operator',
  init: 'hoopq bq needs no set-up beyond $HOOPQ_TOKEN',
  shell: 'run one command at a time',
  undelete: 'not supported',
};

export interface ParsedBqArgs {
  /** query, ls, show, head; or help / version. */
  command: BqCommand | 'help' | 'version' | undefined;
  /** Flag name (long form) -> value: string, boolean, or string[] for repeatable flags. */
  flags: Record<string, string | boolean | string[]>;
  /** The words that are not flags, in order. */
  args: string[];
  /** Accepted flags without effect: `--name` -> why. */
  ignored: Array<{ flag: string; why: string }>;
}

const FLAG_TOKEN = /^-{1,2}([A-Za-z][A-Za-z0-9_]*)(?:=([\s\S]*))?$/;

export function parseBqArgs(argv: readonly string[]): ParsedBqArgs {
  const parsed: ParsedBqArgs = { command: undefined, flags: {}, args: [], ignored: [] };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      parsed.args.push(...argv.slice(i + 1));
      break;
    }
    const m = FLAG_TOKEN.exec(token);
    if (!m) {
      if (parsed.command === undefined) parsed.command = commandOf(token);
      else parsed.args.push(token);
      continue;
    }
    if (parsed.command === undefined && (m[1] === 'help' || m[1] === 'h')) {
      parsed.command = 'help';
      continue;
    }
    const isShort = !token.startsWith('--');
    const found = lookUp(m[1]!, isShort, parsed.command);
    if (!found) throw unknownFlag(token, parsed.command);
    const { name, spec, negated } = found;
    let value: string | boolean;
    if (spec.kind === 'bool') {
      value = m[2] === undefined ? !negated : parseBool(name, m[2]);
    } else {
      if (negated) throw unknownFlag(token, parsed.command);
      if (m[2] !== undefined) value = m[2];
      else if (i + 1 < argv.length) value = argv[++i]!;
      else throw new UsageError('usage.bq_flag_value', `bq flag --${name} needs a value`, { hint: `write --${name}=VALUE` });
    }
    if (spec.status === 'refuse') {
      throw new UsageError('usage.bq_flag_refused', `bq flag --${name} is not supported: ${spec.why}`, { rule: 'bq.flags', hint: 'see docs/bq.md for the flags hoopq bq accepts' });
    }
    if (spec.status === 'ignore') parsed.ignored.push({ flag: `--${name}`, why: spec.why ?? 'no effect' });
    if (spec.kind === 'multi') {
      const list = (parsed.flags[name] as string[] | undefined) ?? [];
      parsed.flags[name] = [...list, String(value)];
    } else {
      parsed.flags[name] = value;
    }
  }
  return parsed;
}

/** Whether a command-line token is one of bq's flags for this command (used, accepted or refused). */
export function isBqFlag(token: string, command: BqCommand): boolean {
  const m = FLAG_TOKEN.exec(token);
  return m !== null && lookUp(m[1]!, !token.startsWith('--'), command) !== undefined;
}

function commandOf(word: string): ParsedBqArgs['command'] {
  if ((BQ_COMMANDS as readonly string[]).includes(word)) return word as BqCommand;
  if (word === 'help' || word === 'version') return word;
  const instead = Object.hasOwn(OTHER_COMMANDS, word) ? OTHER_COMMANDS[word] : undefined;
  throw new UsageError('usage.bq_command', `bq ${word} is not supported${instead ? `: ${instead}` : ''}`, {
    rule: 'bq.commands',
    hint: `the bq commands hoopq supports: ${BQ_COMMANDS.join(', ')} (docs/bq.md)`,
  });
}

function lookUp(raw: string, isShort: boolean, command: ParsedBqArgs['command']): { name: string; spec: BqFlagSpec; negated: boolean } | undefined {
  const tables = [command !== undefined && Object.hasOwn(BQ_COMMAND_FLAGS, command) ? BQ_COMMAND_FLAGS[command as BqCommand] : {}, BQ_GLOBAL_FLAGS];
  for (const table of tables) {
    if (Object.hasOwn(table, raw)) return { name: raw, spec: table[raw]!, negated: false };
    for (const [name, spec] of Object.entries(table)) {
      if (spec.short === raw) return { name, spec, negated: false };
    }
    if (!isShort && raw.startsWith('no') && Object.hasOwn(table, raw.slice(2)) && table[raw.slice(2)]!.kind === 'bool') {
      return { name: raw.slice(2), spec: table[raw.slice(2)]!, negated: true };
    }
  }
  return undefined;
}

function parseBool(name: string, text: string): boolean {
  if (/^(true|t|1|yes)$/i.test(text)) return true;
  if (/^(false|f|0|no)$/i.test(text)) return false;
  throw new UsageError('usage.bq_flag_value', `bq flag --${name} takes true or false, not "${text}"`);
}

function unknownFlag(token: string, command: ParsedBqArgs['command']): UsageError {
  const where = command === undefined || command === 'help' || command === 'version' ? '' : ` for bq ${command}`;
  return new UsageError('usage.bq_unknown_flag', `unknown bq flag ${token.replace(/=[\s\S]*$/, '')}${where}`, {
    rule: 'bq.flags',
    hint: 'see docs/bq.md for the flags hoopq bq accepts',
  });
}
