/**
 * The tables of the audit log kept in PostgreSQL (docs/audit.md "A log in PostgreSQL"), and
 * their creation on first open.
 *
 *   hoopq_audit_log          one row a record: seq, hash, the exact line as the JSONL file
 *                            holds it (canonical JSON, without the newline), end_bytes (the
 *                            log's size in bytes up to and including this line's newline, as
 *                            a checkpoint's log_size_bytes counts it), id and intent (looked up
 *                            by outcome recovery)
 *   hoopq_audit_checkpoints  one row a signed checkpoint, as its canonical JSON line
 * Both refuse UPDATE, DELETE and TRUNCATE with a trigger. The trigger only stops accidents
 * and roles that cannot drop it; the proof is the hash chain and the signed checkpoints,
 * which `audit verify` checks whatever the table owner did.
 *
 * Creation is idempotent and safe when several replicas open at once: what is missing is
 * created in one transaction under an advisory lock (IF NOT EXISTS alone races in the catalog).
 */
import type pg from 'pg';

export const AUDIT_LOG_TABLE = 'hoopq_audit_log';
export const AUDIT_CHECKPOINTS_TABLE = 'hoopq_audit_checkpoints';

/**
 * Advisory lock keys, in the two-int4 key space (which never meets the bigint one): the
 * first number is hoopq's ("hoop" in ASCII), the second what is locked.
 */
export const ADVISORY_NAMESPACE = 0x686f6f70;
export const AUDIT_APPEND_LOCK = 1;
export const AUDIT_SCHEMA_LOCK = 2;

const TRIGGERS = ['hoopq_audit_append_only', 'hoopq_audit_no_truncate'];

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS ${AUDIT_LOG_TABLE} (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  hash text NOT NULL,
  line text NOT NULL,
  end_bytes bigint NOT NULL,
  id text NOT NULL,
  intent text,
  written_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${AUDIT_LOG_TABLE}_id ON ${AUDIT_LOG_TABLE} (id);
CREATE INDEX IF NOT EXISTS ${AUDIT_LOG_TABLE}_intent ON ${AUDIT_LOG_TABLE} (intent) WHERE intent IS NOT NULL;
CREATE TABLE IF NOT EXISTS ${AUDIT_CHECKPOINTS_TABLE} (
  n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq bigint NOT NULL,
  line text NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);
DO $do$
DECLARE t text;
BEGIN
  IF to_regprocedure('hoopq_audit_append_only()') IS NULL THEN
    CREATE FUNCTION hoopq_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
      RAISE EXCEPTION 'the hoopq audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege', HINT = 'audit records and checkpoints are never changed or removed (docs/audit.md)';
    END $f$;
  END IF;
  FOREACH t IN ARRAY ARRAY['${AUDIT_LOG_TABLE}', '${AUDIT_CHECKPOINTS_TABLE}'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(t) AND tgname = '${TRIGGERS[0]}') THEN
      EXECUTE format('CREATE TRIGGER ${TRIGGERS[0]} BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION hoopq_audit_append_only()', t);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(t) AND tgname = '${TRIGGERS[1]}') THEN
      EXECUTE format('CREATE TRIGGER ${TRIGGERS[1]} BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION hoopq_audit_append_only()', t);
    END IF;
  END LOOP;
END
$do$;
`;

const PRESENT_SQL = `
SELECT to_regclass('${AUDIT_LOG_TABLE}') IS NOT NULL AND to_regclass('${AUDIT_CHECKPOINTS_TABLE}') IS NOT NULL AS tables,
       (SELECT count(*) FROM pg_trigger
         WHERE tgrelid IN (to_regclass('${AUDIT_LOG_TABLE}'), to_regclass('${AUDIT_CHECKPOINTS_TABLE}'))
           AND tgname = ANY($1::text[]))::int AS triggers`;

/**
 * Creates the tables, indexes and append-only triggers that are missing. A deployment whose
 * owner created them already (and granted hoopq only SELECT and INSERT) needs no CREATE
 * privilege: when everything is there, nothing is created.
 */
export async function ensureAuditSchema(client: pg.ClientBase): Promise<void> {
  const present = await client.query<{ tables: boolean; triggers: number }>(PRESENT_SQL, [TRIGGERS]);
  if (present.rows[0].tables && present.rows[0].triggers === TRIGGERS.length * 2) return;
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${ADVISORY_NAMESPACE}, ${AUDIT_SCHEMA_LOCK})`);
    await client.query(SCHEMA_SQL);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
