import type {DecodeError} from '../../core/source-kit.js'

import {specialTable, SPECIAL_SINGLE, SPECIAL_DOUBLE, isPrefixLetter} from './bytes.js'
import {Scanner} from './scanner.js'

// The characters this layer compares with. TypeScript 7 emits a const enum as an object; each layer keeps its own,
// module-local as in the single file this was (bench:decode measured equal), not one imported across the layers.
const enum Ch {
  Lf = 0x0a,
  Cr = 0x0d,
  DQuote = 0x22,
  SQuote = 0x27,
  Comma = 0x2c,
  Slash = 0x2f,
  Zero = 0x30,
  Seven = 0x37,
  Colon = 0x3a,
  Backslash = 0x5c,
  RBracket = 0x5d,
  RBrace = 0x7d,
}

const SPECIAL_SINGLE_BYTES = specialTable(Ch.SQuote, true)

const SPECIAL_DOUBLE_BYTES = specialTable(Ch.DQuote, true)

const HEX = new Int8Array(256).fill(-1)
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i
  HEX[0x61 + i] = 10 + i
}

/** Strings: Python's quoted forms and prefixes (u, b, r…), escapes, and JSON strings, written as JSON strings. */
export abstract class StringScanner extends Scanner {
  /** The error for a dict key that is not a string at `pos` (whose byte is `c`): truncated when the body ends there. */
  keyError(c: number): DecodeError {
    if (c === -1 || this.prefixCutShort(this.pos)) return this.error('unexpected end of input (truncated?)', this.end, this.syntax === 'python' ? 'a dict key' : 'an object key')
    return this.error(this.syntax === 'python' ? 'dict keys must be strings' : 'object keys must be strings', this.pos)
  }

  /** True when the input ends at `at` with a string prefix (`u`, `ur`, `b`…) whose quote was cut off. */
  protected prefixCutShort(at: number): boolean {
    if (this.syntax !== 'python' || at >= this.end || this.end - at > 2 || !isPrefixLetter(this.src[at])) return false
    return at + 1 === this.end || (isPrefixLetter(this.src[at + 1]) && this.validPrefix(at, 2))
  }

  /**
   * The common string — optional `u` prefix, one quote, no escapes or specials, directly followed by a delimiter —
   * copied in one go; returns false, having consumed nothing, for anything else.
   */
  protected quickString(): boolean {
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

  protected validPrefix(p: number, length: number): boolean {
    if (length === 1) return true
    const a = this.src[p] | 0x20
    const b = this.src[p + 1] | 0x20
    // ur (Python 2), br, rb
    return (a === 0x75 && b === 0x72) || (a === 0x62 && b === 0x72) || (a === 0x72 && b === 0x62)
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
  protected pythonStringBody(): 'bytes' | 'text' {
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
  protected escape(p: number, bytes: boolean): number {
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
  protected unicodeEscape(p: number): number {
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
  protected jsonString(): void {
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
}
