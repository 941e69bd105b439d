import {describe, expect, it} from 'vitest'

import {toJsonLines} from '../../src/plugins/bustimes/index.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'
import {seededRandom} from '../../src/plugins/core/sources/random.js'

/*
 * Property test of the flat-dict fast path of the bustimes decoder (copying while scanning, strings and digits a
 * word at a time, separator-and-key templates replayed from the previous vehicle, the inline snapshot_time drop)
 * against two references on many generated bodies with awkward values:
 * - the general path of the same transcoder, byte for byte: the same body with one space before each vehicle's
 *   first ":" (which the fast path does not take; the general path reads it as the same dict);
 * - an independent expectation of each record's values, by JSON.parse with the exact source text of every number.
 */

const PRE = 'raw/bustimes__2018-08-03__03-06-51.json'
const POST = 'raw/bustimes__2021-11-10__07-16-05.json'

type Random = () => number

/** A generated value: how Python and JSON write it, and what the record must hold. */
interface Value {
  python: (random: Random) => string
  json: (random: Random) => string
  check: (got: unknown) => boolean
  describe: string
}

/** What a record's value looks like after JSON.parse with numbers kept as their source text. */
interface NumberText {
  number: string
}

const KEYS = [
  'lastLocID',
  'newTrip',
  'tripID',
  'vehicleID',
  'bearing',
  'extraBlockID',
  'signMessageLong',
  'nextStopSeq',
  'latitude',
  'longitude',
  'delay',
  'garage',
  'locationInScheduleDay',
  'loadPercentage',
  'time',
  'x',
]
const AWKWARD_KEYS = ["it's", 'say "hi"', 'tab\there', 'é中', '', 'snapshot_tim', 'snapshot_timex', 'back\\slash', 'Snapshot_time', '😀']
const PLAIN = 'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -/'
const AWKWARD = [...PLAIN, "'", '"', '\\', '\n', '\t', '\r', '\u0007', '\u007f', 'é', '中', '😀', '\u2028', '\u0000']

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]

function text(random: Random, alphabet: readonly string[], longest: number): string {
  let result = ''
  const length = Math.floor(random() * (longest + 1))
  for (let i = 0; i < length; i++) result += pick(random, alphabet)
  return result
}

/** A Python string literal of `value`: any quote, optional u prefix, escapes or raw characters where both work. */
function pythonString(value: string, random: Random): string {
  const quote = value.includes("'") && !value.includes('"') && random() < 0.7 ? '"' : random() < 0.8 ? "'" : '"'
  let body = ''
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0
    if (ch === '\\') body += '\\\\'
    else if (ch === quote) body += `\\${quote}`
    else if (ch === '\n') body += '\\n'
    else if (ch === '\r') body += '\\r'
    else if (ch === '\t') body += random() < 0.5 ? '\\t' : '\t'
    else if (code < 0x20 || code === 0x7f) body += random() < 0.8 ? `\\x${code.toString(16).padStart(2, '0')}` : ch
    else if (code > 0xffff) body += random() < 0.5 ? `\\U${code.toString(16).padStart(8, '0')}` : ch
    else if (code > 0x7f) body += random() < 0.5 ? `\\u${code.toString(16).padStart(4, '0')}` : ch
    else body += ch
  }
  return `${random() < 0.7 ? 'u' : ''}${quote}${body}${quote}`
}

/** A JSON string literal of `value`, with non-ASCII characters raw or escaped (`json.dumps` writes them escaped). */
function jsonString(value: string, random: Random): string {
  const plain = JSON.stringify(value)
  if (random() < 0.5) return plain
  return plain.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function stringValue(value: string): Value {
  return {python: (random) => pythonString(value, random), json: (random) => jsonString(value, random), check: (got) => got === value, describe: JSON.stringify(value)}
}

function integerValue(digits: string): Value {
  return {python: () => digits, json: () => digits, check: (got) => BigInt((got as NumberText).number) === BigInt(digits), describe: digits}
}

/** A float: `json` is its text in both grammars when valid JSON; Python-only spellings are read by Python only. */
function floatValue(python: string, json = python): Value {
  return {
    python: () => python,
    json: () => json,
    // Still a float in the JSON text (a point or an exponent), of the same value.
    check: (got) => /[.eE]/.test((got as NumberText).number) && Number((got as NumberText).number) === Number(python.replaceAll('_', '')),
    describe: python,
  }
}

function constant(python: string, json: string, value: unknown): Value {
  return {python: () => python, json: () => json, check: (got) => got === value, describe: json}
}

function randomValue(random: Random): Value {
  const kind = random()
  if (kind < 0.25) return stringValue(text(random, [...PLAIN], 24))
  if (kind < 0.35) return stringValue(text(random, AWKWARD, 12))
  if (kind < 0.38) return stringValue('')
  if (kind < 0.55) return integerValue(String(Math.floor(random() * 2e6) - 1e6))
  if (kind < 0.6) return integerValue((random() < 0.5 ? '-' : '') + String(1 + Math.floor(random() * 9)) + text(random, [...'0123456789'], 24))
  if (kind < 0.63) return integerValue(pick(random, ['0', '9007199254740993', '-9007199254740993', '12345678901234567890123']))
  if (kind < 0.75) return floatValue(((random() - 0.5) * 360).toFixed(1 + Math.floor(random() * 8)))
  if (kind < 0.8) {
    const [python, json] = pick(random, [['5.0'], ['-0.0'], ['0.0'], ['1e-05'], ['1.5e+20'], ['-2.5E3'], ['.5', '0.5'], ['5.', '5.0'], ['1_000.5', '1000.5']])
    return floatValue(python, json)
  }
  if (kind < 0.85) return constant('None', 'null', null)
  if (kind < 0.9) return constant('True', 'true', true)
  if (kind < 0.95) return constant('False', 'false', false)
  // Something outside the flat shape, so the fast path gives up mid-dict.
  return {python: () => "[1, u'a', (2,)]", json: () => '[1, "a", [2]]', check: (got) => JSON.stringify(got) === '[{"number":"1"},"a",[{"number":"2"}]]', describe: 'a list'}
}

interface Vehicle {
  pairs: [string, Value][]
}

/** Vehicles that mostly repeat one key order (as real snapshots do), with keys dropped, swapped, added and snapshot_time inserted. */
function randomVehicles(random: Random, count: number): Vehicle[] {
  const order = [...KEYS].sort(() => random() - 0.5).slice(0, 3 + Math.floor(random() * KEYS.length))
  const vehicles: Vehicle[] = []
  for (let v = 0; v < count; v++) {
    const keys = [...order]
    if (random() < 0.4) {
      const change = random()
      const at = random() < 0.3 ? 0 : Math.floor(random() * keys.length)
      if (change < 0.15) keys.splice(at, 1)
      else if (change < 0.3) keys.splice(at, 0, pick(random, AWKWARD_KEYS))
      else if (change < 0.45) keys.splice(at, 0, 'snapshot_time')
      // In place of a key: the following keys keep their index (and their remembered bytes).
      else if (change < 0.6) keys[at] = 'snapshot_time'
      // A near twin, the same length, differing in its last character only.
      else if (change < 0.8) keys[at] = keys[at].slice(0, -1) + (keys[at].endsWith('Z') ? 'Y' : 'Z')
      else keys.reverse()
    }
    vehicles.push({pairs: [...new Set(keys)].map((key) => [key, randomValue(random)])})
  }
  return vehicles
}

/** A body in `syntax`; with `general`, one space before each vehicle's first ":", which keeps the fast path out. */
function render(vehicles: Vehicle[], syntax: 'python' | 'json', random: Random, general: boolean): string {
  // The separators repr() and json.dumps write, mostly; sometimes others, the same for every vehicle or not.
  const styles = [
    [': ', ', '],
    [': ', ', '],
    [':', ','],
    [':', ', '],
    [': ', ','],
    [': ', ',\n  '],
  ]
  const bodyStyle = pick(random, styles)
  const parts = vehicles.map((vehicle) => {
    const [colon, comma] = random() < 0.9 ? bodyStyle : pick(random, styles)
    const pairs = vehicle.pairs.map(([key, value], i) => {
      const keyText = syntax === 'python' ? pythonString(key, random) : jsonString(key, random)
      const valueText = syntax === 'python' ? value.python(random) : value.json(random)
      return `${keyText}${general && i === 0 ? ' ' : ''}${colon}${valueText}`
    })
    return `{${pairs.join(comma)}}`
  })
  return `[${parts.join(', ')}]`
}

/** JSON.parse keeping every number as its exact source text. */
function parseLine(line: string): Record<string, unknown> {
  return JSON.parse(line, (_key, value: unknown, context?: {source?: string}) => (typeof value === 'number' ? {number: context?.source} : value)) as Record<string, unknown>
}

describe('bustimes fast path (flat vehicle dicts) against the general path and the values written', () => {
  it('gives byte-identical JSON lines and the exact values on generated vehicles with awkward keys and values', () => {
    const random = seededRandom(20261122)
    const failures: string[] = []
    let records = 0
    for (let round = 0; round < 400 && failures.length === 0; round++) {
      const syntax = round % 2 === 0 ? 'python' : 'json'
      const key = syntax === 'python' ? PRE : POST
      const vehicles = randomVehicles(random, 1 + Math.floor(random() * 12))
      const seed = Math.floor(random() * 2 ** 32)
      // The same random choices for both spellings (quotes, escapes, separators).
      const fastBody = render(vehicles, syntax, seededRandom(seed), false)
      const generalBody = render(vehicles, syntax, seededRandom(seed), true)
      let fast: string
      let general: string
      try {
        fast = toJsonLines(Buffer.from(fastBody), key).lines.toString('utf8')
        general = toJsonLines(Buffer.from(generalBody), key).lines.toString('utf8')
      } catch (error) {
        failures.push(`${fastBody}: ${(error as Error).message}`)
        break
      }
      if (fast !== general) {
        failures.push(`${fastBody}\nfast:    ${fast}\ngeneral: ${general}`)
        break
      }
      const lines = fast.trimEnd().split('\n')
      expect(lines).toHaveLength(vehicles.length)
      for (const [i, vehicle] of vehicles.entries()) {
        const record = parseLine(lines[i])
        const expectedKeys = vehicle.pairs.map(([name]) => name).filter((name) => name !== 'snapshot_time')
        // The vehicle's own snapshot_time (anywhere) is replaced by the key's, written last.
        if (JSON.stringify(Object.keys(record)) !== JSON.stringify([...expectedKeys, 'snapshot_time'])) failures.push(`keys of ${lines[i]}`)
        if (record.snapshot_time !== (syntax === 'python' ? '2018-08-03T03:06:51+00:00' : '2021-11-10T07:16:05+00:00')) failures.push(`snapshot_time of ${lines[i]}`)
        for (const [name, value] of vehicle.pairs) {
          if (name !== 'snapshot_time' && !value.check(record[name])) failures.push(`${name}: ${value.describe} became ${JSON.stringify(record[name])} in ${lines[i]}`)
        }
        records++
      }
    }
    expect(failures.slice(0, 3)).toEqual([])
    expect(records).toBeGreaterThan(2000)
  })

  it('refuses what neither grammar allows inside an otherwise flat vehicle, with a DecodeError at the value', () => {
    // (A JSON body that is valid Python, `1.` or `None`, is read as Python: the decoder falls back by content.)
    const bad: [string, string][] = [
      ["[{u'a': 1, u'b': 007}]", 'python'],
      ["[{u'a': 1, u'b': -01}]", 'python'],
      ["[{u'a': 1, u'b': Non}]", 'python'],
      ["[{u'a': 1, u'b': none}]", 'python'],
      ["[{u'a': 1, u'b': Fals}]", 'python'],
      ["[{u'a': 1, u'b': Falsy}]", 'python'],
      ["[{u'a': 1, u'b': -}]", 'python'],
      ["[{u'a': u'x\ny'}]", 'python'],
      ["[{u'a': 1, u'b': 2 3}]", 'python'],
      ['[{"a": 1, "b": 01}]', 'json'],
      ['[{"a": 1, "b": tru}]', 'json'],
      ['[{"a": 1, "b": fals}]', 'json'],
      ['[{"a": 1, "b": nulll}]', 'json'],
    ]
    for (const [body, syntax] of bad) {
      let thrown: unknown
      try {
        toJsonLines(Buffer.from(body), syntax === 'python' ? PRE : POST)
      } catch (error) {
        thrown = error
      }
      expect(thrown, body).toBeInstanceOf(DecodeError)
      // Past the first pair: the error is about the bad value, not the start of the body.
      expect((thrown as DecodeError).where.offset, body).toBeGreaterThan(8)
    }
  })

  it('still refuses a body cut anywhere inside a run of vehicles, with a DecodeError', () => {
    const random = seededRandom(7)
    for (let round = 0; round < 60; round++) {
      const syntax = round % 2 === 0 ? 'python' : 'json'
      const body = render(randomVehicles(random, 4), syntax, random, false)
      const cut = 1 + Math.floor(random() * (body.length - 2))
      const truncated = Buffer.from(body).subarray(0, cut)
      let thrown: unknown
      try {
        toJsonLines(truncated, syntax === 'python' ? PRE : POST)
      } catch (error) {
        thrown = error
      }
      expect(thrown, `${body.slice(0, cut)}`).toBeInstanceOf(DecodeError)
      expect((thrown as DecodeError).where.offset).toBeLessThanOrEqual(cut)
    }
  })
})
