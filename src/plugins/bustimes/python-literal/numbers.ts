import {isDigit, isNameChar} from './bytes.js'
import {StringScanner} from './strings.js'

// The characters this layer compares with. TypeScript 7 emits a const enum as an object; each layer keeps its own,
// module-local as in the single file this was (bench:decode measured equal), not one imported across the layers.
const enum Ch {
  Plus = 0x2b,
  Minus = 0x2d,
  Dot = 0x2e,
  Zero = 0x30,
  Underscore = 0x5f,
}

/** Bytes that may follow a complete number (so the fast path can copy it): delimiters and whitespace. */
const NUMBER_END = new Uint8Array(256)
for (const c of ', \t\n\r]}):#\f') NUMBER_END[c.charCodeAt(0)] = 1

/**
 * Formats a double as JSON text that Python's `json.loads` reads back as the same float: integral values keep a
 * `.0` so they stay floats (JavaScript would write `5`, which Python reads as an int).
 */
export function formatFloat(value: number): string {
  if (Object.is(value, -0)) return '-0.0'
  const text = String(value)
  return Number.isInteger(value) && Math.abs(value) < 1e21 ? `${text}.0` : text
}

/** Numbers: Python ints (any size, radix prefixes, `_`, `10L`) and floats, and JSON numbers, written exactly. */
export abstract class NumberScanner extends StringScanner {
  // ---- numbers ----

  /** A number; JSON numbers are validated and copied, Python ones normalised to JSON text of the same value and type. */
  protected number(): void {
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

  protected radixInteger(p: number, negative: boolean): void {
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

  protected jsonNumber(): void {
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
}
