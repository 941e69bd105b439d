import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {runConvert} from '../../src/plugins/core/convert/service.js'
import {readJsonl, tempDir, weeklyOptions, writeEvents} from './helpers.js'

const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map((dir) => fs.rm(dir, {recursive: true, force: true}))))

async function setup() {
  const root = await tempDir()
  dirs.push(root)
  const raw = path.join(root, 'raw')
  const out = path.join(root, 'out')
  const base = await weeklyOptions(new LocalStorage(raw), new LocalStorage(out))
  return {root, raw, out, base}
}

describe('convert service (test NDJSON source)', () => {
  it('writes one gzip JSONL per ISO week, records in key order, with a manifest', async () => {
    const {raw, out, base} = await setup()
    // 2021-11-14 is a Sunday (W45), 2021-11-15 a Monday (W46): objects every 6 h from Saturday to Tuesday.
    await writeEvents(raw, '2021-11-13T00:00:00Z', 16, 360, 3)
    const result = await runConvert(base)
    expect(result.buckets.map((bucket) => [bucket.key, bucket.status, bucket.objects, bucket.records])).toEqual([
      ['2021-W45', 'written', 8, 24],
      ['2021-W46', 'written', 8, 24],
    ])
    const w45 = await readJsonl(path.join(out, '2021-W45.jsonl.gz'))
    expect(w45.map((record) => record.id)).toEqual([0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302, 400, 401, 402, 500, 501, 502, 600, 601, 602, 700, 701, 702])
    expect(w45[0]).toEqual({id: 0, speed: 0, ts: '2021-11-13T00:00:00Z'})
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W46.jsonl.gz.json'), 'utf8'))
    expect(manifest.counts).toMatchObject({objects: 8, records: 24, quarantined: 0})
    expect(manifest.inputs).toHaveLength(8)
    expect(manifest.inputs[0]).toMatchObject({key: 'events/2021-11-15/00-00-00.ndjson'})
    expect(manifest.output.size).toBe((await fs.stat(path.join(out, '2021-W46.jsonl.gz'))).size)
  })

  it('gives byte-identical output with 0, 1 or 2 encoder threads and small chunks', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-15T00:00:00Z', 40, 30, 50)
    const digests: string[] = []
    for (const threads of [0, 1, 2]) {
      await fs.rm(out, {recursive: true, force: true})
      const result = await runConvert({...base, threads, chunkBytes: 4096})
      expect(result.records).toBe(2000)
      expect(result.threads).toBe(Math.min(threads, os.availableParallelism()))
      const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W46.jsonl.gz.json'), 'utf8'))
      digests.push(manifest.output.sha256)
    }
    expect(new Set(digests).size).toBe(1)
  })
})

describe('convert service: resume, quarantine, plan, formats', () => {
  it('skips up-to-date buckets and rebuilds only the week that got a late object', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-01T00:00:00Z', 21, 24 * 60, 2) // one object a day for three weeks
    const first = await runConvert(base)
    expect(first.buckets.map((bucket) => bucket.status)).toEqual(['written', 'written', 'written'])
    const w45Before = await fs.stat(path.join(out, '2021-W45.jsonl.gz'))
    const again = await runConvert(base)
    expect(again.buckets.map((bucket) => [bucket.key, bucket.status, bucket.reason])).toEqual([
      ['2021-W44', 'skipped', 'up-to-date'],
      ['2021-W45', 'skipped', 'up-to-date'],
      ['2021-W46', 'skipped', 'up-to-date'],
    ])
    expect(again.records).toBe(42)
    // A late object lands in W45.
    await fs.writeFile(path.join(raw, 'events/2021-11-10/12-00-00.ndjson'), '{"id": 9999, "speed": 1}\n')
    const third = await runConvert(base)
    expect(third.buckets.map((bucket) => [bucket.key, bucket.status])).toEqual([
      ['2021-W44', 'skipped'],
      ['2021-W45', 'rebuilt'],
      ['2021-W46', 'skipped'],
    ])
    const w45 = await readJsonl(path.join(out, '2021-W45.jsonl.gz'))
    expect(w45).toHaveLength(15)
    expect(w45.map((record) => record.id)).toContain(9999)
    expect((await fs.stat(path.join(out, '2021-W45.jsonl.gz'))).size).toBeGreaterThan(w45Before.size)
  })

  it('leaves a bucket whose output exists without a manifest alone (another tool, or a crash between the two), and rebuilds it when asked', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-01T00:00:00Z', 3, 60, 2)
    await runConvert(base)
    await fs.rm(path.join(out, '_manifests'), {recursive: true})
    const before = await fs.readFile(path.join(out, '2021-W44.jsonl.gz'))
    const rerun = await runConvert(base)
    expect(rerun.buckets.map((bucket) => [bucket.status, bucket.reason])).toEqual([['skipped', 'foreign']])
    expect(rerun.foreign).toBe(1)
    expect((await fs.readFile(path.join(out, '2021-W44.jsonl.gz'))).equals(before)).toBe(true)
    await expect(fs.stat(path.join(out, '_manifests'))).rejects.toThrow()
    const rebuilt = await runConvert({...base, rebuildForeign: true})
    expect(rebuilt.buckets.map((bucket) => bucket.status)).toEqual(['rebuilt'])
    expect((await fs.readdir(path.join(out, '_manifests'))).length).toBe(1)
  })

  it('quarantines empty, truncated and undecodable objects, goes on, and records them in the manifest', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-15T00:00:00Z', 6, 60, 2)
    await fs.writeFile(path.join(raw, 'events/2021-11-15/01-00-00.ndjson'), '')
    await fs.writeFile(path.join(raw, 'events/2021-11-15/02-00-00.ndjson'), '{"id": 1, "speed": 3}\n{"id": 2, "sp')
    await fs.writeFile(path.join(raw, 'events/2021-11-15/03-00-00.ndjson'), 'not json at all\n')
    const result = await runConvert(base)
    expect(result.quarantined).toBe(3)
    expect(result.records).toBe(6)
    const reasons = Object.fromEntries(result.buckets[0].quarantined.map((entry) => [entry.key, entry.reason]))
    expect(reasons['events/2021-11-15/01-00-00.ndjson']).toMatch(/^empty/)
    expect(reasons['events/2021-11-15/02-00-00.ndjson']).toMatch(/^truncated: .*line 2/)
    expect(reasons['events/2021-11-15/03-00-00.ndjson']).toMatch(/^undecodable/)
    const records = await readJsonl(path.join(out, '2021-W46.jsonl.gz'))
    // Nothing of the truncated object got in, not even its good first line.
    expect(records.map((record) => record.id)).toEqual([0, 1, 400, 401, 500, 501])
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W46.jsonl.gz.json'), 'utf8'))
    expect(manifest.counts.quarantined).toBe(3)
    expect(manifest.quarantined.map((entry: {key: string}) => entry.key)).toEqual(Object.keys(reasons))
  })

  it('fails beyond --max-bad and leaves no output for the failed bucket', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-15T00:00:00Z', 4, 60, 2)
    await fs.writeFile(path.join(raw, 'events/2021-11-15/01-00-00.ndjson'), '')
    await fs.writeFile(path.join(raw, 'events/2021-11-15/02-00-00.ndjson'), 'oops')
    await expect(runConvert({...base, maxBad: 1})).rejects.toMatchObject({code: 'TOO_MANY_BAD'})
    // No output and no marker (the failed write left nothing to rebuild); at most an empty _manifests/ folder.
    await expect(
      fs.readdir(out, {recursive: true}).then(
        (entries) => entries.filter((entry) => entry !== '_manifests'),
        () => [],
      ),
    ).resolves.toEqual([])
    const ok = await runConvert({...base, maxBad: 2})
    expect(ok.quarantined).toBe(2)
  })

  it('refuses a gzip level outside 1-9 before doing anything, naming the flag', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-01T00:00:00Z', 2, 60, 1)
    await expect(runConvert({...base, compression: 'gzip', level: 12})).rejects.toMatchObject({code: 'BAD_LEVEL', message: '--level 12 is not a gzip level.'})
    await expect(fs.stat(out)).rejects.toMatchObject({code: 'ENOENT'})
    const zstd = await runConvert({...base, compression: 'zstd', level: 12, keyTemplate: '{YYYY}-W{WW}.jsonl.zst'})
    expect(zstd.buckets.map((bucket) => bucket.status)).toEqual(['written'])
  })

  it('plans without writing: buckets, objects, bytes, requests and cost', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-01T00:00:00Z', 10, 24 * 60, 2)
    const plan = await runConvert({...base, dryRun: true})
    expect(plan.dryRun).toBe(true)
    expect(plan.buckets.map((bucket) => [bucket.key, bucket.status, bucket.action, bucket.objects])).toEqual([
      ['2021-W44', 'planned', 'write', 7],
      ['2021-W45', 'planned', 'write', 3],
    ])
    expect(plan.bytesIn).toBeGreaterThan(0)
    await expect(fs.stat(out)).rejects.toMatchObject({code: 'ENOENT'})
    await runConvert(base)
    const replan = await runConvert({...base, dryRun: true})
    expect(replan.buckets.map((bucket) => bucket.action)).toEqual(['skip', 'skip'])
  })

  it('leaves the current bucket alone unless includeCurrent', async () => {
    const {raw, base} = await setup()
    await writeEvents(raw, '2021-11-01T00:00:00Z', 10, 24 * 60, 2)
    const now = new Date('2021-11-10T12:00:00Z')
    const run = await runConvert({...base, now})
    expect(run.buckets.map((bucket) => [bucket.key, bucket.status, bucket.reason])).toEqual([
      ['2021-W44', 'written', undefined],
      ['2021-W45', 'skipped', 'current'],
    ])
    const withCurrent = await runConvert({...base, now, includeCurrent: true})
    expect(withCurrent.buckets.map((bucket) => [bucket.key, bucket.status])).toEqual([
      ['2021-W44', 'skipped'],
      ['2021-W45', 'written'],
    ])
  })

  it('buckets by day, hour and month with their default names', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-10-31T22:30:00Z', 4, 30, 1)
    const day = await runConvert({...base, bucket: 'day', keyTemplate: '{YYYY}-{MM}-{DD}.jsonl.gz'})
    expect(day.buckets.map((bucket) => [bucket.output, bucket.objects])).toEqual([
      ['2021-10-31.jsonl.gz', 3],
      ['2021-11-01.jsonl.gz', 1],
    ])
    const hour = await runConvert({...base, bucket: 'hour', keyTemplate: 'hourly/{YYYY}/{MM}/{DD}/{HH}.jsonl.gz'})
    expect(hour.buckets.map((bucket) => [bucket.key, bucket.output, bucket.objects])).toEqual([
      ['2021-10-31T22', 'hourly/2021/10/31/22.jsonl.gz', 1],
      ['2021-10-31T23', 'hourly/2021/10/31/23.jsonl.gz', 2],
      ['2021-11-01T00', 'hourly/2021/11/01/00.jsonl.gz', 1],
    ])
    const month = await runConvert({...base, bucket: 'month', keyTemplate: '{YYYY}-{MM}.jsonl.zst', compression: 'zstd'})
    expect(month.buckets.map((bucket) => [bucket.output, bucket.records])).toEqual([
      ['2021-10.jsonl.zst', 3],
      ['2021-11.jsonl.zst', 1],
    ])
    expect((await readJsonl(path.join(out, '2021-10.jsonl.zst'))).map((record) => record.ts)).toEqual(['2021-10-31T22:30:00Z', '2021-10-31T23:00:00Z', '2021-10-31T23:30:00Z'])
  })

  it('writes Parquet that DuckDB reads back, and zstd JSONL of independent frames', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-15T00:00:00Z', 30, 60, 40)
    await runConvert({...base, format: 'parquet', compression: 'zstd', keyTemplate: '{YYYY}-W{WW}.parquet'})
    await runConvert({...base, compression: 'zstd', keyTemplate: '{YYYY}-W{WW}.jsonl.zst', chunkBytes: 2048})
    await runConvert({...base, chunkBytes: 2048})
    // Many chunks: the gzip output is a concatenation of members, which gzip readers (DuckDB, Python) read whole.
    const gz = await fs.readFile(path.join(out, '2021-W46.jsonl.gz'))
    let members = 0
    for (let i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08])); i !== -1; i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), i + 1)) members++
    expect(members).toBeGreaterThan(5)
    const {openDuckDB} = await import('../../src/plugins/core/duckdb/duckdb.js')
    const db = await openDuckDB({threads: 1})
    try {
      const [parquet] = await db.query<{n: number; ids: number; first: number}>(
        `SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids, first(id)::INTEGER AS first FROM read_parquet('${path.join(out, '2021-W46.parquet')}')`,
      )
      expect(parquet).toEqual({n: 1200, ids: 1200, first: 0})
      const [zstd] = await db.query<{n: number}>(`SELECT count(*)::INTEGER AS n FROM read_json('${path.join(out, '2021-W46.jsonl.zst')}', format = 'newline_delimited', compression = 'zstd')`)
      expect(zstd.n).toBe(1200)
      const [gzip] = await db.query<{n: number; last: number}>(`SELECT count(*)::INTEGER AS n, last(id)::INTEGER AS last FROM read_json('${path.join(out, '2021-W46.jsonl.gz')}', format = 'newline_delimited')`)
      expect(gzip).toEqual({n: 1200, last: 2939})
    } finally {
      await db.close()
    }
  })

  it('validates records against the schema, tallying violations per field path', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-15T00:00:00Z', 3, 60, 2)
    await fs.writeFile(path.join(raw, 'events/2021-11-15/05-00-00.ndjson'), '{"id": "x1", "speed": 3}\n{"id": 7, "speed": "fast"}\n{"id": "x2", "speed": 1}\n')
    const result = await runConvert({...base, validate: true})
    expect(result.validation?.recordsInvalid).toBe(3)
    expect(result.validation?.violations.map((violation) => [violation.path, violation.keyword, violation.count])).toEqual([
      ['id', 'type', 2],
      ['speed', 'type', 1],
    ])
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W46.jsonl.gz.json'), 'utf8'))
    expect(manifest.extra.validation.violations[0]).toMatchObject({path: 'id', count: 2, example: {value: 'x1', where: 'events/2021-11-15/05-00-00.ndjson'}})
  })
})

describe('convert service with the bustimes fast path', () => {
  it('writes the same bytes with --validate as without (integral floats stay floats for Python readers)', async () => {
    const {raw, out, base} = await setup()
    const {bustimesSource} = await import('../../src/plugins/bustimes/index.js')
    await fs.mkdir(path.join(raw, 'raw'), {recursive: true})
    await fs.writeFile(path.join(raw, 'raw', 'bustimes__2021-11-09__00-00-00.json'), "[{u'vehicleID': 101, u'latitude': 45.0, u'longitude': -122.5, u'delay': None}]")
    const options = {...base, source: bustimesSource, threads: 0}
    const plain = await runConvert(options)
    expect(plain.records).toBe(1)
    const {gunzipSync} = await import('node:zlib')
    const first = gunzipSync(await fs.readFile(path.join(out, '2021-W45.jsonl.gz'))).toString('utf8')
    expect(first).toContain('"latitude":45.0')
    await fs.rm(out, {recursive: true, force: true})
    const validated = await runConvert({...options, validate: true})
    expect(validated.validation?.recordsChecked).toBe(1)
    expect(gunzipSync(await fs.readFile(path.join(out, '2021-W45.jsonl.gz'))).toString('utf8')).toBe(first)
  })
})

describe('convert service: where to list', () => {
  it('finds the span of the objects with a parallel search over days, so the default range ends at the last object', async () => {
    const {raw, base} = await setup()
    await writeEvents(raw, '2021-03-01T05:00:00Z', 3, 24 * 60 + 30, 1) // 2021-03-01 05:00, 03-02 05:30, 03-03 06:00
    const {probeLocations} = await import('../../src/plugins/core/convert/listing.js')
    const probe = await probeLocations(base.input, base.source, new Date('2026-01-01T00:00:00Z'))
    expect(probe.spans.get('events/')).toEqual({from: new Date('2021-03-01T05:00:00Z'), to: new Date('2021-03-04T00:00:00Z')})
    // A few dozen LISTs (rounds of 8 in parallel) instead of one per day of the 1,767 days up to `now`.
    expect(probe.requests).toBeLessThan(50)
    const result = await runConvert({...base, now: new Date('2026-01-01T00:00:00Z')})
    expect([result.from, result.to]).toEqual(['2021-03-01T05:00:00.000Z', '2021-03-04T00:00:00.000Z'])
    expect(result.buckets.map((bucket) => [bucket.key, bucket.objects])).toEqual([['2021-W09', 3]])
    const empty = await probeLocations(new LocalStorage(path.join(raw, 'nothing-here')), base.source, new Date())
    expect(empty.spans.get('events/')).toBeUndefined()
  })

  it('lists the first windows while the probe still searches for the last day, and skips the empty days after it', async () => {
    const {raw, out, base} = await setup()
    // 1,100 objects 4 minutes apart: the probe's first page (1,000 keys) ends on 2021-03-03, so it holds every key
    // of the first two days, and only the rest of the first week needs listing.
    await writeEvents(raw, '2021-03-01T05:00:00Z', 1100, 4, 1)
    const events: {what: 'probe' | 'window'; prefix: string; at: number; phase: 'start' | 'end'}[] = []
    const slow = Object.assign(Object.create(base.input) as LocalStorage, {
      async *list(prefix = '', options: {startAfter?: string; pageSize?: number} = {}) {
        const what = options.startAfter === undefined && prefix !== 'events/' ? 'window' : 'probe'
        events.push({what, prefix, at: performance.now(), phase: 'start'})
        await new Promise((resolve) => setTimeout(resolve, 25))
        yield* base.input.list(prefix, options)
        events.push({what, prefix, at: performance.now(), phase: 'end'})
      },
    })
    const result = await runConvert({...base, input: slow, now: new Date('2026-01-01T00:00:00Z')})
    expect([result.from, result.to]).toEqual(['2021-03-01T05:00:00.000Z', '2021-03-05T00:00:00.000Z'])
    expect(result.buckets.map((bucket) => [bucket.key, bucket.objects, bucket.records])).toEqual([['2021-W09', 1100, 1100]])
    const firstWindow = events.find((event) => event.what === 'window' && event.phase === 'start')!
    const lastProbe = events.filter((event) => event.what === 'probe' && event.phase === 'end').at(-1)!
    expect(firstWindow.at).toBeLessThan(lastProbe.at)
    // Days listed: the first window's week only, less the two days the probe's page held; later windows wait for
    // the end and skip the empty days after it.
    const days = new Set(events.filter((event) => event.what === 'window').map((event) => event.prefix))
    expect([...days].sort()).toEqual(['03', '04', '05', '06', '07'].map((day) => `events/2021-03-${day}/`))
    const output = await readJsonl(path.join(out, '2021-W09.jsonl.gz'))
    expect(output.map((record) => record.id)).toEqual(Array.from({length: 1100}, (_, i) => i * 100))
  })

  it("lists nothing more when the probe's first page held the whole archive", async () => {
    const {raw, base} = await setup()
    await writeEvents(raw, '2021-11-06T22:00:00Z', 12, 6 * 60, 2)
    const listed: string[] = []
    const counting = Object.assign(Object.create(base.input) as LocalStorage, {
      list(prefix = '', options: {startAfter?: string; pageSize?: number} = {}) {
        if (options.startAfter === undefined) listed.push(prefix)
        return base.input.list(prefix, options)
      },
    })
    const result = await runConvert({...base, input: counting, now: new Date('2026-01-01T00:00:00Z')})
    expect(result.buckets.map((bucket) => [bucket.key, bucket.objects, bucket.records])).toEqual([
      ['2021-W44', 5, 10],
      ['2021-W45', 7, 14],
    ])
    // The probe's one listing of the location, then none per day: its page was the whole location.
    expect(listed).toEqual(['events/'])
  })

  it('finds the last day wherever it lies: the first day, next to now, or anywhere between', async () => {
    const {probeLocations} = await import('../../src/plugins/core/convert/listing.js')
    const now = new Date('2026-01-01T12:00:00Z')
    const start = Date.parse('2021-03-01T05:00:00Z')
    const lastDay = Math.floor((now.getTime() - start) / 86_400_000)
    for (const days of [0, 1, 2, 9, 10, 11, 100, 1000, lastDay - 1, lastDay]) {
      const {raw, base} = await setup()
      await writeEvents(raw, '2021-03-01T05:00:00Z', 1, 1)
      await writeEvents(raw, new Date(start + days * 86_400_000).toISOString(), 1, 1)
      const end = Math.min(now.getTime(), (Math.floor(start / 86_400_000) + days + 1) * 86_400_000)
      // The search (a probe page of one key leaves the location unfinished), then the probe's page holding both keys.
      const searched = await probeLocations(base.input, base.source, now, {pageSize: 1})
      expect(searched.spans.get('events/'), `last object ${days} days after the first, searched`).toEqual({from: new Date(start), to: new Date(end)})
      expect(searched.requests).toBeGreaterThan(1)
      const paged = await probeLocations(base.input, base.source, now)
      expect(paged.spans.get('events/'), `last object ${days} days after the first, from the page`).toEqual({from: new Date(start), to: new Date(end)})
      expect(paged.requests).toBe(1)
    }
  })
})
