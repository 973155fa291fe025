/**
 * Text bound for a terminal: result cells in the pretty table, and what the audit log holds
 * (SQL, a revoke reason, a forged token's `kid`, an ID token's claims) in `hoopq audit`.
 * Printed raw, an escape sequence in it would drive the terminal (move the cursor, rewrite
 * earlier lines, set the title, hide or reorder text). Input: any text or JSON value.
 * Output: the same content with every control character (C0, DEL, C1), zero-width and
 * bidirectional formatting character and line/paragraph separator written as a visible
 * escape; JSON stays valid JSON and decodes to the same strings.
 */
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// JSON.stringify already escapes C0 inside strings; what it leaves raw outside them is layout
const UNSAFE_IN_JSON = /[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

function escapeUnit(c: string): string {
  return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
}

/** One line of plain text: `\n`, `\t`, `\r` as those two characters, other unsafe ones as `\uXXXX`. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return escapeUnit(c);
  });
}

/** JSON.stringify, with the characters JSON leaves raw (DEL, C1, formatting, separators) escaped too. */
export function terminalJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, escapeUnit);
}
