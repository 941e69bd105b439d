import {isUtf8} from 'node:buffer'

import {DecodeError} from '../../core/source-kit.js'

// The characters this layer compares with. TypeScript 7 emits a const enum as an object; each layer keeps its own,
// module-local as in the single file this was (bench:decode measured equal), not one imported across the layers.
const enum Ch {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Ff = 0x0c,
  Space = 0x20,
  Hash = 0x23,
  DQuote = 0x22,
  Backslash = 0x5c,
}

/** Which grammar the bytes are read with. */
export type LiteralSyntax = 'python' | 'json'

const HEX_DIGITS = Buffer.from('0123456789abcdef')

const MAX_DEPTH = 1000

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

/**
 * The transcoder's state and its basic moves: the input and the output buffer, appending bytes and escapes, errors
 * with a snippet, whitespace and comments. The layers above (strings → numbers → flat-dict → transcoder) each add
 * one kind of token as methods of the same object: one class split across files, so every call stays a monomorphic
 * method call on the hot path, without an import cycle.
 */
export abstract class Scanner {
  /** Read position (byte offset into `src`). */
  pos = 0
  /** Output buffer and its fill level; `out.subarray(0, o)` is the JSON written so far. */
  out: Buffer
  o = 0
  /** Set when an integer beyond ±2^53 was written (JSON.parse would round it). */
  bigIntegers = false
  protected depth = 0
  protected readonly end: number
  /** Views for reading and writing four bytes at a time (the flat-dict loop); `outView` follows `out`. */
  protected readonly srcView: DataView
  protected outView: DataView
  /** The flat-dict loop's memory of separator-and-key bytes per pair index (see {@link recordTemplate}). */
  protected templates: Int32Array | undefined

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
  protected unitEscape(unit: number): void {
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
  protected codePoint(cp: number): void {
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

  /** True when the input ends at `at` with a backslash line continuation whose line break was cut off. */
  protected continuationCutShort(at: number): boolean {
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

  protected enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.error(`nesting deeper than ${MAX_DEPTH} levels`)
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
