// Byte classes, tables and word-at-a-time helpers the transcoder's layers share.

// The characters this layer compares with. TypeScript 7 emits a const enum as an object; each layer keeps its own,
// module-local as in the single file this was (bench:decode measured equal), not one imported across the layers.
const enum Ch {
  DQuote = 0x22,
  SQuote = 0x27,
  Zero = 0x30,
  Nine = 0x39,
  Backslash = 0x5c,
  Underscore = 0x5f,
}

/** Per quote kind, the bytes that end a run of plain string content (0 = copy as is). */
export function specialTable(quote: number, bytesString: boolean): Uint8Array {
  const table = new Uint8Array(256)
  for (let i = 0; i < 0x20; i++) table[i] = 1
  table[quote] = 1
  table[Ch.DQuote] = 1
  table[Ch.Backslash] = 1
  if (bytesString) for (let i = 0x80; i < 0x100; i++) table[i] = 1
  return table
}

export const SPECIAL_SINGLE = specialTable(Ch.SQuote, false)

export const SPECIAL_DOUBLE = specialTable(Ch.DQuote, false)

/** Letters that may start a Python string prefix (u, b, r in either case). */
export function isPrefixLetter(c: number): boolean {
  const lower = c | 0x20
  return lower === 0x75 || lower === 0x62 || lower === 0x72
}

export function isDigit(c: number): boolean {
  return c >= Ch.Zero && c <= Ch.Nine
}

export function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === Ch.Underscore || c >= 0x80
}

/** Whitespace both grammars share (the flat-dict fast path skips it; comments and continuations take the slow path). */
export const PLAIN_SPACE = new Uint8Array(256)
for (const c of ' \t\n\r') PLAIN_SPACE[c.charCodeAt(0)] = 1

/**
 * Flags, in bit 7 of each byte, the bytes of a little-endian word that stop a plain string run: a control
 * character (< 0x20), `"`, a backslash, or the string's own quote (`quotes`, that byte in all four lanes). The
 * lowest flag is exact (bit tricks from "Bit Twiddling Hacks": has-zero-byte on `word ^ lanes`, has-less-than);
 * higher flags may be false, which is fine: only the first stop matters.
 */
export function stringStops(word: number, quotes: number): number {
  const dq = word ^ 0x22222222
  const bs = word ^ 0x5c5c5c5c
  const q = word ^ quotes
  return (((word - 0x20202020) & ~word) | ((dq - 0x01010101) & ~dq) | ((bs - 0x01010101) & ~bs) | ((q - 0x01010101) & ~q)) & 0x80808080
}

/** The index (0–3) of the lowest flagged byte of a non-zero mask from {@link stringStops}. */
export function firstFlagged(mask: number): number {
  return (31 - Math.clz32(mask & -mask)) >> 3
}

/** True when `bytes[from, to)` equals `expected`. */
export function sameBytes(bytes: Uint8Array, from: number, to: number, expected: Uint8Array): boolean {
  if (to - from !== expected.length) return false
  for (let i = 0; i < expected.length; i++) if (bytes[from + i] !== expected[i]) return false
  return true
}
