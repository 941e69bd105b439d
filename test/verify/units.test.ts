import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import bustimesSource from '../../src/plugins/bustimes/index.js'
import {bucketKey, type BucketSize, bucketStart} from '../../src/plugins/core/convert/buckets.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {type AthenaDdlResult} from '../../src/plugins/core/verify/result.js'
import {hiveType} from '../../src/plugins/core/verify/athena.js'
import {bucketOf, parseBucketKey} from '../../src/plugins/core/verify/buckets.js'
import {findDrops, findGaps} from '../../src/plugins/core/verify/continuity.js'
import {inventoryOutputs} from '../../src/plugins/core/verify/outputs.js'
import {chooseSample, parseShare} from '../../src/plugins/core/verify/sample.js'
import {parseCheckFile} from '../../src/plugins/core/verify/sql-checks.js'
import {runInProcess} from '../helpers/cli.js'
import {buildDataset, linkTinybusPlugin, removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

describe('buckets', () => {
  it('labels every hour of 2020–2022 exactly as convert names its buckets', () => {
    for (const size of ['hour', 'day', 'week', 'month'] as BucketSize[]) {
      for (let t = Date.UTC(2020, 11, 20); t < Date.UTC(2021, 0, 12); t += 3_600_000) {
        const time = new Date(t)
        const ours = bucketOf(size, time)
        expect(ours.label).toBe(bucketKey(size, bucketStart(size, time)))
        expect(ours.start.getTime()).toBe(bucketStart(size, time).getTime())
      }
    }
  })

  it('reads the bucket from output keys of every bucket size', () => {
    expect(parseBucketKey('v2/2020-W53.jsonl.gz')).toMatchObject({kind: 'week', label: '2020-W53', start: new Date('2020-12-28T00:00:00Z'), end: new Date('2021-01-04T00:00:00Z')})
    expect(parseBucketKey('2021-11-09T13.jsonl.zst')).toMatchObject({kind: 'hour', label: '2021-11-09T13'})
    expect(parseBucketKey('daily/2021-11-09.parquet')).toMatchObject({kind: 'day', label: '2021-11-09'})
    expect(parseBucketKey('2021-11.jsonl')).toMatchObject({kind: 'month', label: '2021-11', end: new Date('2021-12-01T00:00:00Z')})
    expect(parseBucketKey('2021/2021-W05/part-0.jsonl.gz')).toMatchObject({kind: 'week', label: '2021-W05'})
    expect(parseBucketKey('2021-13-45.jsonl.gz')).toBeUndefined()
    expect(parseBucketKey('notes.jsonl')).toBeUndefined()
  })

  it('finds gaps between present buckets and sudden drops against the neighbours', () => {
    const weeks = ['2021-W50', '2021-W51', '2022-W02'].map((label) => parseBucketKey(label)!)
    expect(findGaps(weeks).map((gap) => [gap.after, gap.before, gap.missing.map((span) => span.label)])).toEqual([['2021-W51', '2022-W02', ['2021-W52', '2022-W01']]])
    const counts = [100, 110, 40, 105, 98, 10].map((records, i) => ({label: `b${i}`, records}))
    expect(findDrops(counts, {threshold: 0.5, window: 2}).map((drop) => drop.label)).toEqual(['b2'])
    expect(findDrops(counts, {threshold: 0.3, window: 2})).toEqual([])
  })
})

describe('outputs', () => {
  it('takes data files with a bucket in their key, not raw objects, manifests or temp files', async () => {
    const storage = new LocalStorage(await tempDir())
    const dataset = await buildDataset(storage, storage, {weeks: 2})
    await storage.write('.bw-tmp-123', 'partial')
    await storage.write('notes/readme.jsonl', '{}\n')
    const inventory = await inventoryOutputs(storage)
    expect(inventory.files.map((file) => [file.key, file.bucket.label, file.format, file.compression, Boolean(file.manifest)])).toEqual(dataset.weeks.map((week) => [`${week}.jsonl.gz`, week, 'jsonl', 'gzip', true]))
    expect(inventory.unbucketed).toEqual(['notes/readme.jsonl'])
    expect(inventory.kind).toBe('week')
  })
})

describe('samples and check files', () => {
  it('chooses the same buckets for the same seed, about the share asked, and keeps old choices as buckets are added', () => {
    const labels = Array.from({length: 400}, (_, i) => bucketOf('week', new Date(Date.UTC(2015, 0, 5) + i * 7 * 86_400_000)).label)
    const chosen = chooseSample(labels, 0.1, 'seed-a')
    expect(chooseSample(labels, 0.1, 'seed-a')).toEqual(chosen)
    expect(chosen.size).toBeGreaterThan(20)
    expect(chosen.size).toBeLessThan(60)
    expect(chooseSample(labels, 0.1, 'seed-b')).not.toEqual(chosen)
    const grown = chooseSample([...labels, '2030-W01', '2030-W02'], 0.1, 'seed-a')
    for (const label of chosen) expect(grown.has(label)).toBe(true)
    expect(chooseSample(['2024-W01'], 0.01, 'x').size).toBe(1)
    expect([parseShare('10%'), parseShare('0.25'), parseShare('1'), parseShare('0'), parseShare('150%'), parseShare('ten')]).toEqual([0.1, 0.25, 1, undefined, undefined, undefined])
  })

  it('splits a checks file at semicolons outside quotes, named by "-- name:" lines', () => {
    const checks = parseCheckFile(
      "-- name: no-null-ids\nSELECT * FROM records WHERE vehicleID IS NULL;\n\n-- an ordinary comment\nSELECT * FROM records WHERE signMessage = 'a;b' -- trailing; comment\n;\nSELECT 1 WHERE false",
      'checks.sql',
    )
    expect(checks.map((check) => check.name)).toEqual(['no-null-ids', 'checks.sql#2', 'checks.sql#3'])
    expect(checks[1]!.sql).toBe("SELECT * FROM records WHERE signMessage = 'a;b' -- trailing; comment")
    expect(checks[2]!.sql).toBe('SELECT 1 WHERE false')
    // A ";" in a block comment ends no query.
    expect(parseCheckFile('SELECT 1 /* one; two */ WHERE false;\nSELECT 2', 'c.sql').map((check) => check.sql)).toEqual(['SELECT 1 /* one; two */ WHERE false', 'SELECT 2'])
  })
})

describe('verify --athena-ddl', () => {
  it('maps JSON Schema types to Hive types', () => {
    expect(hiveType({type: 'integer'})).toBe('BIGINT')
    expect(hiveType({type: ['integer', 'null']})).toBe('BIGINT')
    expect(hiveType({type: ['number', 'integer']})).toBe('DOUBLE')
    expect(hiveType({type: ['boolean', 'null']})).toBe('BOOLEAN')
    expect(hiveType({type: 'string', format: 'date-time'})).toBe('STRING')
    expect(hiveType({type: ['string', 'integer']})).toBe('STRING')
    expect(hiveType({type: 'array', items: {type: 'number'}})).toBe('ARRAY<DOUBLE>')
    expect(hiveType({type: 'object', properties: {coreData: {type: 'object', properties: {elevation: {type: 'number'}, id: {type: 'string'}}}}})).toBe('STRUCT<`coreData`:STRUCT<`elevation`:DOUBLE, `id`:STRING>>')
  })

  it('prints the table over the outputs and the count queries, columns from the source schema', async () => {
    await linkTinybusPlugin()
    const root = await tempDir()
    const output = new LocalStorage(path.join(root, 'v2'))
    const dataset = await buildDataset(undefined, output, {weeks: 3})
    const run = await runInProcess<AthenaDdlResult>(['verify', output.pathOf(''), '--source', 'tinybus', '--athena-ddl', '--json'])
    expect(run.exitCode).toBe(0)
    const result = run.result!
    expect(result.mode).toBe('athena-ddl')
    expect(result.ddl).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS tinybus (')
    expect(result.ddl).toContain('  `vehicleID` BIGINT,\n  `snapshot_time` STRING,\n  `latitude` DOUBLE,\n  `longitude` DOUBLE,\n  `routeNumber` BIGINT,')
    expect(result.ddl).toContain("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'")
    expect(result.ddl).toContain(`LOCATION '${output.uri}'`)
    expect(result.notes.join('\n')).toMatch(/_manifests\/ are not read as data/)
    expect(result.notes.join('\n')).toMatch(/not an S3 location/)
    const counts = result.queries.find((query) => query.name === 'counts-vs-manifests')!
    for (const week of dataset.weeks) expect(counts.sql).toContain(`('${week}', ${dataset.recordsPerWeek.get(week)})`)
    expect(result.queries.map((query) => query.name)).toEqual(['records-per-bucket', 'counts-vs-manifests', 'records-per-week', 'duplicates'])
    expect(result.queries.find((query) => query.name === 'duplicates')!.sql).toContain('GROUP BY "vehicleid", "snapshot_time"')
  })

  it('types every bustimes column', () => {
    const columns = Object.entries(bustimesSource.schema!.properties as Record<string, Record<string, unknown>>).map(([name, schema]) => `${name}:${hiveType(schema)}`)
    expect(columns).toContain('vehicleID:BIGINT')
    expect(columns).toContain('latitude:DOUBLE')
    expect(columns).toContain('offRoute:BOOLEAN')
    expect(columns).toContain('direction:BIGINT')
    expect(columns).toContain('snapshot_time:STRING')
  })
})
