/**
 * `postgres://` URLs in hoopq.yaml (`state:` and `audit:`). A configuration file is not a
 * secret store: a URL that carries a password is refused, and the password is taken the way
 * libpq takes it (PGPASSWORD, or a ~/.pgpass / PGPASSFILE file), which node-postgres honours.
 * Input: the configured text. Output: the URL as given, or the caller's failure.
 */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

export function postgresUrl(value: string, fail: (message: string, hint: string) => never): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('is not a valid postgres:// URL', 'write e.g. postgres://hoopq@db.internal:5432/hoopq');
  }
  if (url.password) {
    return fail('carries a password, and hoopq.yaml is not a secret store', 'remove it from the URL and give it in PGPASSWORD or a ~/.pgpass file (mode 0600)');
  }
  if (!url.pathname || url.pathname === '/') return fail('names no database', 'write e.g. postgres://hoopq@db.internal:5432/hoopq');
  return value;
}

/** The URL for messages: user, host, port and database (it never carries a password). */
export function describePostgresUrl(value: string): string {
  try {
    const url = new URL(value);
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}
