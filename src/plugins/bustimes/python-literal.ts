import {isUtf8} from 'node:buffer'

import {DecodeError} from '../core/source-kit.js'

/**
 * Python literals (what `repr()` writes and `ast.literal_eval` reads) decoded by a single pass over the UTF-8
 * bytes that writes JSON text as it goes, instead of building values first.
 *
 * Why a transcoder: the hot path of `convert` is "repr body → JSON lines → gzip". Copying the bytes of keys,
 * numbers and escape-free strings straight into the output is several times faster than building objects and
 * serialising them again, and it keeps numbers exact: the JSON text of an int has all its digits (no 2^53 limit)
 * and a float keeps its decimal point, so Python's `json.loads` reads back the very value `ast.literal_eval`
 * produced (`5.0` stays a float, `12345678901234567890` stays exact).
 *
 * Decisions, matching Python 3's `ast.literal_eval` (the reference) unless noted:
 * - dict keys must be `str` (a {@link DecodeError} otherwise); duplicate keys are written as they come, and every
 *   JSON reader (JS and Python) keeps the last one, as Python does.
 * - tuples become arrays; `(x)` is just `x`; sets, complex numbers, `inf`/`nan` names and `\N{...}` escapes are
 *   rejected with a clear error. A float literal that overflows (`1e999`) is rejected: JSON has no infinity.
 * - string prefixes `u`, `b`, `r`, `ur`, `br`, `rb` in any case. `b''` bytes become a string of the byte values
 *   (latin-1), like a Python-2 `str` read by Python 3. `ur''` follows Python 2: raw, but `\uXXXX` is decoded.
 * - Python-2 long suffixes (`10L`) are accepted (Python 3 would reject them); `0x`/`0o`/`0b` and `_` separators
 *   are converted to plain decimal; leading-zero ints (`017`, a Python-2 octal) are rejected.
 * - `#` comments and backslash line continuations between tokens are whitespace.
 */

/** Which grammar the bytes are read with. */
export type LiteralSyntax = 'python' | 'json'

const enum Ch {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Ff = 0x0c,
  Space = 0x20,
  Hash = 0x23,
  DQuote = 0x22,
  SQuote = 0x27,
  LParen = 0x28,
  RParen = 0x29,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  Zero = 0x30,
  Seven = 0x37,
  Nine = 0x39,
  Colon = 0x3a,
  LBracket = 0x5b,
  Backslash = 0x5c,
  RBracket = 0x5d,
  Underscore = 0x5f,
  LBrace = 0x7b,
  RBrace = 0x7d,
}

/** Per quote kind, the bytes that end a run of plain string content (0 = copy as is). */
function specialTable(quote: number, bytesString: boolean): Uint8Array {
  const table = new Uint8Array(256)
  for (let i = 0; i < 0x20; i++) table[i] = 1
  table[quote] = 1
  table[Ch.DQuote] = 1
  table[Ch.Backslash] = 1
  if (bytesString) for (let i = 0x80; i < 0x100; i++) table[i] = 1
  return table
}

const SPECIAL_SINGLE = specialTable(Ch.SQuote, false)
const SPECIAL_DOUBLE = specialTable(Ch.DQuote, false)
const SPECIAL_SINGLE_BYTES = specialTable(Ch.SQuote, true)
const SPECIAL_DOUBLE_BYTES = specialTable(Ch.DQuote, true)

const HEX = new Int8Array(256).fill(-1)
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i
  HEX[0x61 + i] = 10 + i
}
const HEX_DIGITS = Buffer.from('0123456789abcdef')

/** Letters that may start a Python string prefix (u, b, r in either case). */
function isPrefixLetter(c: number): boolean {
  const lower = c | 0x20
  return lower === 0x75 || lower === 0x62 || lower === 0x72
}

function isDigit(c: number): boolean {
  return c >= Ch.Zero && c <= Ch.Nine
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === Ch.Underscore || c >= 0x80
}

const MAX_DEPTH = 1000

const PYTHON_NAMES: [Buffer, Buffer][] = [
  [Buffer.from('None'), Buffer.from('null')],
  [Buffer.from('True'), Buffer.from('true')],
  [Buffer.from('False'), Buffer.from('false')],
]
const JSON_NAMES: [Buffer, Buffer][] = ['null', 'true', 'false'].map((word) => [Buffer.from(word), Buffer.from(word)])
/** The same names for the flat-dict loop: their first four bytes as little-endian words, indexed alike. */
const PYTHON_NAME_HEADS = Int32Array.from(['None', 'True', 'Fals'], (word) => Buffer.from(word).readInt32LE(0))
const JSON_NAME_HEADS = Int32Array.from(['null', 'true', 'fals'], (word) => Buffer.from(word).readInt32LE(0))
const NO_KEY = new Uint8Array(0)

/** Whitespace both grammars share (the flat-dict fast path skips it; comments and continuations take the slow path). */
const PLAIN_SPACE = new Uint8Array(256)
for (const c of ' \t\n\r') PLAIN_SPACE[c.charCodeAt(0)] = 1

/** Bytes that may follow a complete number (so the fast path can copy it): delimiters and whitespace. */
const NUMBER_END = new Uint8Array(256)
for (const c of ', \t\n\r]}):#\f') NUMBER_END[c.charCodeAt(0)] = 1

/**
 * The transcoder: reads one value of `syntax` from `src` at `pos` and appends its JSON text to an output buffer.
 * Exported for sources that drive it over a known document shape (bustimes writes one JSON line per vehicle);
 * most callers want {@link pythonLiteralToJson} or {@link parsePythonLiteral}.
 */
export class LiteralTranscoder {
  /** Read position (byte offset into `src`). */
  pos = 0
  /** Output buffer and its fill level; `out.subarray(0, o)` is the JSON written so far. */
  out: Buffer
  o = 0
  /** Set when an integer beyond ±2^53 was written (JSON.parse would round it). */
  bigIntegers = false
  private depth = 0
  private readonly end: number
  /** Views for reading and writing four bytes at a time (the flat-dict loop); `outView` follows `out`. */
  private readonly srcView: DataView
  private outView: DataView
  /** The flat-dict loop's memory of separator-and-key bytes per pair index (see {@link recordTemplate}). */
  private templates: Int32Array | undefined

  constructor(
    readonly src: Uint8Array,
    readonly syntax: LiteralSyntax,
    outputHint = src.length + (src.length >> 3) + 64,
  ) {
    this.end = src.length
    this.out = Buffer.allocUnsafe(outputHint)
    this.srcView = new DataView(src.buffer, src.byteOffset, src.length)
    this.outView = new DataView(this.out.buffer, this.out.byteOffset, this.out.length)
  }

  /** Checks the bytes are UTF-8 (Python source and JSON both must be); call once per document. */
  checkUtf8(): void {
    if (isUtf8(this.src)) return
    // Bytes cut inside a multi-byte character are a truncated body, not a wrongly encoded one.
    const partial = partialUtf8Tail(this.src)
    if (partial > 0 && isUtf8(this.src.subarray(0, this.end - partial))) throw this.error('unexpected end of input inside a UTF-8 character (truncated?)', this.end)
    throw new DecodeError('body is not valid UTF-8 text', {offset: 0})
  }

  // ---- output ----

  /** Makes room for `extra` more output bytes (doubling the buffer). */
  ensure(extra: number): void {
    if (this.o + extra <= this.out.length) return
    let size = this.out.length * 2
    while (size < this.o + extra) size *= 2
    const bigger = Buffer.allocUnsafe(size)
    this.out.copy(bigger, 0, 0, this.o)
    this.out = bigger
    this.outView = new DataView(bigger.buffer, bigger.byteOffset, bigger.length)
  }

  /** Appends `src[from, to)`; short runs by hand, long ones natively. */
  copy(from: number, to: number): void {
    const n = to - from
    this.ensure(n)
    const out = this.out
    if (n < 24) {
      const src = this.src
      let o = this.o
      for (let i = from; i < to; i++) out[o++] = src[i]
      this.o = o
    } else {
      out.set(this.src.subarray(from, to), this.o)
      this.o += n
    }
  }

  /** Appends one byte. */
  byte(c: number): void {
    if (this.o >= this.out.length) this.ensure(1)
    this.out[this.o++] = c
  }

  /** Appends ASCII text. */
  ascii(text: string): void {
    this.ensure(text.length)
    for (let i = 0; i < text.length; i++) this.out[this.o++] = text.charCodeAt(i)
  }

  /** Appends a UTF-16 code unit as a JSON `\uXXXX` escape. */
  private unitEscape(unit: number): void {
    this.ensure(6)
    const out = this.out
    out[this.o++] = Ch.Backslash
    out[this.o++] = 0x75
    out[this.o++] = HEX_DIGITS[(unit >> 12) & 15]
    out[this.o++] = HEX_DIGITS[(unit >> 8) & 15]
    out[this.o++] = HEX_DIGITS[(unit >> 4) & 15]
    out[this.o++] = HEX_DIGITS[unit & 15]
  }

  /** Appends one code point inside a JSON string, escaped where JSON requires or the code point needs it. */
  private codePoint(cp: number): void {
    if (cp === Ch.DQuote) return this.ascii('\\"')
    if (cp === Ch.Backslash) return this.ascii('\\\\')
    if (cp >= 0x20 && cp < 0x7f) return this.byte(cp)
    if (cp === Ch.Lf) return this.ascii('\\n')
    if (cp === Ch.Tab) return this.ascii('\\t')
    if (cp === Ch.Cr) return this.ascii('\\r')
    if (cp > 0xffff) {
      const v = cp - 0x10000
      this.unitEscape(0xd800 + (v >> 10))
      return this.unitEscape(0xdc00 + (v & 0x3ff))
    }
    this.unitEscape(cp)
  }

  // ---- errors ----

  /** A {@link DecodeError} at byte `at`, reported as a character offset with a snippet of the text around it. */
  error(problem: string, at = this.pos, expected?: string): DecodeError {
    const src = Buffer.from(this.src.buffer, this.src.byteOffset, this.src.length)
    const offset = src.toString('utf8', 0, Math.min(at, src.length)).length
    const before = src.toString('utf8', Math.max(0, at - 30), Math.min(at, src.length))
    const after = src.toString('utf8', Math.min(at, src.length), Math.min(src.length, at + 30))
    const snippet = `${JSON.stringify(before).slice(1, -1)}⟨here⟩${JSON.stringify(after).slice(1, -1)}`
    const tail = expected ? ` (expected ${expected})` : ''
    return new DecodeError(`${problem} at offset ${offset}${tail}: …${snippet}…`, {offset})
  }

  /** The error for the byte at `pos`: end of input or an unexpected character. */
  unexpected(expected?: string, at = this.pos): DecodeError {
    if (at >= this.end || this.continuationCutShort(at)) return this.error('unexpected end of input (truncated?)', this.end, expected)
    const src = Buffer.from(this.src.buffer, this.src.byteOffset, this.src.length)
    let width = 1
    const c = src[at]
    if (c >= 0xf0) width = 4
    else if (c >= 0xe0) width = 3
    else if (c >= 0xc0) width = 2
    const shown = JSON.stringify(src.toString('utf8', at, Math.min(this.end, at + width)))
    return this.error(`unexpected ${shown}`, at, expected)
  }

  /** The error for a dict key that is not a string at `pos` (whose byte is `c`): truncated when the body ends there. */
  keyError(c: number): DecodeError {
    if (c === -1 || this.prefixCutShort(this.pos)) return this.error('unexpected end of input (truncated?)', this.end, this.syntax === 'python' ? 'a dict key' : 'an object key')
    return this.error(this.syntax === 'python' ? 'dict keys must be strings' : 'object keys must be strings', this.pos)
  }

  /** True when the input ends at `at` with a string prefix (`u`, `ur`, `b`…) whose quote was cut off. */
  private prefixCutShort(at: number): boolean {
    if (this.syntax !== 'python' || at >= this.end || this.end - at > 2 || !isPrefixLetter(this.src[at])) return false
    return at + 1 === this.end || (isPrefixLetter(this.src[at + 1]) && this.validPrefix(at, 2))
  }

  /** True when the input ends at `at` with a backslash line continuation whose line break was cut off. */
  private continuationCutShort(at: number): boolean {
    const src = this.src
    return this.syntax === 'python' && src[at] === Ch.Backslash && (at + 1 === this.end || (src[at + 1] === Ch.Cr && at + 2 === this.end))
  }

  // ---- whitespace ----

  /** Skips whitespace (and, in Python, comments and backslash line continuations); returns the next byte or -1. */
  skipWs(): number {
    const src = this.src
    const end = this.end
    let p = this.pos
    for (;;) {
      if (p >= end) {
        this.pos = p
        return -1
      }
      const c = src[p]
      if (c === Ch.Space || c === Ch.Lf || c === Ch.Cr || c === Ch.Tab) {
        p++
        continue
      }
      if (this.syntax === 'python') {
        if (c === Ch.Ff) {
          p++
          continue
        }
        if (c === Ch.Hash) {
          while (p < end && src[p] !== Ch.Lf) p++
          continue
        }
        if (c === Ch.Backslash && (src[p + 1] === Ch.Lf || (src[p + 1] === Ch.Cr && src[p + 2] === Ch.Lf))) {
          p += src[p + 1] === Ch.Lf ? 2 : 3
          continue
        }
      }
      this.pos = p
      return c
    }
  }

  /** Expects `c` after optional whitespace and steps over it. */
  expect(c: number, what: string): void {
    if (this.skipWs() !== c) throw this.unexpected(what)
    this.pos++
  }

  // ---- values ----

  /** Transcodes one value at the current position. */
  value(): void {
    const c = this.skipWs()
    if ((c === 0x75 || c === Ch.SQuote) && this.syntax === 'python' && this.quickString()) return
    switch (c) {
      case Ch.LBrace:
        this.dict()
        return
      case Ch.LBracket:
        return this.list()
      case Ch.DQuote:
        return this.string()
      case Ch.SQuote:
        if (this.syntax === 'python') return this.string()
        break
      case Ch.LParen:
        if (this.syntax === 'python') return this.tuple()
        break
      case -1:
        throw this.unexpected('a value')
      default:
        if (isDigit(c) || c === Ch.Minus || (this.syntax === 'python' && (c === Ch.Dot || c === Ch.Plus))) return this.number()
        if (this.syntax === 'python' && isPrefixLetter(c) && this.stringStartsAt(this.pos)) return this.string()
        return this.name()
    }
    throw this.unexpected('a value')
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.error(`nesting deeper than ${MAX_DEPTH} levels`)
  }

  /**
   * Transcodes a dict at `{`. A pair whose key's JSON text is `"<dropKey>"` (the bytes between the quotes equal
   * `dropKey`) is left out of the output. Returns the number of pairs written.
   */
  dict(dropKey?: Uint8Array): number {
    const flat = this.flatDict(dropKey)
    if (flat >= 0) return flat
    this.enter()
    this.pos++
    this.byte(Ch.LBrace)
    let pairs = 0
    let c = this.skipWs()
    while (c !== Ch.RBrace) {
      const pairStart = this.o
      if (pairs > 0) this.byte(Ch.Comma)
      const keyStart = this.o
      if (this.syntax === 'python' && this.quickString()) {
        // copied
      } else if (this.atString(c)) {
        this.string()
      } else {
        throw this.keyError(c)
      }
      // The key as written, escapes decoded to JSON's: `"snapshot\x5ftime"` is the same key, JSON's own
      // `"snapshot\u005ftime"` (copied as is) is not.
      const keep = dropKey === undefined || !sameBytes(this.out, keyStart + 1, this.o - 1, dropKey)
      if (this.src[this.pos] === Ch.Colon) this.pos++
      else this.expect(Ch.Colon, '":" after a dict key')
      this.byte(Ch.Colon)
      this.value()
      if (keep) pairs++
      else this.o = pairStart
      c = this.skipWs()
      if (c === Ch.Comma) {
        this.pos++
        c = this.skipWs()
        if (c === Ch.RBrace && this.syntax === 'json') throw this.unexpected('a key after ","')
      } else if (c !== Ch.RBrace) {
        throw this.unexpected('"," or "}"')
      }
    }
    this.pos++
    this.byte(Ch.RBrace)
    this.depth--
    return pairs
  }

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
  private flatDict(dropKey: Uint8Array | undefined): number {
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

  /** Transcodes a list at `[`. */
  list(): void {
    this.enter()
    this.pos++
    this.byte(Ch.LBracket)
    let items = 0
    let c = this.skipWs()
    while (c !== Ch.RBracket) {
      if (items++ > 0) this.byte(Ch.Comma)
      this.value()
      c = this.skipWs()
      if (c === Ch.Comma) {
        this.pos++
        c = this.skipWs()
        if (c === Ch.RBracket && this.syntax === 'json') throw this.unexpected('a value after ","')
      } else if (c !== Ch.RBracket) {
        throw this.unexpected('"," or "]"')
      }
    }
    this.pos++
    this.byte(Ch.RBracket)
    this.depth--
  }

  /** A tuple `(a, b)` → array; `()` → `[]`; `(a)` is only grouping → `a`. */
  private tuple(): void {
    this.enter()
    this.pos++
    const start = this.o
    this.byte(Ch.LBracket)
    let items = 0
    let sawComma = false
    let c = this.skipWs()
    while (c !== Ch.RParen) {
      if (items++ > 0) this.byte(Ch.Comma)
      this.value()
      c = this.skipWs()
      if (c === Ch.Comma) {
        sawComma = true
        this.pos++
        c = this.skipWs()
      } else if (c !== Ch.RParen) {
        throw this.unexpected('"," or ")"')
      }
    }
    this.pos++
    if (items === 1 && !sawComma) {
      // Grouping parentheses: drop the "[" written speculatively.
      this.out.copyWithin(start, start + 1, this.o)
      this.o--
    } else {
      this.byte(Ch.RBracket)
    }
    this.depth--
  }

  /**
   * The common string — optional `u` prefix, one quote, no escapes or specials, directly followed by a delimiter —
   * copied in one go; returns false, having consumed nothing, for anything else.
   */
  private quickString(): boolean {
    const src = this.src
    let p = this.pos
    if (src[p] === 0x75) p++
    const quote = src[p]
    if ((quote !== Ch.SQuote && quote !== Ch.DQuote) || src[p + 1] === quote) return false
    const table = quote === Ch.SQuote ? SPECIAL_SINGLE : SPECIAL_DOUBLE
    const start = p + 1
    const end = this.end
    let q = start
    while (q < end && table[src[q]] === 0) q++
    if (q >= end || src[q] !== quote) return false
    const after = src[q + 1]
    if (after !== Ch.Colon && after !== Ch.Comma && after !== Ch.RBrace && after !== Ch.RBracket) return false
    const n = q - start
    this.ensure(n + 2)
    const out = this.out
    let o = this.o
    out[o++] = Ch.DQuote
    if (n < 24) {
      for (let i = start; i < q; i++) out[o++] = src[i]
    } else {
      out.set(src.subarray(start, q), o)
      o += n
    }
    out[o++] = Ch.DQuote
    this.o = o
    this.pos = q + 1
    return true
  }

  /** True when a string (a dict key) starts at the current position, whose byte is `c`. */
  atString(c: number): boolean {
    if (c === Ch.DQuote) return true
    return this.syntax === 'python' && (c === Ch.SQuote || (isPrefixLetter(c) && this.stringStartsAt(this.pos)))
  }

  /** True when a Python string (with an optional prefix of up to two letters) starts at `p`. */
  stringStartsAt(p: number): boolean {
    const src = this.src
    for (let i = 0; i < 3; i++) {
      const c = src[p + i]
      if (c === Ch.SQuote || c === Ch.DQuote) return i > 0 ? this.validPrefix(p, i) : true
      if (!isPrefixLetter(c)) return false
    }
    return false
  }

  private validPrefix(p: number, length: number): boolean {
    if (length === 1) return true
    const a = this.src[p] | 0x20
    const b = this.src[p + 1] | 0x20
    // ur (Python 2), br, rb
    return (a === 0x75 && b === 0x72) || (a === 0x62 && b === 0x72) || (a === 0x72 && b === 0x62)
  }

  /** `True`, `False`, `None` (Python) or `true`, `false`, `null` (JSON). */
  private name(): void {
    const src = this.src
    const start = this.pos
    let p = start
    while (p < this.end && isNameChar(src[p])) p++
    if (p === start) throw this.unexpected('a value')
    const json = this.syntax === 'python' ? PYTHON_NAMES : JSON_NAMES
    for (let i = 0; i < json.length; i++) {
      const [word, replacement] = json[i]
      if (p - start !== word.length) continue
      let same = true
      for (let j = 0; j < word.length; j++) {
        if (src[start + j] !== word[j]) {
          same = false
          break
        }
      }
      if (!same) continue
      this.ensure(replacement.length)
      replacement.copy(this.out, this.o)
      this.o += replacement.length
      this.pos = p
      return
    }
    const hint = this.syntax === 'python' ? 'True, False, None or a literal' : 'true, false, null or a literal'
    if (p >= this.end && (this.prefixCutShort(start) || json.some(([word]) => word.length > p - start && word.subarray(0, p - start).equals(src.subarray(start, p))))) {
      throw this.unexpected(hint, p) // a name or a string prefix cut short: the body is truncated
    }
    const word = Buffer.from(src.buffer, src.byteOffset + start, p - start).toString('utf8')
    throw this.error(`unexpected name "${word.length > 40 ? word.slice(0, 40) + '…' : word}"`, start, hint)
  }

  // ---- numbers ----

  /** A number; JSON numbers are validated and copied, Python ones normalised to JSON text of the same value and type. */
  private number(): void {
    if (this.syntax === 'json') return this.jsonNumber()
    const src = this.src
    const start = this.pos
    let p = start
    // Fast path: a plain int or a JSON-shaped float (`-12`, `45.5094312`) followed by a delimiter is copied as is.
    {
      let q = src[p] === Ch.Minus ? p + 1 : p
      const first = q
      while (isDigit(src[q])) q++
      const digits = q - first
      if (digits > 0 && (src[first] !== Ch.Zero || digits === 1)) {
        let float = false
        if (src[q] === Ch.Dot && isDigit(src[q + 1])) {
          float = true
          q += 2
          while (isDigit(src[q])) q++
        }
        if (q >= this.end || NUMBER_END[src[q]] === 1) {
          if (!float && digits >= 16) this.bigIntegers = true
          this.copy(p, q)
          this.pos = q
          return
        }
      }
    }
    let negative = false
    // Unary signs, possibly several and spaced (`- 5`, `+5`), as Python's grammar allows.
    while (src[p] === Ch.Minus || src[p] === Ch.Plus) {
      if (src[p] === Ch.Minus) negative = !negative
      p++
      this.pos = p
      this.skipWs()
      p = this.pos
    }
    const digitsStart = p
    const radix = src[p + 1] | 0x20
    if (src[p] === Ch.Zero && (radix === 0x78 || radix === 0x6f || radix === 0x62)) {
      return this.radixInteger(p, negative)
    }
    let underscores = false
    while (isDigit(src[p]) || (src[p] === Ch.Underscore && isDigit(src[p - 1]) && isDigit(src[p + 1]))) {
      if (src[p] === Ch.Underscore) underscores = true
      p++
    }
    const intEnd = p
    let isFloat = false
    let fracDigits = -1
    if (src[p] === Ch.Dot) {
      isFloat = true
      p++
      const fracStart = p
      while (isDigit(src[p]) || (src[p] === Ch.Underscore && isDigit(src[p - 1]) && isDigit(src[p + 1]))) {
        if (src[p] === Ch.Underscore) underscores = true
        p++
      }
      fracDigits = p - fracStart
    }
    if (intEnd === digitsStart && fracDigits <= 0) throw this.unexpected('a number', digitsStart)
    let exponentDigits = 0
    if ((src[p] | 0x20) === 0x65) {
      isFloat = true
      let q = p + 1
      if (src[q] === Ch.Plus || src[q] === Ch.Minus) q++
      const expStart = q
      while (isDigit(src[q]) || (src[q] === Ch.Underscore && isDigit(src[q - 1]) && isDigit(src[q + 1]))) q++
      if (q === expStart) throw this.unexpected('exponent digits', q)
      exponentDigits = q - expStart
      p = q
    }
    const next = src[p]
    if ((next | 0x20) === 0x6a) throw this.error('complex numbers are not supported', start)
    let longSuffix = false
    if (!isFloat && (next | 0x20) === 0x6c) {
      // Python 2 long: 10L
      longSuffix = true
    }
    if (!longSuffix && p < this.end && isNameChar(next)) throw this.unexpected('a delimiter after the number', next === Ch.Underscore && p + 1 >= this.end ? this.end : p)
    this.pos = longSuffix ? p + 1 : p

    if (!isFloat) {
      const intDigits = intEnd - digitsStart
      if (src[digitsStart] === Ch.Zero && intDigits > 1) {
        for (let i = digitsStart; i < intEnd; i++) {
          if (src[i] !== Ch.Zero && src[i] !== Ch.Underscore) throw this.error('integers with leading zeros (Python-2 octal) are not supported', digitsStart)
        }
        return this.ascii('0')
      }
      if (negative && !(intDigits === 1 && src[digitsStart] === Ch.Zero)) this.byte(Ch.Minus)
      if (underscores) {
        for (let i = digitsStart; i < intEnd; i++) if (src[i] !== Ch.Underscore) this.byte(src[i])
      } else {
        this.copy(digitsStart, intEnd)
      }
      if (intDigits >= 16) this.bigIntegers = true
      return
    }
    // A float: copy when already valid JSON (Python's json.loads then reads the same double, still a float);
    // otherwise rebuild it from the parsed value.
    const leadingZero = src[digitsStart] === Ch.Zero && intEnd - digitsStart > 1
    const jsonShaped = intEnd > digitsStart && !leadingZero && fracDigits !== 0 && !underscores
    if (jsonShaped && exponentDigits < 3) {
      if (negative) this.byte(Ch.Minus)
      this.copy(digitsStart, p)
      return
    }
    let text = Buffer.from(src.buffer, src.byteOffset + digitsStart, p - digitsStart).toString('latin1')
    if (underscores) text = text.replaceAll('_', '')
    const value = Number.parseFloat(text)
    if (!Number.isFinite(value)) throw this.error('float literal overflows to infinity (JSON has no infinity)', start)
    this.ascii(formatFloat(negative ? -value : value))
  }

  private radixInteger(p: number, negative: boolean): void {
    const src = this.src
    const kind = src[p + 1] | 0x20
    const start = p
    p += 2
    const digitsStart = p
    while (isNameChar(src[p])) p++
    let digits = Buffer.from(src.buffer, src.byteOffset + digitsStart, p - digitsStart).toString('latin1')
    const longSuffix = /[lL]$/.test(digits)
    if (longSuffix) digits = digits.slice(0, -1)
    const pattern = kind === 0x78 ? /^_?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/ : kind === 0x6f ? /^_?[0-7]+(_[0-7]+)*$/ : /^_?[01]+(_[01]+)*$/
    if (!pattern.test(digits)) throw p >= this.end ? this.unexpected('digits', p) : this.error('malformed integer literal', start)
    const prefix = kind === 0x78 ? '0x' : kind === 0x6f ? '0o' : '0b'
    const value = BigInt(prefix + digits.replaceAll('_', ''))
    const text = (negative && value !== 0n ? '-' : '') + value.toString()
    if (text.replace('-', '').length >= 16) this.bigIntegers = true
    this.ascii(text)
    this.pos = p
  }

  private jsonNumber(): void {
    const src = this.src
    const start = this.pos
    let p = start
    if (src[p] === Ch.Minus) p++
    const intStart = p
    if (src[p] === Ch.Zero) p++
    else if (isDigit(src[p])) while (isDigit(src[p])) p++
    else throw this.unexpected('a digit', p)
    const intDigits = p - intStart
    let isFloat = false
    if (src[p] === Ch.Dot) {
      isFloat = true
      p++
      if (!isDigit(src[p])) throw this.unexpected('a digit after "."', p)
      while (isDigit(src[p])) p++
    }
    if ((src[p] | 0x20) === 0x65) {
      isFloat = true
      p++
      if (src[p] === Ch.Plus || src[p] === Ch.Minus) p++
      if (!isDigit(src[p])) throw this.unexpected('exponent digits', p)
      while (isDigit(src[p])) p++
    }
    if (!isFloat && intDigits >= 16) this.bigIntegers = true
    this.copy(start, p)
    this.pos = p
  }

  // ---- strings ----

  /**
   * Transcodes a string (Python: with its prefix, any quotes, and implicitly concatenated neighbours) into one
   * JSON string.
   */
  string(): void {
    if (this.syntax === 'json') return this.jsonString()
    this.ensure(2)
    this.out[this.o++] = Ch.DQuote
    let kind = this.pythonStringBody()
    // Implicit concatenation: 'a' u'b' → "ab".
    for (;;) {
      const saved = this.pos
      const after = this.src[saved]
      if (after === Ch.Colon || after === Ch.Comma || after === Ch.RBrace || after === Ch.RBracket) break
      const c = this.skipWs()
      // 'a' u… cut off before the quote of the next part
      if (this.prefixCutShort(this.pos)) throw this.error('unexpected end of input (truncated?)', this.end, 'a string')
      if (!(c === Ch.SQuote || c === Ch.DQuote || (isPrefixLetter(c) && this.stringStartsAt(this.pos)))) {
        this.pos = saved
        break
      }
      const next = this.pythonStringBody()
      if (next !== kind) throw this.error('cannot concatenate bytes and str literals', saved)
      kind = next
    }
    this.byte(Ch.DQuote)
  }

  /** One Python string literal's content (no JSON quotes); returns whether it was bytes or text. */
  private pythonStringBody(): 'bytes' | 'text' {
    const src = this.src
    let p = this.pos
    let raw = false
    let bytes = false
    let unicode = false
    if ((src[p] | 0x20) === 0x75 && src[p + 1] === Ch.SQuote) {
      // u'...' — how every Python-2 repr string starts
      unicode = true
      p++
    }
    while (src[p] !== Ch.SQuote && src[p] !== Ch.DQuote) {
      const lower = src[p] | 0x20
      if (lower === 0x72) raw = true
      else if (lower === 0x62) bytes = true
      else unicode = true
      p++
    }
    const quote = src[p]
    const triple = src[p + 1] === quote && src[p + 2] === quote
    p += triple ? 3 : 1
    const table = bytes ? (quote === Ch.SQuote ? SPECIAL_SINGLE_BYTES : SPECIAL_DOUBLE_BYTES) : quote === Ch.SQuote ? SPECIAL_SINGLE : SPECIAL_DOUBLE
    const end = this.end
    for (;;) {
      const runStart = p
      while (p < end && table[src[p]] === 0) p++
      if (p > runStart) this.copy(runStart, p)
      if (p >= end) throw this.error('unexpected end of input inside a string (truncated?)', end)
      const c = src[p]
      if (c === quote) {
        if (!triple) {
          p++
          break
        }
        if (src[p + 1] === quote && src[p + 2] === quote) {
          p += 3
          break
        }
        this.codePoint(c)
        p++
      } else if (c === Ch.Backslash) {
        if (raw) {
          // Raw: the backslash stays, and it keeps a following quote or backslash inside the string.
          this.ascii('\\\\')
          p++
          const escaped = src[p]
          if (unicode && !bytes && (escaped === 0x75 || escaped === 0x55)) {
            // ur'\u00e9' decodes \u in Python 2: undo the backslash just written.
            this.o -= 2
            p = this.unicodeEscape(p - 1)
          } else if (escaped === quote || escaped === Ch.Backslash) {
            this.codePoint(escaped)
            p++
          } else if (escaped === Ch.Lf || escaped === Ch.Cr) {
            // A raw string keeps backslash-newline as both characters.
            this.ascii('\\n')
            p += escaped === Ch.Cr && src[p + 1] === Ch.Lf ? 2 : 1
          }
        } else {
          p = this.escape(p, bytes)
        }
      } else if (c === Ch.Lf || c === Ch.Cr) {
        if (!triple) throw this.error('unterminated string (line break inside a quoted string)', p)
        // Universal newlines, as Python's tokenizer reads source.
        this.ascii('\\n')
        p += c === Ch.Cr && src[p + 1] === Ch.Lf ? 2 : 1
      } else if (c >= 0x80) {
        throw this.error('bytes literals may only contain ASCII characters', p)
      } else {
        this.codePoint(c)
        p++
      }
    }
    this.pos = p
    return bytes ? 'bytes' : 'text'
  }

  /** Decodes the escape sequence whose backslash is at `p`; returns the position after it. */
  private escape(p: number, bytes: boolean): number {
    const src = this.src
    const c = src[p + 1]
    switch (c) {
      case Ch.Lf:
        return p + 2
      case Ch.Cr:
        return src[p + 2] === Ch.Lf ? p + 3 : p + 2
      case Ch.Backslash:
        this.ascii('\\\\')
        return p + 2
      case Ch.SQuote:
        this.byte(Ch.SQuote)
        return p + 2
      case Ch.DQuote:
        this.ascii('\\"')
        return p + 2
      case 0x61: // \a
        this.unitEscape(7)
        return p + 2
      case 0x62: // \b
        this.ascii('\\b')
        return p + 2
      case 0x66: // \f
        this.ascii('\\f')
        return p + 2
      case 0x6e: // \n
        this.ascii('\\n')
        return p + 2
      case 0x72: // \r
        this.ascii('\\r')
        return p + 2
      case 0x74: // \t
        this.ascii('\\t')
        return p + 2
      case 0x76: // \v
        this.unitEscape(0x0b)
        return p + 2
      case 0x78: {
        // \xHH
        const hi = HEX[src[p + 2]]
        const lo = HEX[src[p + 3]]
        if (p + 3 >= this.end) throw this.error('unexpected end of input inside a string (truncated?)', this.end)
        if (hi < 0 || lo < 0) throw this.error('truncated \\xXX escape', p)
        this.codePoint(hi * 16 + lo)
        return p + 4
      }
      case 0x75:
      case 0x55:
        if (bytes) break
        return this.unicodeEscape(p)
      case 0x4e: // \N{name}
        if (bytes) break
        throw this.error('\\N{...} named escapes are not supported', p)
      default:
        if (c >= Ch.Zero && c <= Ch.Seven) {
          let value = 0
          let q = p + 1
          while (q < p + 4 && src[q] >= Ch.Zero && src[q] <= Ch.Seven) value = value * 8 + (src[q++] - Ch.Zero)
          this.codePoint(bytes ? value & 0xff : value)
          return q
        }
        if (p + 1 >= this.end) throw this.error('unexpected end of input inside a string (truncated?)', this.end)
    }
    // An unknown escape keeps its backslash (Python semantics); the next character is then plain content.
    this.ascii('\\\\')
    return p + 1
  }

  /** `\uXXXX` or `\UXXXXXXXX` at `p` (the backslash); returns the position after it. */
  private unicodeEscape(p: number): number {
    const src = this.src
    const width = src[p + 1] === 0x75 ? 4 : 8
    let value = 0
    for (let i = 0; i < width; i++) {
      const digit = HEX[src[p + 2 + i]]
      if (p + 2 + i >= this.end) throw this.error('unexpected end of input inside a string (truncated?)', this.end)
      if (digit < 0) throw this.error(`truncated \\${width === 4 ? 'uXXXX' : 'UXXXXXXXX'} escape`, p)
      value = value * 16 + digit
    }
    if (value > 0x10ffff) throw this.error('\\U escape beyond U+10FFFF', p)
    this.codePoint(value)
    return p + 2 + width
  }

  /** A JSON string: validated and copied as is (its escapes are already JSON). */
  private jsonString(): void {
    const src = this.src
    const end = this.end
    const start = this.pos
    let p = start + 1
    const table = SPECIAL_DOUBLE
    for (;;) {
      while (p < end && table[src[p]] === 0) p++
      if (p >= end) throw this.error('unexpected end of input inside a string (truncated?)', end)
      const c = src[p]
      if (c === Ch.DQuote) break
      if (c === Ch.Backslash) {
        const e = src[p + 1]
        if (e === 0x75) {
          for (let i = 2; i < 6; i++) if (HEX[src[p + i]] < 0) throw p + i >= end ? this.error('unexpected end of input inside a string (truncated?)', end) : this.error('malformed \\uXXXX escape', p)
          p += 6
        } else if (e === Ch.DQuote || e === Ch.Backslash || e === Ch.Slash || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          p += 2
        } else {
          throw p + 1 >= end ? this.error('unexpected end of input inside a string (truncated?)', end) : this.error('invalid escape in a JSON string', p)
        }
      } else {
        throw this.error('control character inside a JSON string', p)
      }
    }
    p++
    this.copy(start, p)
    this.pos = p
  }

  /** After the top-level value: only whitespace may follow. */
  expectEnd(): void {
    if (this.skipWs() !== -1) throw this.unexpected('end of input')
  }

  /** The JSON written so far, as a string. */
  text(): string {
    return this.out.toString('utf8', 0, this.o)
  }
}

/**
 * Formats a double as JSON text that Python's `json.loads` reads back as the same float: integral values keep a
 * `.0` so they stay floats (JavaScript would write `5`, which Python reads as an int).
 */
export function formatFloat(value: number): string {
  if (Object.is(value, -0)) return '-0.0'
  const text = String(value)
  return Number.isInteger(value) && Math.abs(value) < 1e21 ? `${text}.0` : text
}

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

/**
 * Flags, in bit 7 of each byte, the bytes of a little-endian word that stop a plain string run: a control
 * character (< 0x20), `"`, a backslash, or the string's own quote (`quotes`, that byte in all four lanes). The
 * lowest flag is exact (bit tricks from "Bit Twiddling Hacks": has-zero-byte on `word ^ lanes`, has-less-than);
 * higher flags may be false, which is fine: only the first stop matters.
 */
function stringStops(word: number, quotes: number): number {
  const dq = word ^ 0x22222222
  const bs = word ^ 0x5c5c5c5c
  const q = word ^ quotes
  return (((word - 0x20202020) & ~word) | ((dq - 0x01010101) & ~dq) | ((bs - 0x01010101) & ~bs) | ((q - 0x01010101) & ~q)) & 0x80808080
}

/** The index (0–3) of the lowest flagged byte of a non-zero mask from {@link stringStops}. */
function firstFlagged(mask: number): number {
  return (31 - Math.clz32(mask & -mask)) >> 3
}

/** True when `bytes[from, to)` equals `expected`. */
function sameBytes(bytes: Uint8Array, from: number, to: number, expected: Uint8Array): boolean {
  if (to - from !== expected.length) return false
  for (let i = 0; i < expected.length; i++) if (bytes[from + i] !== expected[i]) return false
  return true
}

/** Bytes at the end of `bytes` that start a UTF-8 character without finishing it (0 when none). */
function partialUtf8Tail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const c = bytes[bytes.length - back]
    if (c < 0x80) return 0
    if (c >= 0xc0) {
      const width = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2
      return back < width ? back : 0
    }
  }
  return 0
}

function toBytes(text: string | Uint8Array): Uint8Array {
  return typeof text === 'string' ? Buffer.from(text, 'utf8') : text
}

/**
 * Converts one Python literal (a `repr()`) to JSON text whose value, read by Python's `json.loads`, equals what
 * `ast.literal_eval` returns (exact ints, floats kept as floats). Throws a {@link DecodeError} with the character
 * offset of anything it cannot decode.
 */
export function pythonLiteralToJson(text: string | Uint8Array, syntax: LiteralSyntax = 'python'): string {
  const transcoder = new LiteralTranscoder(toBytes(text), syntax)
  transcoder.checkUtf8()
  transcoder.value()
  transcoder.expectEnd()
  return transcoder.text()
}

/**
 * Decodes one Python literal into plain JavaScript values: dicts → objects, lists and tuples → arrays, str and
 * bytes → strings, True/False/None → true/false/null, numbers → numbers. Integers beyond ±2^53 come back as
 * `JSON.rawJSON` values holding their exact digits, so `JSON.stringify` writes them exactly (a BigInt would make
 * it throw); floats with an integral value become ordinary numbers (use {@link pythonLiteralToJson} when the
 * float/int distinction must survive into JSON text).
 */
export function parsePythonLiteral(text: string | Uint8Array): unknown {
  const transcoder = new LiteralTranscoder(toBytes(text), 'python')
  transcoder.checkUtf8()
  transcoder.value()
  transcoder.expectEnd()
  return parseTranscoded(transcoder.text(), transcoder.bigIntegers)
}

type RawJson = {readonly rawJSON: string}
const rawJSON = (JSON as unknown as {rawJSON(text: string): RawJson}).rawJSON

/** `JSON.parse`, keeping integers beyond ±2^53 exact (as raw JSON) when the transcoder saw any. */
export function parseTranscoded(json: string, bigIntegers: boolean): unknown {
  if (!bigIntegers) return JSON.parse(json)
  return JSON.parse(json, function (this: unknown, _key: string, value: unknown, context?: {source?: string}) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) {
      return rawJSON(context.source)
    }
    return value
  } as (key: string, value: unknown) => unknown)
}
