import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import zlib from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {type SourceRecord} from '../../src/plugins/core/index.js'
import {RecordValidator} from '../../src/plugins/core/schema/validator.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'
import {WYOMING} from '../../src/plugins/wydot-bsm/generate.js'
import {wydotBsmSource} from '../../src/plugins/wydot-bsm/index.js'
import {theaSpatPretty, wydotBsmV1, wydotBsmV3, wydotBsmV6Pretty, wydotTimPretty} from '../fixtures/generated.js'

const source = wydotBsmSource()

async function decode(body: Buffer | string, key = 'wydot/BSM/2018/05/06/20/x.json'): Promise<SourceRecord[]> {
  const records: SourceRecord[] = []
  for await (const record of source.decode(Readable.from([Buffer.from(body)]), {key})) records.push(record)
  return records
}

/**
 * Records in the shapes of the USDOT sandbox samples (which carry no licence; see test/fixtures/README.md), named
 * after them: BSM schema v1 (2017-08) and v3 (2017-11) as one-line objects, v6 pretty-printed, a TIM and a SPaT.
 */
const SAMPLES: Record<string, () => Promise<string> | string> = {
  'wydot-filtered-bsm-1502840971677.json': wydotBsmV1,
  'wydot-filtered-bsm-1511788035889.json': wydotBsmV3,
  'wydot-filtered-bsm-schemaVersion6.json': wydotBsmV6Pretty,
  'wydot-filtered-tim-schemaVersion6_single.json': wydotTimPretty,
  'thea-filtered-spat-schemaVersion1.json': theaSpatPretty,
}
const sample = async (name: string) => Buffer.from(await SAMPLES[name]())
const BSM_FILES = ['wydot-filtered-bsm-1502840971677.json', 'wydot-filtered-bsm-1511788035889.json', 'wydot-filtered-bsm-schemaVersion6.json']

describe("wydot-bsm source: records in the sandbox samples' shapes", () => {
  it('decodes and validates schema v1, v3 and v6 records (compact one-liners and a pretty-printed file)', async () => {
    const validator = await RecordValidator.create(source.schema!)
    const versions: number[] = []
    for (const file of BSM_FILES) {
      const records = await decode(await sample(file))
      expect(records).toHaveLength(1)
      versions.push((records[0].metadata as {schemaVersion: number}).schemaVersion)
      expect(validator.validate(records[0], file), JSON.stringify(validator.violations())).toBe(true)
    }
    expect(versions).toEqual([1, 3, 6])
  })

  it('reads the event time with and without the [UTC] suffix (v1 generatedAt, v3 and v6 recordGeneratedAt)', async () => {
    const times = []
    for (const file of BSM_FILES) times.push(source.recordTime!((await decode(await sample(file)))[0])?.toISOString())
    expect(times).toEqual(['2017-08-15T23:46:00.645Z', '2017-11-20T12:13:36.398Z', '2018-05-06T20:26:28.690Z'])
  })

  it('decodes a gzip NDJSON object of many records, one a line', async () => {
    const lines = await Promise.all(BSM_FILES.map(async (file) => JSON.stringify(JSON.parse((await sample(file)).toString()))))
    const records = await decode(zlib.gzipSync(lines.join('\n') + '\n'))
    expect(records.map((record) => (record.metadata as {schemaVersion: number}).schemaVersion)).toEqual([1, 3, 6])
  })

  it('rejects a record with a wrong type, naming the field path', async () => {
    const record = (await decode(await sample('wydot-filtered-bsm-schemaVersion6.json')))[0] as any
    record.payload.data.coreData.position.elevation = '2179.1'
    record.metadata.serialId.recordId = 'two'
    const validator = await RecordValidator.create(source.schema!)
    expect(validator.validate(record, 'line 1')).toBe(false)
    const violations = validator.violations().map((violation) => `${violation.path} ${violation.keyword}`)
    expect(violations).toContain('payload.data.coreData.position.elevation type')
    expect(violations).toContain('metadata.serialId.recordId type')
    expect(validator.violations().find((violation) => violation.path.endsWith('elevation'))!.example.value).toBe('2179.1')
  })

  it('quarantines bad bytes with the line: a broken line, and a document cut off', async () => {
    const good = JSON.stringify(JSON.parse((await sample('wydot-filtered-bsm-schemaVersion6.json')).toString()))
    await expect(decode(`${good}\n{"metadata": nope}\n`)).rejects.toMatchObject({name: 'DecodeError', where: {line: 2}})
    const pretty = (await sample('wydot-filtered-bsm-schemaVersion6.json')).toString()
    const cut = pretty.slice(0, pretty.length / 2)
    const error = await decode(cut).catch((caught) => caught)
    expect(error).toBeInstanceOf(DecodeError)
    expect(error.message).toMatch(/line 1 is cut off/)
  })

  it('TIM and SPaT files are other message types: they decode as JSON, fail the BSM schema by path, and are outside the BSM layout', async () => {
    const validator = await RecordValidator.create(source.schema!)
    for (const file of ['wydot-filtered-tim-schemaVersion6_single.json', 'thea-filtered-spat-schemaVersion1.json']) {
      const [record] = await decode(await sample(file))
      expect(validator.validate(record, file)).toBe(false)
    }
    const paths = validator.violations().map((violation) => violation.path)
    expect(paths).toContain('payload.dataType')
    expect(paths).toContain('metadata.payloadType')
    expect(paths).toContain('payload.data.coreData')
    // SPaT times are local Eastern with a space: not a UTC instant, so no event time rather than a wrong one.
    const [spat] = await decode(await sample('thea-filtered-spat-schemaVersion1.json'))
    expect(source.recordTime!(spat)).toBeUndefined()
    expect(source.layout.timeFromKey('wydot/TIM/2018/12/10/15/wydot-filtered-tim-1.json')).toBeUndefined()
    expect(source.layout.timeFromKey('wydot/BSM/2018/12/10/15/wydot-filtered-bsm-1.json')?.toISOString()).toBe('2018-12-10T15:00:00.000Z')
  })
})

describe('wydot-bsm layout', () => {
  it('lists whole days as day prefixes and partial days hour by hour', () => {
    const prefixes = source.layout.prefixesFor({from: new Date('2018-05-06T21:30:00Z'), to: new Date('2018-05-08T02:00:00Z')})
    expect(prefixes).toEqual(['wydot/BSM/2018/05/06/21/', 'wydot/BSM/2018/05/06/22/', 'wydot/BSM/2018/05/06/23/', 'wydot/BSM/2018/05/07/', 'wydot/BSM/2018/05/08/00/', 'wydot/BSM/2018/05/08/01/'])
  })

  it('takes a prefix option for a location that already points at the BSM folder', () => {
    const configured = source.configure!({prefix: ''})
    expect(configured.layout.timeFromKey('2018/05/06/20/wydot-filtered-bsm-1.json')?.toISOString()).toBe('2018-05-06T20:00:00.000Z')
    expect(() => source.configure!({bogus: '1'})).toThrow(/bogus/)
  })
})

describe('wydot-bsm generator', () => {
  const collect = async (from: string, to: string, seed: number, rate?: number) => {
    const objects = []
    for await (const object of source.generate!({range: {from: new Date(from), to: new Date(to)}, seed, rate})) objects.push(object)
    return objects
  }
  const digest = (objects: {key: string; body: Uint8Array | string}[]) => {
    const hash = createHash('sha256')
    for (const object of objects) hash.update(object.key).update('\0').update(object.body)
    return hash.digest('hex')
  }

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await collect('2019-03-01T00:00:00Z', '2019-03-01T01:00:00Z', 7)
    const b = await collect('2019-03-01T00:00:00Z', '2019-03-01T01:00:00Z', 7)
    const c = await collect('2019-03-01T00:00:00Z', '2019-03-01T01:00:00Z', 8)
    expect(digest(a)).toBe(digest(b))
    expect(digest(a)).not.toBe(digest(c))
  })

  it('writes valid records on I-80 inside Wyoming, in the real key layout, keyed by the hour of recordGeneratedAt', async () => {
    const objects = await collect('2019-03-01T22:50:00Z', '2019-03-02T01:10:00Z', 3, 20_000)
    const validator = await RecordValidator.create(source.schema!)
    let records = 0
    const ids = new Set<string>()
    for (const object of objects) {
      const hour = source.layout.timeFromKey(object.key)!
      expect(hour).toBeDefined()
      for (const record of await decode(Buffer.from(object.body))) {
        records++
        expect(validator.validate(record, object.key), JSON.stringify(validator.violations()[0])).toBe(true)
        const time = source.recordTime!(record)!
        expect(Math.floor(time.getTime() / 3_600_000)).toBe(hour.getTime() / 3_600_000)
        const {latitude, longitude} = (record as any).payload.data.coreData.position
        expect(latitude).toBeGreaterThanOrEqual(WYOMING.minLatitude)
        expect(latitude).toBeLessThanOrEqual(WYOMING.maxLatitude)
        expect(longitude).toBeGreaterThanOrEqual(WYOMING.minLongitude)
        expect(longitude).toBeLessThanOrEqual(WYOMING.maxLongitude)
        // On the corridor: I-80 stays between 41.1°N and 41.8°N.
        expect(latitude).toBeGreaterThan(41.1)
        expect(latitude).toBeLessThan(41.8)
        const s = (record as any).metadata.serialId
        ids.add(`${s.streamId}/${s.bundleId}/${s.recordId}`)
      }
    }
    expect(records).toBe(Math.round((140 / 60) * 20_000))
    expect(ids.size).toBe(records)
    expect(objects.map((object) => object.key)).toEqual([...objects.map((object) => object.key)].sort())
  })

  it('writes one v3 record per object with [UTC] times before 2018-01-18', async () => {
    const objects = await collect('2017-11-20T12:00:00Z', '2017-11-20T12:01:00Z', 1, 3_600)
    expect(objects).toHaveLength(60)
    const [record] = await decode(Buffer.from(objects[0].body))
    expect((record as any).metadata.schemaVersion).toBe(3)
    expect((record as any).metadata.recordGeneratedAt).toMatch(/Z\[UTC\]$/)
    expect(objects[0].key).toMatch(/^wydot\/BSM\/2017\/11\/20\/12\/wydot-filtered-bsm-\d{13}\.json$/)
  })
})
