import {spawnSync} from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {generateBustimes} from '../../src/plugins/bustimes/generate.js'
import {pythonLiteralToJson} from '../../src/plugins/bustimes/python-literal/index.js'
import {decodeVehicles, toJsonLines} from '../../src/plugins/bustimes/vehicles.js'
import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'
import {ROOT, runInProcess} from '../helpers/cli.js'

const ORACLE = path.join(ROOT, 'test', 'sources', 'fixtures', 'literal_oracle.py')
const hasPython = spawnSync('python3', ['--version']).status === 0

const REPR_KEY = 'raw/bustimes__2019-03-04__10-00-00.json'
const JSON_KEY = 'raw/bustimes__2023-03-06__10-00-00.json'

/** The first `count` vehicles of a generated object, in its own syntax and envelope: a real-shaped body, small. */
function firstVehicles(body: string, count: number): string {
  const start = body.indexOf('[{')
  const end = body.lastIndexOf('}]')
  const vehicles = body.slice(start + 1, end + 1).split('}, {')
  return `${body.slice(0, start + 1)}${vehicles.slice(0, count).join('}, {')}}${body.slice(end + 1)}`
}

async function generated(from: string, seconds: number): Promise<string[]> {
  const bodies: string[] = []
  const start = new Date(from)
  for await (const object of generateBustimes({range: {from: start, to: new Date(start.getTime() + seconds * 1000)}, seed: 5, rate: 3600})) bodies.push(String(object.body))
  return bodies
}

/**
 * Bodies as the archive holds them, shortened to three vehicles: a Python-2 repr list, a JSON list, a JSON API
 * envelope, and a repr holding every token the decoder knows (prefixes, escapes, non-ASCII, radix and long ints,
 * exponents, tuples, triple quotes, concatenation, comments, continuations), each with the key it is read under.
 */
async function realShapedBodies(): Promise<{name: string; key: string; body: string}[]> {
  const repr = await generated('2019-03-04T10:00:00Z', 1)
  const json = await generated('2023-03-06T10:00:00Z', 25)
  const envelope = json.find((body) => body.startsWith('{"resultSet"'))!
  expect(envelope).toBeDefined()
  const everyToken = [
    "[{u'vehicleID': 2902, u'signMessage': u'Caf\\xe9 \\u2019 \\U0001F600 it\\'s', u'latitude': 45.5094312, u'delay': -65,",
    " u'big': 12345678901234567890L, u'x': 0x1F, u'o': -0o17, u'e': 1e-07, u'f': 1.5E+3, u'off': False, u'n': None, u't': True,",
    " u'r': ur'\\d', u'b': b'\\x41\\101', u'tr': u'''a\"b''', u'tu': (1, 2,), u'cat': u'a' 'b', # comment\n",
    " u'nest': {u'k': [1.5, -0.0, u'\\t']}, u'utf8': 'Zürich 中 😀', u'cont': \\\n 7}, {'vehicleID': 101, \"tripID\": \"8467703\"} ]",
  ].join('')
  return [
    {name: 'Python-2 repr list', key: REPR_KEY, body: firstVehicles(repr[0]!, 3)},
    {name: 'JSON list', key: JSON_KEY, body: firstVehicles(json[0]!, 3)},
    {name: 'JSON API envelope', key: JSON_KEY, body: firstVehicles(envelope, 3)},
    {name: 'repr with every token kind', key: REPR_KEY, body: everyToken},
    {name: 'repr with every token kind, after the cutoff', key: JSON_KEY, body: everyToken},
  ]
}

/** The error a decoder throws for a body, or a failure naming what it returned instead. */
function rejection(decode: () => unknown, what: string): DecodeError {
  let value: unknown
  try {
    value = decode()
  } catch (error) {
    if (error instanceof DecodeError) return error
    throw new Error(`${what}: not a DecodeError: ${(error as Error).stack}`)
  }
  throw new Error(`${what}: accepted, gave ${JSON.stringify(value).slice(0, 200)}`)
}

describe('a truncated Python-literal or JSON object', () => {
  it('is reported as truncated, at the offset where it was cut, wherever it is cut', async () => {
    const failures: string[] = []
    let cuts = 0
    for (const {name, key, body} of await realShapedBodies()) {
      const bytes = Buffer.from(body)
      // Whole, each decodes.
      expect(toJsonLines(bytes, key).records, name).toBe(name.startsWith('repr with every') ? 2 : 3)
      const last = bytes.lastIndexOf(body.endsWith('}}') ? '}}' : ']')
      for (let cut = 0; cut <= last; cut++) {
        const part = bytes.subarray(0, cut)
        const offset = part.toString('utf8').length
        for (const [decoder, decode] of [
          ['toJsonLines', () => toJsonLines(part, key)],
          ['decodeVehicles', () => decodeVehicles(part, key)],
        ] as const) {
          cuts++
          let error: DecodeError
          try {
            error = rejection(decode, `${name} cut at byte ${cut}, ${decoder}`)
          } catch (failure) {
            failures.push((failure as Error).message)
            continue
          }
          // An empty body is its own clear error; every other cut must say it ends early, where it ends.
          const expected = cut === 0 ? /^empty object \(0 bytes\)$/ : /^unexpected end of input( inside a string| inside a UTF-8 character)? \(truncated\?\) at offset \d+/
          if (!expected.test(error.message) || (cut > 0 && error.where.offset !== offset)) {
            failures.push(`${name} cut at byte ${cut} (…${JSON.stringify(part.subarray(Math.max(0, cut - 12)).toString('utf8'))}), ${decoder}: "${error.message}" (offset ${error.where.offset}, cut at ${offset})`)
          }
        }
      }
    }
    expect(failures.slice(0, 10)).toEqual([])
    expect(cuts).toBeGreaterThan(5000)
  })

  it('is reported as truncated by the plain literal decoder too', () => {
    for (const text of ['[u', '[ur', "{u'a': u'x' u", '[0x', '[1_', "['\\x4", "['\\u00e", '["\\u00', '[1, \\']) {
      const error = rejection(() => pythonLiteralToJson(text, text.startsWith('["') ? 'json' : 'python'), text)
      expect(error.message, text).toMatch(/truncated\?\) at offset/)
    }
    // A Ü cut after its first byte: the body ends inside a character.
    const error = rejection(() => pythonLiteralToJson(Buffer.from("['Zürich'").subarray(0, 4)), 'cut Ü')
    expect(error.message).toMatch(/^unexpected end of input inside a UTF-8 character \(truncated\?\) at offset 4/)
    // Not a cut: bytes that are not UTF-8 in the middle, and bad escapes that are complete, keep their own errors.
    expect(rejection(() => pythonLiteralToJson(Buffer.from([0x5b, 0x27, 0xff, 0x27, 0x5d])), 'bad byte').message).toBe('body is not valid UTF-8 text')
    expect(rejection(() => pythonLiteralToJson("['\\x4g']"), 'bad escape').message).toMatch(/^truncated \\xXX escape at offset 2/)
    expect(rejection(() => pythonLiteralToJson('[0xg]'), 'bad int').message).toMatch(/^malformed integer literal/)
    expect(rejection(() => pythonLiteralToJson("{u'a': 1 u}"), 'stray u').message).toMatch(/^unexpected "u"/)
    expect(rejection(() => pythonLiteralToJson("{bu'a': 1}"), 'bad prefix').message).toMatch(/^dict keys must be strings/)
  })

  it.skipIf(!hasPython)('is refused by Python too (the oracle) at every cut, and read alike when only trailing space is cut', async () => {
    const cases: {key: string; body: string}[] = []
    for (const {key, body} of await realShapedBodies()) {
      // Python 3 refuses Python 2's long suffix and ur'' prefix, which the decoder accepts on purpose.
      const bytes = Buffer.from(body.replace('890L,', '890,').replace("ur'", "r'") + ' \n')
      for (let cut = 1; cut <= bytes.length; cut += 1) cases.push({key, body: bytes.subarray(0, cut).toString('base64')})
    }
    const run = spawnSync('python3', [ORACLE, 'bustimes'], {input: cases.map((entry) => JSON.stringify(entry)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 256 << 20})
    expect(run.status, run.stderr).toBe(0)
    const answers = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string | null)
    expect(answers).toHaveLength(cases.length)
    const disagreements: string[] = []
    const toCheck: string[] = []
    answers.forEach((expected, index) => {
      const {key, body} = cases[index]!
      const bytes = Buffer.from(body, 'base64')
      let got: string | undefined
      let message = ''
      try {
        // The JSON lines as text: exact numbers, floats kept as floats, for Python's strict comparison.
        got = `[${toJsonLines(bytes, key).lines.toString('utf8').trim().split('\n').join(',')}]`
      } catch (error) {
        message = (error as Error).message
      }
      if (expected === null && (got !== undefined || !/truncated\?\)|^empty object/.test(message))) disagreements.push(`${key} ${bytes.length} bytes: Python refuses, we ${got ? 'accept' : `say "${message}"`}`)
      if (expected !== null && got === undefined) disagreements.push(`${key} ${bytes.length} bytes: Python reads it, we say "${message}"`)
      if (expected !== null && got !== undefined) toCheck.push(JSON.stringify({expected, got, strict: true}))
    })
    expect(disagreements.slice(0, 10)).toEqual([])
    const checked = spawnSync('python3', [ORACLE, 'check'], {input: toCheck.join('\n') + '\n', encoding: 'utf8'})
    expect(checked.status, checked.stderr).toBe(0)
    expect(JSON.parse(checked.stdout)).toMatchObject({checked: toCheck.length, mismatches: []})
    // The whole bodies, with or without their trailing space, are read: three cuts per body.
    expect(toCheck).toHaveLength(3 * 5)
  })

  it('is quarantined by convert with a reason that says truncated', async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-truncated-'))
    try {
      const [{body}] = await realShapedBodies()
      const archive = path.join(work, 'archive', 'raw')
      await fs.mkdir(archive, {recursive: true})
      await fs.writeFile(path.join(archive, 'bustimes__2019-03-04__10-00-00.json'), body)
      // Cut inside a vehicle, as an interrupted upload leaves it.
      await fs.writeFile(path.join(archive, 'bustimes__2019-03-04__10-01-00.json'), body.slice(0, Math.floor(body.length * 0.6)))
      const run = await runInProcess<ConvertResult>(['convert', path.join(work, 'archive'), path.join(work, 'out'), '--source', 'bustimes', '--json'])
      expect(run.exitCode).toBe(4)
      const quarantined = run.result!.buckets.flatMap((bucket) => bucket.quarantined)
      expect(quarantined).toEqual([expect.objectContaining({key: 'raw/bustimes__2019-03-04__10-01-00.json', reason: expect.stringMatching(/unexpected end of input.*\(truncated\?\)/)})])
      expect(run.result!.records).toBe(3)
    } finally {
      await fs.rm(work, {recursive: true, force: true})
    }
  })
})
