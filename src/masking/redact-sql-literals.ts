/**
 * The GoogleSQL (and dialect-neutral) literal reader behind redact-sql.ts.
 * What hoopq writes back about a query — the audit log's `sql`, error messages, explain
 * output — must not carry raw values of masked columns, and the only way such a value gets
 * into SQL text is as a literal the caller typed (`WHERE ssn = '123-45-6789'`, its reversed or
 * base64 form, a digits-only number). So every literal is redacted: strings (any quoting of
 * any dialect), numbers of five or more characters, comments, and quoted identifiers that do
 * not look like names. Input: SQL text. Output: the redacted text and the raw literal
 * contents (to scrub them from messages that quote the SQL).
 * Invariant: never throws and errs on the side of redacting: an unterminated literal is
 * redacted to the end of the text; a dialect ambiguity ("…" is an identifier in DuckDB, a
 * string in GoogleSQL) is resolved by the stricter reading.
 */
export interface RedactedSql {
  text: string;
  /** Raw contents of every redacted literal (three characters or more), longest first. */
  literals: string[];
}

export const REDACTED_STRING = "'[REDACTED]'";
export const REDACTED_NUMBER = '[NUMBER]';

const NAME_LIKE = /^[A-Za-z_][A-Za-z_$ ]*[0-9]{0,2}$/;

/** `keepStrings`: contents of '…' literals shown as they are (explain: the masks' own constants, such as '*'). */
export function redactSqlLiterals(sql: string, options: { keepStrings?: ReadonlySet<string> } = {}): RedactedSql {
  let out = '';
  const literals: string[] = [];
  let i = 0;
  const n = sql.length;
  const keep = (s: string) => {
    if (s.length >= 3) literals.push(s);
  };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    // comments
    if ((c === '-' && next === '-') || c === '#') {
      // DuckDB and ZetaSQL both end a line comment at \n or \r
      const m = /[\n\r]/.exec(sql.slice(i));
      const stop = m ? i + m.index : n;
      keep(sql.slice(i + (c === '#' ? 1 : 2), stop).trim());
      out += '/* [REDACTED] */';
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      keep(sql.slice(i + 2, end === -1 ? n : end).trim());
      out += '/* [REDACTED] */';
      i = stop;
      continue;
    }
    // dollar-quoted strings ($$…$$, $tag$…$tag$)
    if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        const stop = end === -1 ? n : end + tag.length;
        keep(sql.slice(i + tag.length, end === -1 ? n : end));
        out += REDACTED_STRING;
        i = stop;
        continue;
      }
    }
    // strings: optional prefix letters (E, r, b, rb, x…), then ' or " possibly tripled
    const prefix = /^[A-Za-z]{0,2}(?=['"])/.exec(sql.slice(i, i + 3));
    const prevIsWord = i > 0 && /[A-Za-z0-9_$]/.test(sql[i - 1]!);
    if (prefix && !prevIsWord && (prefix[0].length === 0 || /^(e|r|b|rb|br|x|n|u&)$/i.test(prefix[0]))) {
      const q = sql[i + prefix[0].length]!;
      const start = i + prefix[0].length;
      const triple = sql.startsWith(q.repeat(3), start);
      const open = triple ? q.repeat(3) : q;
      let j = start + open.length;
      let content = '';
      let closed = false;
      while (j < n) {
        const d = sql[j]!;
        if (d === '\\' && j + 1 < n) {
          content += sql[j + 1];
          j += 2;
          continue;
        }
        if (sql.startsWith(open, j)) {
          if (!triple && sql[j + 1] === q) {
            content += q; // doubled quote: an escaped quote inside the literal
            j += 2;
            continue;
          }
          closed = true;
          j += open.length;
          break;
        }
        content += d;
        j++;
      }
      if (!closed) j = n;
      if (q === '"' && !triple && prefix[0] === '' && NAME_LIKE.test(content) && closed) {
        out += sql.slice(i, j); // a quoted identifier that reads like a name stays readable
      } else if (q === "'" && !triple && prefix[0] === '' && closed && options.keepStrings?.has(content)) {
        out += sql.slice(i, j);
      } else {
        keep(content);
        out += REDACTED_STRING;
      }
      i = j;
      continue;
    }
    // backtick identifiers (GoogleSQL): names stay, anything else is redacted
    if (c === '`') {
      const end = sql.indexOf('`', i + 1);
      const stop = end === -1 ? n : end + 1;
      const content = sql.slice(i + 1, end === -1 ? n : end);
      if (end !== -1 && /^[A-Za-z0-9_.\-*]+$/.test(content) && !/[0-9]{5,}/.test(content)) {
        out += sql.slice(i, stop);
      } else {
        keep(content);
        out += '`[REDACTED]`';
      }
      i = stop;
      continue;
    }
    // numbers (not part of a word): long ones are redacted (digits-only forms of values)
    if (/[0-9.]/.test(c) && !prevIsWord) {
      const m = /^(0x[0-9a-fA-F_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9][0-9_]*([eE][+-]?[0-9]+)?)/.exec(sql.slice(i));
      if (m && m[0].length > 0) {
        if (m[0].length >= 5) {
          keep(m[0]);
          out += REDACTED_NUMBER;
        } else {
          out += m[0];
        }
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return { text: out, literals: [...new Set(literals)].sort((a, b) => b.length - a.length) };
}

/** Replace every occurrence of the given literal contents (and their trimmed forms) in `text`. */
export function scrubLiterals(text: string, literals: readonly string[]): string {
  let out = text;
  for (const lit of literals) {
    for (const form of new Set([lit, lit.trim()])) {
      if (form.length >= 3) out = out.split(form).join('[REDACTED]');
    }
  }
  return out;
}
