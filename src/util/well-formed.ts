/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** True when `value` is valid Unicode text: no lone UTF-16 surrogate (String#isWellFormed, ES2024). */
export function isWellFormed(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/** `value` with every lone UTF-16 surrogate replaced by U+FFFD (String#toWellFormed, ES2024). */
export function wellFormed(value: string): string {
  return LONE_SURROGATE.test(value) ? value.replace(LONE_SURROGATES, '\uFFFD') : value;
}
