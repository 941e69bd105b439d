import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {type LiteralSyntax, LiteralTranscoder, parsePythonLiteral, pythonLiteralToJson} from '../../src/plugins/bustimes/python-literal/index.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'

const ORACLE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'literal_oracle.py')
const hasPython = spawnSync('python3', ['--version']).status === 0

function decodeError(text: string): DecodeError {
  try {
    pythonLiteralToJson(text)
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError)
    return error as DecodeError
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`)
}

describe('Python literal decoder', () => {
  it('reads the Python-2 repr of a vehicle list', () => {
    const text = "[{u'vehicleID': 101, u'tripID': u'8467703', u'latitude': 45.5094312, u'offRoute': False, u'newTrip': True, u'extraBlockID': None, u'delay': -65}]"
    expect(parsePythonLiteral(text)).toEqual([{vehicleID: 101, tripID: '8467703', latitude: 45.5094312, offRoute: false, newTrip: true, extraBlockID: null, delay: -65}])
  })

  it('decodes every string form: prefixes in any case, quotes, escapes, continuation, concatenation', () => {
    expect(parsePythonLiteral(`[u'a', U"b", r'\\d', R"\\n", b'\\xff\\x41', B'\\u00e9', ur'\\u00e9\\d', '''tri'ple\nline''', """x"y"""]`)).toEqual([
      'a',
      'b',
      '\\d',
      '\\n',
      '\u00ffA',
      '\\u00e9', // \u is no escape in bytes
      'é\\d', // Python 2 raw unicode still decodes \u
      "tri'ple\nline",
      'x"y',
    ])
    expect(parsePythonLiteral(`'\\n\\t\\\\\\'\\"\\a\\b\\f\\v\\r\\x41\\u00e9\\U0001F600\\101\\0\\7'`)).toBe('\n\t\\\'"\u0007\b\f\u000b\rAé😀A\u0000\u0007')
    expect(parsePythonLiteral("'ab\\\ncd'")).toBe('abcd')
    expect(parsePythonLiteral("'a' \"b\" u'''c'''")).toBe('abc')
    expect(parsePythonLiteral("'\\q\\N'".replace('\\N', ''))).toBe('\\q') // unknown escapes keep the backslash
    expect(parsePythonLiteral("r'\\''")).toBe("\\'")
  })

  it('keeps numbers exact: big ints as raw JSON digits, floats stay floats in the JSON text', () => {
    const value = parsePythonLiteral('[12345678901234567890123, -9007199254740993, 9007199254740991, 1e16, 5.0, -0.0, .5, 1., 1_000, 0x1F, -0o17, 0b101, +3, - 4, 1e5, 1.5e-07, 10L]') as unknown[]
    expect(JSON.stringify(value)).toBe('[12345678901234567890123,-9007199254740993,9007199254740991,10000000000000000,5,0,0.5,1,1000,31,-15,5,3,-4,100000,1.5e-7,10]')
    expect(pythonLiteralToJson('[1e16, 5.0, -0.0, 1., 45.5094312, 1E5, 0.5e0, 12345678901234567890]')).toBe('[1e16,5.0,-0.0,1.0,45.5094312,1E5,0.5e0,12345678901234567890]')
  })

  it('turns tuples into arrays, unwraps grouping parentheses, accepts trailing commas, comments and line breaks', () => {
    expect(parsePythonLiteral('((1, 2), (3,), (), (4), [5,], {"a": (6)},)')).toEqual([[1, 2], [3], [], 4, [5], {a: 6}])
    expect(parsePythonLiteral("{  # a comment\n  'a' :\n 1 , \\\n 'b': [None,\tTrue]\r\n}")).toEqual({a: 1, b: [null, true]})
  })

  it('keeps a "__proto__" key as data', () => {
    const value = parsePythonLiteral("{'__proto__': {'polluted': 1}}") as Record<string, unknown>
    expect(Object.keys(value)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('rejects what is not a JSON-able literal, with the character offset and a snippet', () => {
    expect(decodeError('{1: 2}').message).toMatch(/^dict keys must be strings at offset 1: …\{⟨here⟩1: 2\}…$/)
    expect(decodeError('[1, 2').message).toContain('unexpected end of input (truncated?) at offset 5')
    expect(decodeError("[u'abc").message).toMatch(/^unexpected end of input inside a string \(truncated\?\) at offset 6/)
    expect(decodeError('[None, Tr').message).toMatch(/^unexpected end of input \(truncated\?\) at offset 9/)
    expect(decodeError("{'é': x}").message).toMatch(/unexpected name "x" at offset 6/)
    expect(decodeError('[1 2]').message).toBe('unexpected "2" at offset 3 (expected "," or "]"): …[1 ⟨here⟩2]…')
    expect(decodeError('inf').message).toContain('unexpected name "inf"')
    expect(decodeError('float("nan")').message).toContain('unexpected name "float"')
    expect(decodeError('1e999').message).toContain('overflows to infinity')
    expect(decodeError('017').message).toContain('leading zeros')
    expect(decodeError('1j').message).toContain('complex')
    expect(decodeError("'\\N{BULLET}'").message).toContain('\\N{...}')
    expect(decodeError("'a\nb'").message).toContain('line break')
    expect(decodeError("b'é'").message).toContain('ASCII')
    expect(decodeError("'a' b'b'").message).toContain('concatenate')
    expect(decodeError("'\\x4'").message).toContain('\\xXX')
    expect(decodeError('{1, 2}').message).toContain('dict keys must be strings')
    expect(decodeError('[1] 2').message).toContain('expected end of input')
    expect(decodeError('').message).toContain('unexpected end of input')
    expect(decodeError('['.repeat(2000)).message).toContain('nesting deeper')
    expect(() => pythonLiteralToJson(Buffer.from([0x27, 0xff, 0x27]))).toThrow(/not valid UTF-8/)
  })

  it('reports character offsets, not byte offsets, after non-ASCII text', () => {
    // "é" and "中" take 2 and 3 bytes; the offset counts characters.
    expect(decodeError("['é中', ?]").where.offset).toBe(7)
  })

  it.skipIf(!hasPython)('agrees with Python (ast.literal_eval → json.dumps) on random values in random styles', () => {
    const generated = spawnSync('python3', [ORACLE, 'gen', '20261122', '1500'], {encoding: 'utf8', maxBuffer: 256 * 1024 * 1024})
    expect(generated.status, generated.stderr).toBe(0)
    const cases = generated.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {src: string; expected: string | null; syntax?: LiteralSyntax})
    expect(cases.length).toBeGreaterThan(4000)
    const toCheck: string[] = []
    const failures: string[] = []
    let rejected = 0
    for (const {src, expected, syntax = 'python'} of cases) {
      let strict: string | undefined
      let loose: string | undefined
      try {
        strict = pythonLiteralToJson(src, syntax)
        // The output buffer growing on every write gives the same text.
        const growing = new LiteralTranscoder(Buffer.from(src), syntax, 1)
        growing.value()
        growing.expectEnd()
        if (growing.text() !== strict) failures.push(`${JSON.stringify(src)}: ${growing.text()} when growing, ${strict} otherwise`)
        loose = syntax === 'python' ? JSON.stringify(parsePythonLiteral(src)) : strict
      } catch (error) {
        if (!(error instanceof DecodeError)) failures.push(`${JSON.stringify(src)}: ${(error as Error).stack}`)
        else if (expected !== null) failures.push(`${JSON.stringify(src)} rejected: ${(error as Error).message}`)
        else rejected++
        continue
      }
      if (expected === null) {
        failures.push(`${JSON.stringify(src)} accepted as ${strict}, but Python rejects it`)
        continue
      }
      toCheck.push(JSON.stringify({src, expected, got: strict, strict: true}), JSON.stringify({src, expected, got: loose, strict: false}))
    }
    expect(failures.slice(0, 5)).toEqual([])
    expect(rejected).toBeGreaterThan(100)
    const checked = spawnSync('python3', [ORACLE, 'check'], {input: toCheck.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024})
    expect(checked.status, checked.stderr).toBe(0)
    const report = JSON.parse(checked.stdout) as {checked: number; mismatches: unknown[]; mismatchCount: number}
    expect(report.mismatches).toEqual([])
    expect(report.checked).toBe(toCheck.length)
  })
})
