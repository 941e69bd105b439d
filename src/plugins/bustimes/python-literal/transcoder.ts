import {isPrefixLetter, isDigit, isNameChar, sameBytes} from './bytes.js'
import {FlatDictScanner} from './flat-dict.js'

// The characters this layer compares with. TypeScript 7 emits a const enum as an object; each layer keeps its own,
// module-local as in the single file this was (bench:decode measured equal), not one imported across the layers.
const enum Ch {
  DQuote = 0x22,
  SQuote = 0x27,
  LParen = 0x28,
  RParen = 0x29,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Colon = 0x3a,
  LBracket = 0x5b,
  RBracket = 0x5d,
  LBrace = 0x7b,
  RBrace = 0x7d,
}

const PYTHON_NAMES: [Buffer, Buffer][] = [
  [Buffer.from('None'), Buffer.from('null')],
  [Buffer.from('True'), Buffer.from('true')],
  [Buffer.from('False'), Buffer.from('false')],
]

const JSON_NAMES: [Buffer, Buffer][] = ['null', 'true', 'false'].map((word) => [Buffer.from(word), Buffer.from(word)])

/**
 * The transcoder: reads one value of `syntax` from `src` at `pos` and appends its JSON text to an output buffer.
 * Exported for sources that drive it over a known document shape (bustimes writes one JSON line per vehicle);
 * most callers want {@link pythonLiteralToJson} or {@link parsePythonLiteral}.
 */
export class LiteralTranscoder extends FlatDictScanner {
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
  protected tuple(): void {
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

  /** `True`, `False`, `None` (Python) or `true`, `false`, `null` (JSON). */
  protected name(): void {
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
}
