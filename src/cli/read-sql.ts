/** SQL from the argument, from --file, or from stdin when the argument is `-` or absent. */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

export async function readSql(arg: string | undefined, file: string | undefined, stdin: NodeJS.ReadStream): Promise<string> {
  if (arg !== undefined && arg !== '-' && file !== undefined) {
    throw new UsageError('usage.sql_twice', 'give the SQL either as an argument or with --file, not both');
  }
  let sql: string;
  if (file !== undefined) {
    try {
      sql = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError('usage.sql_file', `cannot read SQL file ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  } else if (arg !== undefined && arg !== '-') {
    sql = arg;
  } else {
    if (stdin.isTTY) {
      throw new UsageError('usage.no_sql', 'no SQL given', { hint: 'pass the SQL as an argument, with --file F, or on stdin' });
    }
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    sql = Buffer.concat(chunks).toString('utf8');
  }
  if (sql.trim() === '') throw new UsageError('usage.empty_sql', 'the SQL is empty');
  return sql;
}
