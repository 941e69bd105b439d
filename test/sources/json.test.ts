import {Readable} from 'node:stream'
import zlib from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {type DataSource, type SourceRecord} from '../../src/plugins/core/index.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'
import {jsonSource, makeJsonSource, ndjsonSource, parseTimeValue, timeInKey, DEFAULT_KEY_TIME} from '../../src/plugins/json/index.js'
import {advancedTradeCaptureFile, theaSpatPretty, wydotBsmV3, wydotBsmV6Pretty, wydotTimPretty} from '../fixtures/generated.js'

async function decode(source: DataSource, body: string | Uint8Array, key = 'data/2021-11-10/part.json'): Promise<SourceRecord[]> {
  const records: SourceRecord[] = []
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)
  // Several chunks, so line and UTF-8 boundaries fall inside them.
  const chunks = [bytes.subarray(0, Math.floor(bytes.length / 3)), bytes.subarray(Math.floor(bytes.length / 3))]
  for await (const record of source.decode(Readable.from(chunks), {key, time: source.layout.timeFromKey(key)})) records.push(record)
  return records
}

async function decodeError(source: DataSource, body: string | Uint8Array): Promise<DecodeError> {
  const error = await decode(source, body).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(DecodeError)
  return error as DecodeError
}

describe('json source', () => {
  it('reads an array of records, a single record, and gzip/zstd bodies', async () => {
    expect(await decode(jsonSource, '[{"a": 1}, {"a": 2}]')).toEqual([{a: 1}, {a: 2}])
    expect(await decode(jsonSource, ' {"a": {"b": [1]}}\n')).toEqual([{a: {b: [1]}}])
    expect(await decode(jsonSource, zlib.gzipSync('[{"a": "é"}]'))).toEqual([{a: 'é'}])
    expect(await decode(jsonSource, zlib.zstdCompressSync('{"z": true}'))).toEqual([{z: true}])
  })

  it("reads pretty-printed WYDOT BSM, TIM and SPaT records (the USDOT sandbox samples' shapes, generated)", async () => {
    for (const [name, body] of Object.entries({bsm: await wydotBsmV6Pretty(), tim: wydotTimPretty(), spat: theaSpatPretty()})) {
      expect(body.split('\n').length, name).toBeGreaterThan(20)
      const records = await decode(jsonSource, body)
      expect(records, name).toHaveLength(1)
      // As text: the TIM's packetID is beyond 2^53 and stays exact (a raw JSON number).
      expect(JSON.stringify(records[0]), name).toBe(JSON.stringify(JSON.parse(body)))
    }
  })

  it('keeps integers beyond 2^53 exact', async () => {
    const [record] = await decode(jsonSource, '{"id": 12345678901234567890, "n": 1.5, "s": "12345678901234567890"}')
    expect(JSON.stringify(record)).toBe('{"id":12345678901234567890,"n":1.5,"s":"12345678901234567890"}')
  })

  it('rejects bad objects with a DecodeError and a reason', async () => {
    expect((await decodeError(jsonSource, '')).message).toBe('empty object (0 bytes)')
    expect((await decodeError(jsonSource, '  \n')).message).toBe('empty object (only whitespace)')
    const truncated = await decodeError(jsonSource, '[{"a": 1}, {"a": 2')
    expect(truncated.message).toMatch(/^invalid JSON at offset 18: Expected ',' or '}'/)
    expect(truncated.where.offset).toBe(18)
    expect((await decodeError(jsonSource, '[{"a": 1},')).message).toBe('invalid JSON at offset 10: Unexpected end of JSON input')
    expect((await decodeError(jsonSource, '[1 2]')).where.offset).toBe(3)
    const token = await decodeError(jsonSource, `[${'{"a": 1},'.repeat(10_000)}]`)
    expect(token.message).toMatch(/^invalid JSON: Unexpected token '\]', \.\.\..{5,20}" is not valid JSON$/)
    expect((await decodeError(jsonSource, '[{"a": 1}, 2]')).message).toBe('wrong shape: array element 2 is not an object')
    expect((await decodeError(jsonSource, '"text"')).message).toMatch(/wrong shape/)
    expect((await decodeError(jsonSource, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]))).message).toBeTruthy()
  })
})

describe('ndjson source', () => {
  it('reads one record per line, skipping blank lines, CRLF too', async () => {
    expect(await decode(ndjsonSource, '{"a": 1}\r\n\n{"a": 2}\n{"a": 3}')).toEqual([{a: 1}, {a: 2}, {a: 3}])
  })

  it('reads a zstd-compressed cryptofeed capture (generated like the Coinbase one), with record times from an epoch-seconds field', async () => {
    const source = ndjsonSource.configure!({timeField: 'ts'})
    const capture = await advancedTradeCaptureFile()
    const lines = zlib.zstdDecompressSync(capture).toString('utf8').trimEnd().split('\n')
    const records = await decode(source, capture, 'coinbase/2026-08-09/COINBASE.jsonl.zst')
    expect(records).toHaveLength(lines.length)
    expect(records[0].t).toBe('header')
    // Every record but the header carries `ts`.
    const timed = records.filter((record) => source.recordTime!(record) !== undefined)
    expect(timed).toHaveLength(lines.length - 1)
    expect(source.recordTime!(records[1])?.toISOString()).toBe(new Date(JSON.parse(lines[1]).ts * 1000).toISOString())
  })

  it('reads a one-line WYDOT BSM with its "…Z[UTC]" time via a dotted time field', async () => {
    const source = ndjsonSource.configure!({timeField: 'metadata.recordGeneratedAt'})
    const [record] = await decode(source, await wydotBsmV3())
    expect(source.recordTime!(record)?.toISOString()).toBe('2017-11-20T12:13:36.398Z')
    expect(source.timeField).toBe('metadata.recordGeneratedAt')
  })

  it('names the line of a bad record', async () => {
    const error = await decodeError(ndjsonSource, '{"a": 1}\n{"a": 2}\n{"a": \n{"a": 4}\n')
    expect(error.message).toMatch(/^line 3: invalid JSON/)
    expect(error.where.line).toBe(3)
    const shape = await decodeError(ndjsonSource, '{"a": 1}\n[1, 2]\n')
    expect(shape.message).toBe('line 2: wrong shape: expected a JSON object')
    expect(shape.where.line).toBe(2)
  })
})

describe('json/ndjson options', () => {
  it('finds an ISO-like date in keys by default', () => {
    const at = (key: string) => jsonSource.layout.timeFromKey(key)?.toISOString()
    expect(at('raw/bustimes__2021-11-10__07-15-05.json')).toBe('2021-11-10T07:15:05.000Z')
    expect(at('wydot/BSM/2018/01/18/07/file.json')).toBe('2018-01-18T07:00:00.000Z')
    expect(at('export-20211110T071505.ndjson')).toBe('2021-11-10T07:15:05.000Z')
    expect(at('day=2021-11-10/part-0.json')).toBe('2021-11-10T00:00:00.000Z')
    expect(at('data/12345.json')).toBeUndefined()
    expect(at('data/2021-13-40.json')).toBeUndefined()
    expect(timeInKey('a/2021-11-10x', DEFAULT_KEY_TIME)?.toISOString()).toBe('2021-11-10T00:00:00.000Z')
  })

  it('reads the key time with a custom regex and adds it to records under keyTimeField', async () => {
    const source = makeJsonSource('ndjson', {keyTime: String.raw`capture-(?<Y>\d{4})(?<M>\d\d)(?<D>\d\d)-(?<h>\d\d)(?<m>\d\d)`, keyTimeField: 'captured_at'})
    const key = 'x/capture-20211110-0715.ndjson'
    expect(source.layout.timeFromKey(key)?.toISOString()).toBe('2021-11-10T07:15:00.000Z')
    const records = await decode(source, '{"captured_at": "old", "a": 1}\n', key)
    expect(records).toEqual([{a: 1, captured_at: '2021-11-10T07:15:00Z'}])
    expect(Object.keys(records[0]).at(-1)).toBe('captured_at')
    expect(source.timeField).toBe('captured_at')
    expect(source.recordTime!(records[0])?.toISOString()).toBe('2021-11-10T07:15:00.000Z')
    await expect(decode(source, '{"a": 1}\n', 'x/undated.ndjson')).rejects.toThrow(/no time in key "x\/undated.ndjson"/)
  })

  it('lists by prefix, or one prefix per day with dayPrefix', () => {
    const range = {from: new Date('2021-11-09T12:00:00Z'), to: new Date('2021-11-11T00:00:00Z')}
    expect(jsonSource.layout.prefixesFor(range)).toEqual([''])
    expect(jsonSource.configure!({prefix: 'exports/'}).layout.allPrefixes()).toEqual(['exports/'])
    expect(jsonSource.configure!({dayPrefix: 'raw/{YYYY}/{MM}/{DD}/'}).layout.prefixesFor(range)).toEqual(['raw/2021/11/09/', 'raw/2021/11/10/'])
  })

  it('parses record times: ISO strings, zone suffixes, epoch s/ms/µs/ns', () => {
    const iso = '2021-11-10T07:15:05.000Z'
    for (const value of ['2021-11-10T07:15:05Z', '2021-11-10T07:15:05.000Z[UTC]', 1636528505, 1636528505000, 1636528505000000, 1636528505000000000, '1636528505']) {
      expect(parseTimeValue(value)?.toISOString(), String(value)).toBe(iso)
    }
    expect(parseTimeValue('not a time')).toBeUndefined()
    expect(parseTimeValue(null)).toBeUndefined()
  })

  it('rejects unknown or malformed options, naming them', () => {
    expect(() => jsonSource.configure!({timefield: 'ts'})).toThrow(/unknown source option "timefield"; the json and ndjson sources take: timeField, keyTime/)
    expect(() => jsonSource.configure!({keyTime: '(?<Y>\\d{4}'})).toThrow(/keyTime is not a valid regular expression/)
    expect(() => jsonSource.configure!({keyTime: '(?<Y>\\d{4})-(?<M>\\d\\d)'})).toThrow(/lacks \(\?<D>…\)/)
    expect(() => jsonSource.configure!({dayPrefix: 'raw/{YYYY}/'})).toThrow(/dayPrefix must contain/)
    expect(() => jsonSource.configure!({timeField: ''})).toThrow(/timeField needs a value/)
  })

  it('documents its options, and configure() returns a new source leaving the original untouched', () => {
    expect(Object.keys(jsonSource.options!)).toEqual(['timeField', 'keyTime', 'keyTimeField', 'prefix', 'dayPrefix'])
    const configured = jsonSource.configure!({timeField: 'ts'})
    expect(configured.timeField).toBe('ts')
    expect(jsonSource.timeField).toBe('')
    expect(configured.configure!({prefix: 'p/'}).timeField).toBe('ts')
  })
})
