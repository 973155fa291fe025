/**
 * Character counts of a text, taken in one pass. Each detector states a necessary
 * condition over them (a card number needs 13 digits, an email an `@`), so the scanner
 * runs a detector's regex only on the few cells that could hold a match. This is what
 * keeps detectors affordable on millions of cells: most cells cost this one loop.
 */

export interface TextTraits {
  length: number;
  /** ASCII digits 0-9 (what `\d` matches). */
  digits: number;
  at: number;
  colons: number;
  dots: number;
  /** Positions where an ASCII letter is directly followed by a digit ("GB82", "AKIA2…"). */
  letterDigits: number;
}

/** `into` lets a hot loop reuse one object instead of allocating one per cell. */
export function measureText(text: string, into?: TextTraits): TextTraits {
  let digits = 0;
  let at = 0;
  let colons = 0;
  let dots = 0;
  let letterDigits = 0;
  let prevLetter = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      if (prevLetter) letterDigits++;
      prevLetter = false;
      continue;
    }
    const lower = c | 32;
    prevLetter = lower >= 97 && lower <= 122;
    if (prevLetter) continue;
    if (c === 64) at++;
    else if (c === 58) colons++;
    else if (c === 46) dots++;
  }
  if (into === undefined) return { length: text.length, digits, at, colons, dots, letterDigits };
  into.length = text.length;
  into.digits = digits;
  into.at = at;
  into.colons = colons;
  into.dots = dots;
  into.letterDigits = letterDigits;
  return into;
}
