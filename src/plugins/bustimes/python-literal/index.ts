import {LiteralTranscoder} from './transcoder.js'
import type {LiteralSyntax} from './scanner.js'

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

export type {LiteralSyntax} from './scanner.js'
export {formatFloat} from './numbers.js'
export {LiteralTranscoder} from './transcoder.js'

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
