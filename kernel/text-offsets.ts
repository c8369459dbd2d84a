/**
 * Cursor positions: Jupyter counts Unicode code points (protocol 5.2+), the
 * TypeScript compiler counts UTF-16 code units. They differ after any
 * character outside the Basic Multilingual Plane (most emoji).
 */

/** The UTF-16 offset of the `codePoints`-th code point of `text`. */
export function utf16Offset(text: string, codePoints: number): number {
  let offset = 0;
  for (let i = 0; i < codePoints && offset < text.length; i++) {
    offset += (text.codePointAt(offset) ?? 0) > 0xffff ? 2 : 1;
  }
  return offset;
}

/** The number of code points in the first `utf16` code units of `text`. */
export function codePointOffset(text: string, utf16: number): number {
  let count = 0;
  for (let offset = 0; offset < utf16 && offset < text.length; count++) {
    offset += (text.codePointAt(offset) ?? 0) > 0xffff ? 2 : 1;
  }
  return count;
}
