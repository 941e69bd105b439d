import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import zlib from 'node:zlib'
import {afterAll, describe, expect, it} from 'vitest'

import {bustimesLayout, bustimesSource, decodeVehicles, expectedSyntax, generateBustimes, REPR_CUTOFF_KEY, toJsonLines} from '../../src/plugins/bustimes/index.js'
import {type GeneratedObject, type SourceRecord} from '../../src/plugins/core/index.js'
import {RecordValidator} from '../../src/plugins/core/schema/validator.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'
import {seededRandom} from '../../src/plugins/core/sources/random.js'
import {bustimesReprObject} from '../fixtures/generated.js'
import {ROOT} from '../helpers/cli.js'

/**
 * A Python-2 repr object as the bucket held them until 2021-11-10, generated (the real one is GPL-3.0; see
 * test/fixtures/README.md), and a real API response, trimmed to 100 vehicles (MIT, vendored).
 */
const reprObject = await bustimesReprObject()
const ENVELOPE_FILE = path.join(ROOT, 'test', 'fixtures', 'trimet', 'vehicles.json')
/** Vehicles in the vendored API response, and those of them between trips (every trip field null). */
const ENVELOPE_VEHICLES = 100
const ENVELOPE_IDLE = 10
const hasPython = spawnSync('python3', ['--version']).status === 0
const scratch = mkdtempSync(path.join(os.tmpdir(), 'bw-bustimes-'))
afterAll(() => rmSync(scratch, {recursive: true, force: true}))
const REPR_FILE = path.join(scratch, 'bustimes__2018-08-03__03-06-51.json')
writeFileSync(REPR_FILE, reprObject.body)

const PRE = 'raw/bustimes__2018-08-03__03-06-51.json'
const POST = 'raw/bustimes__2021-11-10__07-16-05.json'

async function decodeAll(body: Uint8Array, key: string): Promise<SourceRecord[]> {
  const records: SourceRecord[] = []
  for await (const record of bustimesSource.decode(Readable.from([Buffer.from(body)]), {key})) records.push(record)
  return records
}

function decodeError(body: string | Uint8Array, key = PRE): DecodeError {
  try {
    toJsonLines(typeof body === 'string' ? Buffer.from(body) : body, key)
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError)
    return error as DecodeError
  }
  throw new Error('expected a DecodeError')
}

function lines(body: Uint8Array, key: string): SourceRecord[] {
  const {lines, records} = toJsonLines(body, key)
  const text = lines.toString('utf8')
  expect(text.endsWith('\n')).toBe(records > 0)
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SourceRecord)
}

/** Python's strict comparison (int vs float, exact big ints) of two JSON texts, via the oracle's `check`. */
function pythonAgrees(expected: string, got: string): void {
  const oracle = path.join(ROOT, 'test', 'sources', 'fixtures', 'literal_oracle.py')
  const run = spawnSync('python3', [oracle, 'check'], {input: JSON.stringify({expected, got, strict: true}) + '\n', encoding: 'utf8', maxBuffer: 64 << 20})
  expect(run.status, run.stderr).toBe(0)
  expect(JSON.parse(run.stdout).mismatches).toEqual([])
}

describe('bustimes decoding of a repr object and a real API response', () => {
  const repr = readFileSync(REPR_FILE)
  const envelope = readFileSync(ENVELOPE_FILE)

  it('turns a Python-2 repr object into its vehicles with snapshot_time last', async () => {
    const records = await decodeAll(repr, PRE)
    expect(records).toHaveLength(reprObject.records)
    // The first vehicle's fields, read off the repr text itself.
    const first = repr.toString('utf8').slice(0, repr.indexOf('}') + 1)
    const field = (name: string) => new RegExp(`u'${name}': ([^,}]+)`).exec(first)![1]
    expect(records[0]).toMatchObject({
      vehicleID: Number(field('vehicleID')),
      tripID: field('tripID') === 'None' ? null : field('tripID').slice(2, -1),
      latitude: Number(field('latitude')),
      longitude: Number(field('longitude')),
      newTrip: field('newTrip') === 'True' ? true : field('newTrip') === 'False' ? false : null,
      extraBlockID: null,
      signMessageLong: field('signMessageLong') === 'None' ? null : field('signMessageLong').slice(2, -1),
    })
    expect(typeof records[0].latitude).toBe('number')
    for (const record of records) {
      expect(Object.keys(record).at(-1)).toBe('snapshot_time')
      expect(record.snapshot_time).toBe('2018-08-03T03:06:51+00:00')
    }
    expect(lines(repr, PRE)).toEqual(records)
  })

  it.skipIf(!hasPython)('writes exactly what ast.literal_eval + json.dumps give for the repr object', () => {
    const script = `import ast,json,sys\nv=ast.literal_eval(open(sys.argv[1]).read())\nfor x in v: x['snapshot_time']='2018-08-03T03:06:51+00:00'\nprint(json.dumps(v))`
    const python = spawnSync('python3', ['-c', script, REPR_FILE], {encoding: 'utf8', maxBuffer: 64 << 20})
    expect(python.status, python.stderr).toBe(0)
    const got = `[${toJsonLines(repr, PRE).lines.toString('utf8').trim().split('\n').join(',')}]`
    pythonAgrees(python.stdout, got)
  })

  it('reads the real API response (pretty-printed JSON envelope): every vehicle, nulls kept', () => {
    const records = lines(envelope, POST)
    expect(records).toHaveLength(ENVELOPE_VEHICLES)
    expect(records.filter((record) => record.tripID === null)).toHaveLength(ENVELOPE_IDLE)
    expect(records[0]).toMatchObject({vehicleID: 101, expires: 1509754800000, latitude: 45.435812, snapshot_time: '2021-11-10T07:16:05+00:00'})
    expect(toJsonLines(envelope, POST).syntax).toBe('json')
  })

  it('validates every vehicle of both against the source schema', async () => {
    const validator = await RecordValidator.create(bustimesSource.schema!)
    for (const record of [...lines(repr, PRE), ...lines(envelope, POST)]) validator.validate(record)
    expect(validator.recordsChecked).toBe(reprObject.records + ENVELOPE_VEHICLES)
    expect(validator.violations()).toEqual([])
    expect(validator.validate({...lines(repr, PRE)[0], latitude: 'north'})).toBe(false)
  })

  it('accepts snapshot_time as the original converter wrote it (+00:00) and as earlier bucketwright did (Z), nothing else', async () => {
    const validator = await RecordValidator.create(bustimesSource.schema!)
    const record = lines(repr, PRE)[0]
    expect(record.snapshot_time).toBe('2018-08-03T03:06:51+00:00')
    expect(validator.validate({...record, snapshot_time: '2018-08-03T03:06:51Z'})).toBe(true)
    for (const other of ['2018-08-03T03:06:51+01:00', '2018-08-03T03:06:51', '2018-08-03 03:06:51+00:00x', '2018-08-03T03:06:51-00:00']) {
      expect(validator.validate({...record, snapshot_time: other}), other).toBe(false)
    }
    expect(bustimesSource.recordTime!({snapshot_time: '2018-08-03T03:06:51+00:00'})).toEqual(new Date('2018-08-03T03:06:51Z'))
  })

  it('decodes by content when the bytes disagree with the cutoff rule', () => {
    // JSON before the cutoff, repr after it, and root-level keys (which the reference always reads as repr).
    const fromJson = lines(envelope, PRE)
    expect(fromJson).toHaveLength(ENVELOPE_VEHICLES)
    expect(toJsonLines(envelope, PRE).syntax).toBe('json')
    const late = lines(repr, POST)
    expect(late).toHaveLength(reprObject.records)
    expect(toJsonLines(repr, POST).syntax).toBe('python')
    expect(lines(envelope, 'bustimes__2022-01-01__00-00-00.json')).toHaveLength(ENVELOPE_VEHICLES)
    expect(late.map(({snapshot_time: _, ...vehicle}) => vehicle)).toEqual(lines(repr, PRE).map(({snapshot_time: _, ...vehicle}) => vehicle))
  })

  it('follows the cutoff rule: repr up to and including 2021-11-10 07:15:05, JSON after', () => {
    expect(expectedSyntax('2021-11-10T07:15:05Z')).toBe('python')
    expect(expectedSyntax('2021-11-10T07:15:06Z')).toBe('json')
    expect(REPR_CUTOFF_KEY).toBe('raw/bustimes__2021-11-10__07-15-05.json')
    // A body valid in both grammars decodes the same either way.
    const both = '[{"vehicleID": 7, "latitude": 45.5, "tags": ["a"]}]'
    const strip = (records: SourceRecord[]) => records.map(({snapshot_time: _, ...vehicle}) => vehicle)
    expect(strip(lines(Buffer.from(both), PRE))).toEqual(strip(lines(Buffer.from(both), POST)))
    expect(toJsonLines(Buffer.from(both), PRE).syntax).toBe('python')
    expect(toJsonLines(Buffer.from(both), POST).syntax).toBe('json')
  })

  it('reads an API response written as a Python repr, and gzip/zstd-compressed bodies', () => {
    const body = "{u'resultSet': {u'queryTime': 1533265611045, u'vehicle': [{u'vehicleID': 1, u'time': 5}, {u'vehicleID': 2, u'time': 6}]}}"
    expect(lines(Buffer.from(body), PRE)).toEqual([
      {vehicleID: 1, time: 5, snapshot_time: '2018-08-03T03:06:51+00:00'},
      {vehicleID: 2, time: 6, snapshot_time: '2018-08-03T03:06:51+00:00'},
    ])
    expect(lines(zlib.gzipSync(repr), PRE)).toHaveLength(reprObject.records)
    expect(lines(zlib.zstdCompressSync(envelope), POST)).toHaveLength(ENVELOPE_VEHICLES)
  })

  it("replaces a vehicle's own snapshot_time with the key's, as the last property", () => {
    const [record] = lines(Buffer.from('[{"snapshot_time": "old", "vehicleID": 3}]'), POST)
    expect(record).toEqual({vehicleID: 3, snapshot_time: '2021-11-10T07:16:05+00:00'})
    expect(Object.keys(record)).toEqual(['vehicleID', 'snapshot_time'])
    expect(lines(Buffer.from('[{}]'), POST)).toEqual([{snapshot_time: '2021-11-10T07:16:05+00:00'}])
    expect(lines(Buffer.from('[]'), POST)).toEqual([])
  })

  it('offers the JSON-lines fast path through the DataSource interface, equal to decode()', async () => {
    for (const [body, key] of [
      [readFileSync(REPR_FILE), PRE],
      [readFileSync(ENVELOPE_FILE), POST],
    ] as const) {
      const fast = await bustimesSource.toJsonLines!(body, {key})
      const text = Buffer.from(fast.lines).toString('utf8')
      const parsed = text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line))
      expect(fast.records).toBe(parsed.length)
      expect(parsed).toEqual(await decodeAll(body, key))
    }
  })

  it('takes plain Uint8Array views at any offset, and reports offsets relative to the view', () => {
    const padded = new Uint8Array(Buffer.concat([Buffer.from('garbage'), Buffer.from("[{u'vehicleID': 1}, {u'vehicleID': ?}]")]))
    const view = padded.subarray(7)
    expect(lines(new Uint8Array(Buffer.from("garbage[{u'vehicleID': 1}]")).subarray(7), PRE)).toEqual([{vehicleID: 1, snapshot_time: '2018-08-03T03:06:51+00:00'}])
    const error = decodeError(view)
    expect(error.where.offset).toBe(35)
    expect(error.message).toContain("{u'vehicleID': ⟨here⟩?}]…")
    expect(error.message).not.toContain('garbage')
  })

  it('keeps integers beyond 2^53 exact in records and in JSON lines', () => {
    const body = Buffer.from('[{"vehicleID": 12345678901234567890, "time": 1}]')
    expect(toJsonLines(body, POST).lines.toString()).toBe('{"vehicleID":12345678901234567890,"time":1,"snapshot_time":"2021-11-10T07:16:05+00:00"}\n')
    expect(JSON.stringify(decodeVehicles(body, POST))).toBe('[{"vehicleID":12345678901234567890,"time":1,"snapshot_time":"2021-11-10T07:16:05+00:00"}]')
  })
})

describe('bustimes bad objects are DecodeErrors with a reason (quarantine)', () => {
  const repr = readFileSync(REPR_FILE)

  it('empty and blank bodies', () => {
    expect(decodeError('').message).toBe('empty object (0 bytes)')
    expect(decodeError(' \n ').message).toBe('empty object (only whitespace)')
  })

  it('truncated bodies, pointing at the end', () => {
    const half = repr.subarray(0, 100_000)
    const error = decodeError(half)
    expect(error.message).toMatch(/truncated/)
    expect(error.where.offset).toBeGreaterThan(99_000)
    const json = readFileSync(ENVELOPE_FILE).subarray(0, 2000)
    // JSON cut short before the cutoff: the error of the grammar that got further (JSON) is the one reported.
    expect(decodeError(json, PRE).message).toMatch(/^unexpected end of input (inside a string )?\(truncated\?\) at offset 2000/)
  })

  it('wrong shapes', () => {
    expect(decodeError('[1, 2]').message).toMatch(/^wrong shape: vehicle 1 is not a dict at offset 1/)
    expect(decodeError('{"resultSet": {"queryTime": 1}}', POST).message).toMatch(/wrong shape: an API response without resultSet.vehicle/)
    expect(decodeError('{"other": []}', POST).message).toMatch(/wrong shape/)
    expect(decodeError('"just a string"', POST).message).toMatch(/expected a list of vehicles or an API response/)
    expect(decodeError('[{"a": 1}] trailing', POST).message).toMatch(/expected end of input/)
  })

  it('undecodable bytes and keys', () => {
    expect(decodeError(Buffer.from([0x5b, 0xff, 0x5d])).message).toMatch(/not valid UTF-8/)
    expect(decodeError(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01])).message).toMatch(/^corrupt gzip body/)
    expect(decodeError('[]', 'raw/other.json').message).toMatch(/not a bustimes key/)
    expect(decodeError("[{u'a': float('nan')}]").message).toMatch(/unexpected name "float" at offset 8/)
  })

  it('surface through decode() as a DecodeError too', async () => {
    await expect(decodeAll(repr.subarray(0, 5000), PRE)).rejects.toBeInstanceOf(DecodeError)
  })
})

describe('bustimes key layout', () => {
  const layout = bustimesLayout

  it('reads UTC times from raw/ and root-level keys, and nothing else', () => {
    expect(layout.timeFromKey('raw/bustimes__2021-11-10__07-15-05.json')?.toISOString()).toBe('2021-11-10T07:15:05.000Z')
    expect(layout.timeFromKey('bustimes__2016-12-05__23-59-59.json')?.toISOString()).toBe('2016-12-05T23:59:59.000Z')
    for (const key of [
      'raw/bustimes__2021-02-30__00-00-00.json',
      'raw/bustimes__2021-11-10__24-00-00.json',
      'raw/bustimes__2021-11-10__07-15-05.json.gz',
      'other/bustimes__2021-11-10__07-15-05.json',
      'raw/bustimes__2021-11-10.json',
      '_manifests/x.json',
    ]) {
      expect(layout.timeFromKey(key), key).toBeUndefined()
    }
  })

  it('gives one prefix per day per location, in key order, covering the range', () => {
    const prefixes = layout.prefixesFor({from: new Date('2016-12-05T10:00:00Z'), to: new Date('2016-12-07T00:00:01Z')})
    expect(prefixes).toEqual(['bustimes__2016-12-05', 'bustimes__2016-12-06', 'bustimes__2016-12-07', 'raw/bustimes__2016-12-05', 'raw/bustimes__2016-12-06', 'raw/bustimes__2016-12-07'])
    expect([...prefixes].sort()).toEqual(prefixes)
    expect(layout.prefixesFor({from: new Date('2021-11-10T00:00:00Z'), to: new Date('2021-11-11T00:00:00Z')})).toEqual(['bustimes__2021-11-10', 'raw/bustimes__2021-11-10'])
    expect(layout.prefixesFor({from: new Date('2021-11-10T00:00:00Z'), to: new Date('2021-11-10T00:00:00Z')})).toEqual([])
    expect(layout.allPrefixes()).toEqual(['bustimes__', 'raw/bustimes__'])
  })

  it('every key of a range starts with one of its prefixes', () => {
    const range = {from: new Date('2021-12-31T22:00:00Z'), to: new Date('2022-01-02T01:00:00Z')}
    const prefixes = layout.prefixesFor(range)
    for (let t = range.from.getTime(); t < range.to.getTime(); t += 1_800_000) {
      const key = layout.keyFor!(new Date(t))
      expect(
        prefixes.some((prefix) => key.startsWith(prefix)),
        key,
      ).toBe(true)
      expect(
        prefixes.some((prefix) => key.slice('raw/'.length).startsWith(prefix)),
        key,
      ).toBe(true)
    }
  })

  it('keyFor writes the raw/ layout and round-trips through timeFromKey', () => {
    const time = new Date('2021-11-10T07:15:05Z')
    expect(layout.keyFor!(time)).toBe('raw/bustimes__2021-11-10__07-15-05.json')
    expect(layout.timeFromKey(layout.keyFor!(time))).toEqual(time)
  })

  it('declares its record identity and time field', () => {
    expect(bustimesSource.timeField).toBe('snapshot_time')
    expect(bustimesSource.recordKey).toEqual(['vehicleID', 'snapshot_time'])
    expect(bustimesSource.partitionBy).toBeUndefined()
    expect(bustimesSource.recordTime!({snapshot_time: '2021-11-10T07:15:05Z'})).toEqual(new Date('2021-11-10T07:15:05Z'))
  })
})

describe('bustimes synthetic archive', () => {
  async function collect(options: Parameters<typeof generateBustimes>[0]): Promise<GeneratedObject[]> {
    const objects: GeneratedObject[] = []
    for await (const object of generateBustimes(options)) objects.push(object)
    return objects
  }
  const range = {from: new Date('2021-11-10T06:00:00Z'), to: new Date('2021-11-10T09:00:00Z')}

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await collect({range, seed: 7, rate: 20})
    const b = await collect({range, seed: 7, rate: 20})
    const c = await collect({range, seed: 8, rate: 20})
    expect(a).toHaveLength(60)
    expect(b).toEqual(a)
    expect(c.map((object) => object.body)).not.toEqual(a.map((object) => object.body))
  })

  it('writes repr up to the cutoff and JSON after, in the real key layout, decodable and schema-valid', async () => {
    const objects = await collect({range, seed: 1, rate: 60})
    expect(objects).toHaveLength(180)
    const validator = await RecordValidator.create(bustimesSource.schema!)
    let envelopes = 0
    const vehicles = new Set<unknown>()
    for (const {key, body} of objects) {
      const time = bustimesLayout.timeFromKey(key)!
      expect(time.getTime()).toBeGreaterThanOrEqual(range.from.getTime())
      expect(time.getTime()).toBeLessThan(range.to.getTime())
      const text = String(body)
      if (text.startsWith('{')) envelopes++
      const result = toJsonLines(Buffer.from(text), key)
      expect(result.syntax).toBe(key <= REPR_CUTOFF_KEY ? 'python' : 'json')
      expect(result.records).toBeGreaterThan(300)
      for (const line of result.lines.toString().trim().split('\n')) {
        const record = JSON.parse(line)
        vehicles.add(record.vehicleID)
        validator.validate(record, key)
      }
    }
    expect(envelopes).toBeGreaterThan(0)
    expect(validator.violations()).toEqual([])
    expect(vehicles.size).toBeGreaterThan(300)
  })

  it('moves vehicles between snapshots and has vehicles between trips', async () => {
    const [first, second] = await collect({range, seed: 3, rate: 60})
    const a = lines(Buffer.from(String(first.body)), first.key)
    const b = lines(Buffer.from(String(second.body)), second.key)
    expect(a.map((vehicle) => vehicle.vehicleID)).toEqual(b.map((vehicle) => vehicle.vehicleID))
    const moved = a.filter((vehicle, i) => vehicle.latitude !== b[i].latitude).length
    expect(moved).toBeGreaterThan(a.length * 0.9)
    const idle = a.filter((vehicle) => vehicle.tripID === null).length
    expect(idle).toBeGreaterThan(5)
    expect(idle).toBeLessThan(a.length / 4)
  })

  it('writes strictly increasing, unique keys at any rate', async () => {
    for (const rate of [1, 60, 900, 3600]) {
      const objects = await collect({range: {from: new Date('2021-11-10T06:00:00Z'), to: new Date('2021-11-10T06:02:00Z')}, seed: 5, rate})
      const keys = objects.map((object) => object.key)
      expect(keys.length, String(rate)).toBe(Math.max(1, Math.round((rate * 2) / 60)))
      for (let i = 1; i < keys.length; i++) expect(keys[i] > keys[i - 1], `${rate}: ${keys[i - 1]} then ${keys[i]}`).toBe(true)
    }
  })

  it('puts objects before 2017 at the bucket root', async () => {
    const [old] = await collect({range: {from: new Date('2016-12-05T00:00:00Z'), to: new Date('2016-12-05T00:01:00Z')}, seed: 1})
    expect(old.key).toMatch(/^bustimes__2016-12-05__00-00-0\d\.json$/)
  })

  it.skipIf(!hasPython)('writes repr that ast.literal_eval reads', async () => {
    const [object] = await collect({range, seed: 2, rate: 1})
    expect(object.key <= REPR_CUTOFF_KEY).toBe(true)
    const python = spawnSync('python3', ['-c', 'import ast,sys; print(len(ast.literal_eval(sys.stdin.read())))'], {input: String(object.body), encoding: 'utf8'})
    expect(python.stdout.trim()).toBe(String(toJsonLines(Buffer.from(String(object.body)), object.key).records))
  })
})

describe.skipIf(!hasPython)('bustimes against Python on damaged bodies', () => {
  it('accepts exactly what Python reads (rule grammar, then the other), with equal records, and refuses the rest with a DecodeError', () => {
    const oracle = path.join(ROOT, 'test', 'sources', 'fixtures', 'literal_oracle.py')
    const bases = spawnSync(
      'python3',
      [
        '-c',
        [
          'import ast, json, sys',
          `v = ast.literal_eval(open(${JSON.stringify(REPR_FILE)}).read())[:4]`,
          'repr2 = lambda x: ("u" + repr(x)) if isinstance(x, str) else ("[" + ", ".join(map(repr2, x)) + "]") if isinstance(x, list) else ("{" + ", ".join(repr2(k) + ": " + repr2(y) for k, y in x.items()) + "}") if isinstance(x, dict) else repr(x)',
          'print(json.dumps([repr2(v), json.dumps(v), json.dumps({"resultSet": {"queryTime": 1, "vehicle": v}}, indent=1), repr2({"resultSet": {"queryTime": 1, "vehicle": v}})]))',
        ].join('\n'),
      ],
      {encoding: 'utf8'},
    )
    expect(bases.status, bases.stderr).toBe(0)
    const random = seededRandom(42)
    const inserts = [...'\'",:[]{}() \n\\#0-.eTNu']
    const cases: {key: string; body: Buffer}[] = []
    for (const base of JSON.parse(bases.stdout) as string[]) {
      const bytes = Buffer.from(base)
      for (let i = 0; i < 150; i++) {
        const at = Math.floor(random() * bytes.length)
        const kind = Math.floor(random() * 4)
        const char = Buffer.from(inserts[Math.floor(random() * inserts.length)])
        const body =
          kind === 0
            ? bytes.subarray(0, at)
            : kind === 1
              ? Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)])
              : kind === 2
                ? Buffer.concat([bytes.subarray(0, at), char, bytes.subarray(at)])
                : Buffer.concat([bytes.subarray(0, at), char, bytes.subarray(at + 1)])
        cases.push({key: random() < 0.5 ? PRE : POST, body})
      }
      cases.push({key: PRE, body: bytes}, {key: POST, body: bytes})
    }
    const input = cases.map(({key, body}) => JSON.stringify({key, body: body.toString('base64')})).join('\n') + '\n'
    const run = spawnSync('python3', [oracle, 'bustimes'], {input, encoding: 'utf8', maxBuffer: 64 << 20})
    expect(run.status, run.stderr).toBe(0)
    const expected = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string | null)
    expect(expected).toHaveLength(cases.length)
    const disagreements: string[] = []
    const toCheck: string[] = []
    let refused = 0
    cases.forEach(({key, body}, i) => {
      let got: string | undefined
      try {
        got = `[${toJsonLines(body, key).lines.toString('utf8').trimEnd().split('\n').filter(Boolean).join(',')}]`
      } catch (error) {
        if (!(error instanceof DecodeError)) disagreements.push(`${key} ${JSON.stringify(body.toString())}: ${(error as Error).stack}`)
        else if (expected[i] !== null) disagreements.push(`${key} ${JSON.stringify(body.toString())}: refused (${(error as Error).message}) but Python reads it`)
        else refused++
        return
      }
      if (expected[i] === null) disagreements.push(`${key} ${JSON.stringify(body.toString())}: accepted but Python refuses it`)
      else toCheck.push(JSON.stringify({src: body.toString(), expected: expected[i], got, strict: true}))
    })
    expect(disagreements.slice(0, 3)).toEqual([])
    expect(refused).toBeGreaterThan(200)
    expect(toCheck.length).toBeGreaterThan(100)
    const checked = spawnSync('python3', [oracle, 'check'], {input: toCheck.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20})
    expect(JSON.parse(checked.stdout).mismatches).toEqual([])
  })
})
