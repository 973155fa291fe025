/**
 * Text from the audit log on an operator's terminal. A record holds what callers sent (SQL,
 * a revoke reason, a forged token's `kid`, an ID token's claims); printed raw, an escape
 * sequence in it would drive the terminal (move the cursor, rewrite earlier lines, set the
 * title, hide text). Input: any text or JSON value. Output: the same content with every
 * control character — C0, DEL, C1 — and every bidirectional override written as a visible
 * `\u….` escape; JSON stays valid JSON and decodes to the same strings.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// JSON.stringify already escapes C0 inside strings; what is left raw outside them is layout
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
}

/** Plain text for one terminal line: controls (newlines and tabs included) escaped. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** JSON.stringify, with the characters JSON leaves raw (DEL, C1, U+2028/9, bidi) escaped too. */
export function terminalJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, escape);
}
