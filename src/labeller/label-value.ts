// Turning arbitrary devicetree or cpuinfo text into a valid label value or name, by one documented rule.
import { isValidLabelValue } from '../common/labels.js';

/** The longest label value (and label name) the API server accepts. */
export const MAX_LABEL_VALUE = 63;

const ALNUM = /[A-Za-z0-9]/;

/**
 * Makes a label value out of any text, or returns undefined when nothing usable is left:
 *
 * 1. bytes are read one character per byte (latin1), so no input can fail to decode; the text is
 *    trimmed and lowercased;
 * 2. commas and spaces become '-' (what the original labeller did, so its valid outputs stay the same);
 * 3. every other character outside [a-z0-9._-] becomes '-', one per character;
 * 4. characters that are not letters or digits are stripped from both ends;
 * 5. the result is cut to 63 characters and stripped at the end again.
 *
 * Inputs the original turned into a valid value come out identical; everything else comes out valid.
 */
export function toLabelValue(input: string | Uint8Array): string | undefined {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  let out = '';
  // Iterating by code point, so one astral character becomes one '-', not two.
  for (const ch of text.trim().toLowerCase()) {
    if (ch === ',' || ch === ' ') out += '-';
    else if (/^[a-z0-9._-]$/.test(ch)) out += ch;
    else out += '-';
  }
  out = trimToAlnum(out);
  if (out.length > MAX_LABEL_VALUE) out = trimToAlnum(out.slice(0, MAX_LABEL_VALUE));
  if (out === '' || !isValidLabelValue(out)) return undefined;
  return out;
}

function trimToAlnum(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && !ALNUM.test(s[start] ?? '')) start += 1;
  while (end > start && !ALNUM.test(s[end - 1] ?? '')) end -= 1;
  return s.slice(start, end);
}
