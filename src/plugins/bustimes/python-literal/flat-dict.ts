import {SPECIAL_SINGLE, SPECIAL_DOUBLE, isDigit, PLAIN_SPACE, stringStops, firstFlagged, sameBytes} from './bytes.js'
import {NumberScanner} from './numbers.js'

// The characters this layer compares with. TypeScript 7 emits a const enum as an object; each layer keeps its own,
// module-local as in the single file this was (bench:decode measured equal), not one imported across the layers.
const enum Ch {
  Space = 0x20,
  DQuote = 0x22,
  SQuote = 0x27,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Zero = 0x30,
  Nine = 0x39,
  Colon = 0x3a,
  LBrace = 0x7b,
  RBrace = 0x7d,
}

/** The same names for the flat-dict loop: their first four bytes as little-endian words, indexed alike. */
const PYTHON_NAME_HEADS = Int32Array.from(['None', 'True', 'Fals'], (word) => Buffer.from(word).readInt32LE(0))

const JSON_NAME_HEADS = Int32Array.from(['null', 'true', 'fals'], (word) => Buffer.from(word).readInt32LE(0))

const NO_KEY = new Uint8Array(0)

/**
 * Copies the plain content of a string — bytes that need no escaping in JSON and do not end it — from `src` at
 * `from` to the output at `o`, four bytes at a time; returns where the plain run ends (at the byte that stopped
 * it, or `end`). Each word is copied whole (the output has room) and the caller advances its write position by
 * the run's length. `table` (the byte-at-a-time rule for the same quote) serves the last few bytes of the input.
 * Bytes from 0x80 up are copied as they are: the body was checked to be UTF-8.
 */
function plainRun(srcView: DataView, outView: DataView, src: Uint8Array, out: Uint8Array, table: Uint8Array, quote: number, from: number, end: number, o: number): number {
  const quotes = quote * 0x01010101
  let q = from
  while (q + 4 <= end) {
    const word = srcView.getInt32(q, true)
    outView.setInt32(o, word, true)
    const stops = stringStops(word, quotes)
    if (stops !== 0) return q + firstFlagged(stops)
    q += 4
    o += 4
  }
  // The last few bytes of the input, one at a time.
  while (q < end && table[src[q]] === 0) out[o++] = src[q++]
  return q
}

/** Skips plain whitespace (no comments, no continuations); most bytes are not even near a space. */
function skipSpaces(src: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const c = src[p]
    if (c > Ch.Space || PLAIN_SPACE[c] === 0) break
    p++
  }
  return p
}

/** How many leading pairs of a flat dict get a template, and how long one may be (in 4-byte words). */
const TEMPLATE_SLOTS = 64

const TEMPLATE_WORDS = 10

/** Per slot: input length, output length, input words, output words. */
const TEMPLATE_STRIDE = 2 + 2 * TEMPLATE_WORDS

/**
 * Remembers, for pair `slot / TEMPLATE_STRIDE` of a flat dict, the input bytes from the end of the previous value
 * (or the `{`) to the start of this pair's value — `, u'lastLocID': ` — and the JSON they became — `,"lastLocID":`.
 * The next vehicle almost always has the same key at the same index: comparing a few words and writing a few
 * replaces scanning the separator, the quotes and the key. Only pairs transcoded when no earlier pair of the dict
 * was dropped are recorded, so a template always stands for a kept key and its comma is right.
 * Input words are read whole, the last one overlapping its neighbour; templates under 4 or over
 * 4 × TEMPLATE_WORDS bytes are not kept.
 */
function recordTemplate(templates: Int32Array, slot: number, srcView: DataView, from: number, length: number, outView: DataView, outFrom: number, written: number): void {
  if (length < 4 || length > 4 * TEMPLATE_WORDS) {
    templates[slot] = 0
    return
  }
  templates[slot] = length
  templates[slot + 1] = written
  for (let k = 0; k < length; k += 4) templates[slot + 2 + (k >> 2)] = srcView.getInt32(from + (k + 4 <= length ? k : length - 4), true)
  // Output words are written whole when replayed; the bytes past `written` are overwritten by what follows.
  for (let k = 0; k < written; k += 4) templates[slot + 2 + TEMPLATE_WORDS + (k >> 2)] = outView.getInt32(outFrom + k, true)
}

/** Like {@link plainRun} for a run of decimal digits. */
function digitRun(srcView: DataView, outView: DataView, src: Uint8Array, out: Uint8Array, from: number, end: number, o: number): number {
  let q = from
  while (q + 4 <= end) {
    const word = srcView.getInt32(q, true)
    outView.setInt32(o, word, true)
    // Flags bytes below "0" (has-less-than) or above "9" (has-more-than); the lowest flag is exact.
    const stops = (((word - 0x30303030) & ~word) | (word + 0x46464646) | word) & 0x80808080
    if (stops !== 0) return q + firstFlagged(stops)
    q += 4
    o += 4
  }
  while (q < end && isDigit(src[q])) out[o++] = src[q++]
  return q
}

/** The fast path for a dict of scalars (one bustimes vehicle), word at a time with per-key templates. */
export abstract class FlatDictScanner extends NumberScanner {
  /**
   * A flat dict in exactly the shape `repr()` and `json.dumps` write — `{K: V, K: V}` with escape-free string keys
   * and scalar values (escape-free strings, plain ints and decimals, None/True/False) — transcoded in one tight loop:
   * the shape of every bustimes vehicle, and where `convert` spends its decoding time. Returns -1, having consumed
   * and written nothing (`pos` and `o` untouched), at the first thing outside that shape; the general path then
   * reads the dict and reports any error.
   *
   * Why it is written this way (each measured on the bustimes archive, `bench/decode.ts --worker`):
   * - the separator and key before each value are usually the bytes the previous vehicle had at the same index:
   *   they are compared and replayed as a few words ({@link recordTemplate}) instead of being scanned;
   * - one pass per token, a word at a time: string and digit runs are copied four bytes per step while they are
   *   scanned ({@link plainRun}, {@link digitRun}), instead of finding the end byte by byte and copying after;
   * - read and write positions, the buffers and the grammar flag live in locals, stored back to `this` only on
   *   success (field access inside the loop costs loads and stores V8 cannot drop);
   * - the dropped key is compared inline against the key just scanned, by length and then bytes (no callback);
   * - what this loop writes is never longer than what it reads (`u'k': None` → `"k":null`), and whole words
   *   overhang the written text by at most 12 bytes, so one check of the room for the rest of the input replaces
   *   a check per token (a DataView write past the buffer would throw, not corrupt).
   */
  protected flatDict(dropKey: Uint8Array | undefined): number {
    const src = this.src
    const end = this.end
    const python = this.syntax === 'python'
    const startPos = this.pos
    this.ensure(end - startPos + 16)
    const out = this.out
    const srcView = this.srcView
    const outView = this.outView
    const templates = (this.templates ??= new Int32Array(TEMPLATE_SLOTS * TEMPLATE_STRIDE))
    const drop = dropKey ?? NO_KEY
    const dropLength = dropKey === undefined ? -1 : drop.length
    let o = this.o
    out[o++] = Ch.LBrace
    let p = startPos + 1
    let pairs = 0
    let bigIntegers = false
    for (let index = 0; ; index++) {
      // From here (after "{" or after the previous value) to the start of the next value: the separator and the
      // key. Vehicles repeat their keys in the same order, so first try the bytes seen at this index before.
      const slot = index * TEMPLATE_STRIDE
      const length = index < TEMPLATE_SLOTS && pairs === index ? templates[slot] : 0
      let known = length !== 0 && p + length <= end
      if (known) {
        // Whole words, the last one overlapping its neighbour so as not to read past the template; differences
        // are gathered without a branch per word.
        const last = length - 4
        let difference = 0
        let k = 0
        for (; k < last; k += 4) difference |= srcView.getInt32(p + k, true) ^ templates[slot + 2 + (k >> 2)]
        difference |= srcView.getInt32(p + last, true) ^ templates[slot + 2 + (k >> 2)]
        known = difference === 0
      }
      const pairStart = o
      let keep = true
      if (known) {
        // The same bytes as before, so the same JSON text: a kept key after kept pairs.
        const written = templates[slot + 1]
        // Three words whatever the length (a branch the processor need not guess), then any more.
        const words = slot + 2 + TEMPLATE_WORDS
        outView.setInt32(o, templates[words], true)
        outView.setInt32(o + 4, templates[words + 1], true)
        outView.setInt32(o + 8, templates[words + 2], true)
        for (let k = 12; k < written; k += 4) outView.setInt32(o + k, templates[words + (k >> 2)], true)
        p += length
        o += written
      } else {
        const from = p
        p = skipSpaces(src, p, end)
        let c = src[p]
        if (index > 0) {
          if (c === Ch.RBrace) {
            out[o++] = Ch.RBrace
            this.o = o
            this.pos = p + 1
            if (bigIntegers) this.bigIntegers = true
            return pairs
          }
          if (c !== Ch.Comma) break
          p = skipSpaces(src, p + 1, end)
          c = src[p]
        } else if (c === Ch.RBrace) {
          break // {}: the general path
        }
        // Key: u'…' / '…' / "…" (Python) or "…" (JSON), directly followed by ":".
        if (c === 0x75 && python) c = src[++p]
        let table: Uint8Array
        if (c === Ch.DQuote) table = SPECIAL_DOUBLE
        else if (c === Ch.SQuote && python) table = SPECIAL_SINGLE
        else break
        if (pairs > 0) out[o++] = Ch.Comma
        out[o++] = Ch.DQuote
        const keyFrom = p + 1
        const q = plainRun(srcView, outView, src, out, table, c, keyFrom, end, o)
        o += q - keyFrom
        if (q >= end || src[q] !== c || src[q + 1] !== Ch.Colon) break
        out[o++] = Ch.DQuote
        out[o++] = Ch.Colon
        p = skipSpaces(src, q + 2, end)
        keep = q - keyFrom !== dropLength || !sameBytes(src, keyFrom, q, drop)
        if (keep && pairs === index && index < TEMPLATE_SLOTS) {
          recordTemplate(templates, slot, srcView, from, p - from, outView, pairStart, o - pairStart)
        }
      }
      // Value: a scalar.
      let c = src[p]
      if (c === 0x75 && python) {
        c = src[p + 1]
        if (c !== Ch.SQuote && c !== Ch.DQuote) break
        p++
      }
      if (c === Ch.DQuote || (c === Ch.SQuote && python)) {
        out[o++] = Ch.DQuote
        const q = plainRun(srcView, outView, src, out, c === Ch.SQuote ? SPECIAL_SINGLE : SPECIAL_DOUBLE, c, p + 1, end, o)
        o += q - p - 1
        if (q >= end || src[q] !== c) break
        out[o++] = Ch.DQuote
        p = q + 1
      } else if ((c >= Ch.Zero && c <= Ch.Nine) || c === Ch.Minus) {
        // An int, or a decimal with digits on both sides of the point: the same text in JSON.
        let q = p
        if (c === Ch.Minus) out[o++] = src[q++]
        const first = q
        q = digitRun(srcView, outView, src, out, q, end, o)
        o += q - first
        const digits = q - first
        if (digits === 0 || (digits > 1 && src[first] === Ch.Zero)) break
        if (q < end && src[q] === Ch.Dot) {
          out[o++] = Ch.Dot
          const fraction = q + 1
          q = digitRun(srcView, outView, src, out, fraction, end, o)
          o += q - fraction
          if (q === fraction) break
        } else if (digits >= 16) {
          bigIntegers = true
        }
        p = q
      } else {
        // None/True/False (Python) or null/true/false (JSON): their first four bytes as one word (and False's "e").
        if (p + 5 > end) break
        const head = srcView.getInt32(p, true)
        const heads = python ? PYTHON_NAME_HEADS : JSON_NAME_HEADS
        const word = head === heads[0] ? 0 : head === heads[1] ? 1 : head === heads[2] && src[p + 4] === 0x65 ? 2 : -1
        if (word < 0) break
        outView.setInt32(o, JSON_NAME_HEADS[word], true)
        if (word === 2) {
          out[o + 4] = 0x65
          p++
          o++
        }
        p += 4
        o += 4
      }
      if (keep) pairs++
      else o = pairStart // the dropped key and its value
    }
    return -1
  }
}
