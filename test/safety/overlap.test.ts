import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {gunzipSync} from 'node:zlib'
import {afterAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/commands/convert.js'
import type {EtlResult} from '../../src/commands/etl.js'
import type {FetchResult} from '../../src/commands/fetch.js'
import type {CompactResult} from '../../src/plugins/core/compact/result.js'
import {isHiddenKey} from '../../src/plugins/core/compact/layout.js'
import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {writeGenerated} from '../../src/plugins/core/generate/generate.js'
import type {OutputManifest} from '../../src/plugins/core/manifest/manifest.js'
import {isBookkeepingKey, locationOverlap} from '../../src/plugins/core/storage/overlap.js'
import type {VerifyResult} from '../../src/plugins/core/verify/result.js'
import {bustimesSource} from '../../src/plugins/bustimes/index.js'
import {coinbaseSource} from '../../src/plugins/coinbase/index.js'
import {runInProcess} from '../helpers/cli.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'
import {daysAgo, putNdjson} from '../compact/fixtures.js'

// The commands run in this process from the built CLI (dist/, as oclif loads them): `npm run build` first (npm test
// does). Each store is a temp folder, or a fresh bucket on fauxqs and on s3rver.

/** Where a test's locations live: a temp folder, or a fresh bucket on one of the two loopback S3 servers. */
interface Store {
  name: 'local' | 'fauxqs' | 's3rver'
  endpoint?: string
}

const STORES: Store[] = [{name: 'local'}, ...s3Servers()]
const dirs: string[] = []
const opened: Storage[] = []

afterAll(async () => {
  await Promise.all(opened.map((storage) => storage.close()))
  await Promise.all(dirs.map((dir) => fs.rm(dir, {recursive: true, force: true})))
})

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-overlap-'))
  dirs.push(dir)
  return dir
}

/** A fresh root on the store (`/tmp/…/` or `s3://bucket/`), as a location string ending in `/`. */
async function freshRoot(store: Store): Promise<string> {
  if (!store.endpoint) return (await tempDir()) + '/'
  useS3Env(store.endpoint)
  return `s3://${await createTestBucket('bw-overlap', testS3Client(store.endpoint))}/`
}

async function open(location: string, store: Store): Promise<Storage> {
  if (store.endpoint) useS3Env(store.endpoint)
  const storage = await openStorage(location, {endpoint: store.endpoint, region: 'us-east-1'})
  opened.push(storage)
  return storage
}

/** Runs a command in this process with `--json`; a failure's `{"error": …}` document is parsed into `error`. */
async function run<T>(store: Store, args: string[]): Promise<{result?: T; exitCode: number; error?: {code?: string; message: string}; stderr: string; stdout: string}> {
  if (store.endpoint) useS3Env(store.endpoint)
  // A failed command prints its error document after the run's own capture has ended: caught here.
  let printed = ''
  const log = console.log
  console.log = (...parts: unknown[]) => {
    printed += parts.join(' ') + '\n'
  }
  let out
  try {
    out = await runInProcess<T>([...args, '--json'])
  } finally {
    console.log = log
  }
  const document = out.exitCode === 0 ? undefined : (JSON.parse(out.stdout || printed) as {error?: {code?: string; message: string}})
  return {...out, error: document?.error}
}

/** Every key under a storage with its ETag (local: size and mtime): equal snapshots mean nothing was added or rewritten. */
async function snapshot(storage: Storage, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  for await (const info of storage.list(prefix)) keys.push(`${info.key} ${info.size} ${info.etag}`)
  return keys
}

/** The records of every gzip JSONL output under a storage, as sorted lines (a multiset). */
async function outputRecords(storage: Storage): Promise<string[]> {
  const lines: string[] = []
  for await (const info of storage.list('')) {
    if (!info.key.endsWith('.jsonl.gz') || isBookkeepingKey(info.key)) continue
    lines.push(
      ...gunzipSync(await storage.readBytes(info.key))
        .toString('utf8')
        .split('\n')
        .filter(Boolean),
    )
  }
  return lines.sort()
}

async function manifests(storage: Storage): Promise<OutputManifest[]> {
  const found: OutputManifest[] = []
  for await (const info of storage.list('_manifests/')) found.push(JSON.parse((await storage.readBytes(info.key)).toString('utf8')) as OutputManifest)
  return found
}

/**
 * JSON raw objects a `json` source (any key with a date is an object) takes: six over three days, at the root and
 * in a folder, each an array of two records. Day outputs (`2021-11-10.jsonl.gz`) and their manifests carry dates too.
 */
async function putJsonRaw(storage: Storage): Promise<string[]> {
  const keys: string[] = []
  for (const day of ['10', '11', '12']) {
    for (const [n, key] of [`ev-2021-11-${day}T01.json`, `raw/ev-2021-11-${day}T02.json`].entries()) {
      await storage.write(
        key,
        JSON.stringify([
          {day: Number(day), n, i: 0},
          {day: Number(day), n, i: 1},
        ]),
      )
      keys.push(key)
    }
  }
  return keys
}

describe('the overlap rule: one place, however it is written', () => {
  it('tells apart, inside, around and the same place, for local spellings (relative, trailing slash, file://, symlink, dot segments) and S3 ones', async () => {
    const root = await tempDir()
    await fs.mkdir(path.join(root, 'in', 'out'), {recursive: true})
    await fs.symlink(path.join(root, 'in'), path.join(root, 'link'))
    const input = await openStorage(path.join(root, 'in'))
    const abs = path.join(root, 'in', 'out')
    const spellings = [
      path.relative(process.cwd(), abs),
      path.relative(process.cwd(), abs) + '/',
      pathToFileURL(abs).href,
      path.join(root, 'link', 'out'),
      path.join(root, 'in', '.', 'x', '..', 'out'),
      path.join(root, 'link', 'not-yet', 'deeper'),
    ]
    for (const spelling of spellings) {
      const overlap = await locationOverlap(input, await openStorage(spelling))
      expect(overlap.kind, spelling).toBe('output-inside-input')
      expect(overlap.outputPrefix, spelling).toBe(spelling.endsWith('deeper') ? 'not-yet/deeper/' : 'out/')
      expect(overlap.excludesInput(spelling.endsWith('deeper') ? 'not-yet/deeper/2021-11-10.jsonl.gz' : 'out/2021-11-10.jsonl.gz')).toBe(true)
      expect(overlap.excludesInput('outside/ev-2021-11-10.json')).toBe(false)
    }
    for (const same of [path.join(root, 'in') + '/', path.join(root, 'link'), pathToFileURL(path.join(root, 'in')).href]) {
      expect((await locationOverlap(input, await openStorage(same))).kind, same).toBe('same')
    }
    const around = await locationOverlap(input, await openStorage(root))
    expect([around.kind, around.inputPrefix]).toEqual(['input-inside-output', 'in/'])
    expect(around.excludesOutput('in/ev-2021-11-10.json')).toBe(true)
    expect(around.excludesOutput('link/ev-2021-11-10.json')).toBe(false)
    // A sibling whose name starts with the input's is elsewhere, not inside.
    expect((await locationOverlap(input, await openStorage(path.join(root, 'in2')))).kind).toBe('apart')

    const bucket = await openStorage('s3://bkt/', {endpoint: 'http://127.0.0.1:9', region: 'us-east-1'})
    for (const spelling of ['s3://bkt/v2', 's3://bkt/v2/', 'S3://bkt/v2']) {
      const overlap = await locationOverlap(bucket, await openStorage(spelling, {endpoint: 'http://127.0.0.1:9', region: 'us-east-1'}))
      expect([overlap.kind, overlap.outputPrefix], spelling).toEqual(['output-inside-input', 'v2/'])
    }
    expect((await locationOverlap(bucket, await openStorage('s3://bkt', {endpoint: 'http://127.0.0.1:9'}))).kind).toBe('same')
    expect((await locationOverlap(bucket, await openStorage('s3://ccc/v2/', {endpoint: 'http://127.0.0.1:9'}))).kind).toBe('apart')
    expect((await locationOverlap(bucket, input)).kind).toBe('apart')
    expect((await locationOverlap(await openStorage('s3://bkt/v2', {endpoint: 'http://127.0.0.1:9'}), await openStorage('s3://bkt/v', {endpoint: 'http://127.0.0.1:9'}))).kind).toBe('apart')
  })

  it('leaves out every _manifests/ folder and our temp files, wherever they lie, and compact hides them too', async () => {
    const overlap = await locationOverlap({uri: 's3://bkt/'}, {uri: 's3://other/'})
    for (const key of ['_manifests/2021-11-10.jsonl.gz.json', 'deep/er/_manifests/x-2021-11-10.json', 'a/.bw-tmp-0011aabb-12-ff-2021-11-10.json.tmp']) {
      expect(overlap.excludesInput(key), key).toBe(true)
      expect(isHiddenKey(key), key).toBe(true)
    }
    for (const key of ['my_manifests/ev-2021-11-10.json', '_manifestsX/ev-2021-11-10.json', 'ev-2021-11-10.json']) expect(overlap.excludesInput(key), key).toBe(false)
  })
})

describe.each(STORES)('convert, output inside its input ($name)', {timeout: 60_000}, (store) => {
  it('json source (matches any key): three runs into in/out give the records of one run elsewhere; nothing of out/ is read, nothing grows', async () => {
    const root = await freshRoot(store)
    const input = await open(`${root}in/`, store)
    const rawKeys = await putJsonRaw(input)
    const inside = `${root}in/out/`
    const statuses: string[][] = []
    const snapshots: string[][] = []
    for (let i = 0; i < 3; i++) {
      const {result, exitCode, stderr} = await run<ConvertResult>(store, ['convert', `${root}in`, inside, '--source', 'json', '--bucket', 'day', '--threads', '0'])
      expect(exitCode, stderr).toBe(0)
      expect(result!.objects, `run ${i + 1}`).toBe(rawKeys.length)
      expect(result!.quarantined).toBe(0)
      statuses.push(result!.buckets.map((bucket) => `${bucket.key} ${bucket.status} ${bucket.objects}`))
      snapshots.push(await snapshot(input))
    }
    expect(statuses[0]).toEqual(['2021-11-10 written 2', '2021-11-11 written 2', '2021-11-12 written 2'])
    expect(statuses[1]).toEqual(statuses[0].map((line) => line.replace('written', 'skipped')))
    expect(statuses[2]).toEqual(statuses[1])
    expect(snapshots[1]).toEqual(snapshots[0])
    expect(snapshots[2]).toEqual(snapshots[0])

    const separate = await freshRoot(store)
    const once = await run<ConvertResult>(store, ['convert', `${root}in/`, `${separate}once/`, '--source', 'json', '--bucket', 'day', '--threads', '0'])
    expect(once.exitCode, once.stderr).toBe(0)
    const output = await open(inside, store)
    const records = await outputRecords(output)
    expect(records).toHaveLength(12)
    expect(records).toEqual(await outputRecords(await open(`${separate}once/`, store)))
    const written = await manifests(output)
    expect(written.reduce((sum, manifest) => sum + manifest.counts.objects, 0)).toBe(rawKeys.length)
    expect(written.flatMap((manifest) => manifest.inputs.map((input) => input.key)).sort()).toEqual([...rawKeys].sort())
    expect(written.flatMap((manifest) => manifest.quarantined)).toEqual([])
  })

  it('bustimes: s3://b/ → s3://b/v2/ three times equals one run elsewhere; an output that holds the raw objects is refused', async () => {
    const root = await freshRoot(store)
    const input = await open(root, store)
    await writeGenerated(bustimesSource, input, {range: {from: new Date('2021-11-11T22:00:00Z'), to: new Date('2021-11-12T02:00:00Z')}, seed: 3, rate: 2})
    const rawCount = (await snapshot(input)).length
    expect(rawCount).toBe(8)
    for (let i = 0; i < 3; i++) {
      const {result, exitCode, stderr} = await run<ConvertResult>(store, ['convert', root, `${root}v2`, '--source', 'bustimes', '--bucket', 'day', '--threads', '0'])
      expect(exitCode, stderr).toBe(0)
      expect(result!.objects).toBe(rawCount)
      expect(result!.buckets.map((bucket) => bucket.status)).toEqual(i === 0 ? ['written', 'written'] : ['skipped', 'skipped'])
    }
    const separate = await freshRoot(store)
    expect((await run<ConvertResult>(store, ['convert', root, `${separate}once`, '--source', 'bustimes', '--bucket', 'day', '--threads', '0'])).exitCode).toBe(0)
    expect(await outputRecords(await open(`${root}v2/`, store))).toEqual(await outputRecords(await open(`${separate}once/`, store)))
    expect((await manifests(await open(`${root}v2/`, store))).reduce((sum, manifest) => sum + manifest.counts.objects, 0)).toBe(rawCount)

    // raw/ holds the source's objects (raw/bustimes__…): left out of the listing, they would be skipped unseen.
    const before = await snapshot(input)
    const refused = await run<ConvertResult>(store, ['convert', root, `${root}raw/`, '--source', 'bustimes', '--bucket', 'day'])
    expect([refused.exitCode, refused.error?.code]).toEqual([2, 'OUTPUT_HOLDS_INPUT'])
    expect(await snapshot(input)).toEqual(before)
  })

  it('refuses the input itself, a key template reaching into the input, and an output folder holding raw objects it did not write', async () => {
    const root = await freshRoot(store)
    const input = await open(`${root}data/`, store)
    await putJsonRaw(await open(`${root}data/raw/`, store))
    const before = await snapshot(input)
    const same = await run(store, ['convert', `${root}data/`, `${root}data`, '--source', 'json', '--bucket', 'day'])
    expect([same.exitCode, same.error?.code]).toEqual([2, 'OUTPUT_IS_INPUT'])
    const reaching = await run(store, ['convert', `${root}data/raw`, `${root}data`, '--source', 'json', '--bucket', 'day', '--key-template', 'raw/{YYYY}-{MM}-{DD}.jsonl.gz'])
    expect([reaching.exitCode, reaching.error?.code]).toEqual([2, 'OUTPUT_IN_INPUT'])
    expect(await snapshot(input)).toEqual(before)
    // Raw objects already in the output folder: left out of the listing, their records would be missing unseen.
    await input.write('raw/out/late-2021-11-12T09.json', '[{"late":true}]')
    const withLate = await snapshot(input)
    const holding = await run(store, ['convert', `${root}data/raw`, `${root}data/raw/out`, '--source', 'json', '--bucket', 'day'])
    expect([holding.exitCode, holding.error?.code]).toEqual([2, 'OUTPUT_HOLDS_INPUT'])
    expect(holding.error?.message).toContain('late-2021-11-12T09.json')
    expect(await snapshot(input)).toEqual(withLate)
    await input.delete(['raw/out/late-2021-11-12T09.json'])

    // The output around the input with the default template is fine: outputs land beside raw/, never in it.
    for (let i = 0; i < 3; i++) {
      const {result, exitCode, stderr} = await run<ConvertResult>(store, ['convert', `${root}data/raw`, `${root}data`, '--source', 'json', '--bucket', 'day', '--threads', '0'])
      expect(exitCode, stderr).toBe(0)
      expect(result!.objects).toBe(6)
    }
  })
})

describe('convert: every spelling of an output inside the input is one place', () => {
  it('relative, trailing slash, file:// (with and without a slash), through a symlink, with dot segments: three runs each, never reading back', async () => {
    const root = await tempDir()
    const input = await openStorage(path.join(root, 'in'))
    opened.push(input)
    const rawKeys = await putJsonRaw(input)
    await fs.symlink(path.join(root, 'in'), path.join(root, 'link'))
    const abs = (name: string) => path.join(root, 'in', name)
    const variants: [string, string][] = [
      ['relative', path.relative(process.cwd(), abs('rel'))],
      ['trailing slash', abs('slash') + '/'],
      ['file://', pathToFileURL(abs('url')).href],
      ['file:// with a slash', pathToFileURL(abs('urlslash')).href + '/'],
      ['symlink', path.join(root, 'link', 'sym')],
      ['dot segments', path.join(root, 'in', '.', 'x', '..', 'dots')],
    ]
    for (const [name, output] of variants) {
      for (let i = 0; i < 3; i++) {
        const {result, exitCode, stderr} = await run<ConvertResult>({name: 'local'}, ['convert', path.join(root, 'link'), output, '--source', 'json', '--bucket', 'day', '--threads', '0'])
        expect(exitCode, `${name}: ${stderr}`).toBe(0)
        // The earlier variants' folders lie in the input too, with outputs a json listing takes: they are left out
        // by their manifests (an earlier run's output folder), this run's own folder as the output location.
        expect([name, result!.objects, result!.quarantined]).toEqual([name, rawKeys.length, 0])
        expect(
          result!.buckets.map((bucket) => bucket.status),
          name,
        ).toEqual(Array(3).fill(i === 0 ? 'written' : 'skipped'))
        const manifest = JSON.parse(await fs.readFile(path.join(root, 'in', name === 'relative' ? 'rel' : path.basename(output.replace(/\/$/, '')), '_manifests', '2021-11-10.jsonl.gz.json'), 'utf8')) as OutputManifest
        expect(manifest.inputs.map((input) => input.key).sort(), name).toEqual(['ev-2021-11-10T01.json', 'raw/ev-2021-11-10T02.json'])
      }
    }
  })
})

/** Copies every object under `prefix` of one storage to another, same keys. */
async function copyAll(from: Storage, to: Storage, prefix = ''): Promise<void> {
  for await (const info of from.list(prefix)) await to.write(info.key, await from.readBytes(info.key))
}

describe.each(STORES)('compact in place, three times ($name)', {timeout: 60_000}, (store) => {
  it('leaves _manifests/ and temp files out, and a second and third run change nothing: the rows of one run', async () => {
    const root = await freshRoot(store)
    const storage = await open(root, store)
    const days = [daysAgo(3), daysAgo(4)]
    for (const day of days) for (let i = 0; i < 3; i++) await putNdjson(storage, `staging/${day}/batch_${i}.ndjson`, i * 20, 20)
    const reference = await open(await freshRoot(store), store)
    await copyAll(storage, reference)
    // What no listing may take as an input: a staging-shaped file under _manifests/, and a temp file of ours.
    await putNdjson(storage, `_manifests/staging/${days[0]}/stray.ndjson`, 1000, 5)
    await putNdjson(storage, `staging/${days[0]}/.bw-tmp-0011aabb-1-ab-batch_9.ndjson`, 2000, 5)

    const snapshots: string[][] = []
    for (let i = 0; i < 3; i++) {
      const {result, exitCode, stderr} = await run<CompactResult>(store, ['compact', root, '--threads', '1'])
      expect(exitCode, stderr).toBe(0)
      expect(result!.partitions.map((partition) => [partition.partition, partition.status, partition.rows ?? 0])).toEqual(
        days.sort().map((day) => [`staging/${day}/`, i === 0 ? 'compacted' : 'up-to-date', i === 0 ? 60 : 0]),
      )
      snapshots.push(await snapshot(storage))
    }
    expect(snapshots[1]).toEqual(snapshots[0])
    expect(snapshots[2]).toEqual(snapshots[0])
    expect(snapshots[0].filter((line) => line.includes('stray.ndjson') || line.includes('.bw-tmp-')).length).toBe(store.name === 'local' ? 1 : 2)

    const once = await run<CompactResult>(store, ['compact', reference.uri, '--threads', '1'])
    expect(once.exitCode, JSON.stringify(once.error ?? once.result)).toBe(0)
    for (const day of days) {
      const manifestKey = `_manifests/staging/${day}/_compaction.json`
      const [ours, once] = await Promise.all(
        [storage.readBytes(manifestKey), reference.readBytes(manifestKey)].map(async (bytes) => JSON.parse((await bytes).toString('utf8')) as {checksum: unknown; inputs: {key: string}[]}),
      )
      expect(ours.checksum).toEqual(once.checksum)
      expect(ours.inputs.map((input) => input.key)).toEqual(once.inputs.map((input) => input.key))
    }
  })
})

/** Rows per Parquet output of an etl destination, from the manifests beside them. */
async function etlRows(storage: Storage): Promise<Record<string, number>> {
  const rows: Record<string, number> = {}
  for (const manifest of await manifests(storage)) rows[manifest.output.key] = manifest.counts.records
  return rows
}

describe.each(STORES)('etl with its Parquet inside the segments folder ($name)', {timeout: 60_000}, (store) => {
  it('three runs give the files of one run elsewhere, and its files hide no new segment', async () => {
    const root = await freshRoot(store)
    const storage = await open(root, store)
    await writeGenerated(coinbaseSource(), storage, {range: {from: new Date('2021-11-10T07:00:00Z'), to: new Date('2021-11-10T09:00:00Z')}, seed: 5, rate: 120})
    const reference = await open(await freshRoot(store), store)
    await copyAll(storage, reference)
    const to = `${root}raw/ready/coinbase/`
    const snapshots: string[][] = []
    for (let i = 0; i < 3; i++) {
      const {result, exitCode, stderr} = await run<EtlResult>(store, ['etl', root, '--source', 'coinbase', '--to', to, '--concurrency', '1'])
      expect(exitCode, stderr).toBe(0)
      expect([result!.totals.segments, result!.totals.failed, result!.totals.quarantined]).toEqual([i === 0 ? 2 : 0, 0, 0])
      snapshots.push(await snapshot(storage))
    }
    expect(snapshots[1]).toEqual(snapshots[0])
    expect(snapshots[2]).toEqual(snapshots[0])
    expect((await run<EtlResult>(store, ['etl', reference.uri, '--source', 'coinbase', '--to', `${reference.uri}elsewhere/`, '--concurrency', '1'])).exitCode).toBe(0)
    const rows = await etlRows(await open(to, store))
    expect(Object.keys(rows).length).toBeGreaterThan(2)
    expect(rows).toEqual(await etlRows(await open(`${reference.uri}elsewhere/`, store)))

    // Its files in the segments folder hide no new segment: the next one is loaded, and only it.
    await writeGenerated(coinbaseSource(), storage, {range: {from: new Date('2021-11-10T09:00:00Z'), to: new Date('2021-11-10T10:00:00Z')}, seed: 6, rate: 60})
    const next = await run<EtlResult>(store, ['etl', root, '--source', 'coinbase', '--to', to, '--concurrency', '1'])
    expect(next.result!.segments.map((segment) => [segment.segment, segment.status])).toEqual([['segment_20211110T09_0.ndjson', 'done']])
  })
})

describe.each(STORES)('verify --raw beside the outputs ($name)', {timeout: 60_000}, (store) => {
  it('outputs inside the raw location are not raw objects, raw objects inside the output location are not outputs', async () => {
    const root = await freshRoot(store)
    await putJsonRaw(await open(`${root}in/`, store))
    expect((await run(store, ['convert', `${root}in`, `${root}in/out`, '--source', 'json', '--bucket', 'day', '--threads', '0'])).exitCode).toBe(0)
    const inside = await run<VerifyResult>(store, ['verify', `${root}in/out`, '--raw', `${root}in`, '--source', 'json', '--schema-sample', '0'])
    expect(inside.exitCode, inside.stderr).toBe(0)
    expect(inside.result!.buckets.map((bucket) => [bucket.key, bucket.rawObjects, bucket.rawRecords, bucket.records])).toEqual(['2021-11-10', '2021-11-11', '2021-11-12'].map((day) => [day, 2, 4, 4]))

    // ndjson raw objects in data/raw/, outputs beside them in data/: the raw .ndjson files are not outputs.
    const raw = await open(`${root}data/raw/`, store)
    for (const day of ['10', '11']) await raw.write(`ev-2021-11-${day}T01.ndjson`, `{"day":${day}}\n{"day":${day}}\n{"day":${day}}\n`)
    expect((await run(store, ['convert', `${root}data/raw`, `${root}data`, '--source', 'ndjson', '--bucket', 'day', '--threads', '0'])).exitCode).toBe(0)
    const around = await run<VerifyResult>(store, ['verify', `${root}data`, '--raw', `${root}data/raw/`, '--source', 'ndjson', '--schema-sample', '0'])
    expect(around.exitCode, around.stderr).toBe(0)
    expect(around.result!.totals.files).toBe(2)
    expect(around.result!.buckets.map((bucket) => [bucket.output, bucket.rawObjects, bucket.rawRecords, bucket.records])).toEqual([
      ['2021-11-10.jsonl.gz', 1, 3, 3],
      ['2021-11-11.jsonl.gz', 1, 3, 3],
    ])
  })
})

describe.each(s3Servers())('fetch into a folder of the location ($name)', {timeout: 60_000}, (server) => {
  const store: Store = {name: server.name, endpoint: server.endpoint}
  it('three fetches copy the raw objects once each, never the copies; the location itself or a folder of its objects is refused', async () => {
    const root = await freshRoot(store)
    const storage = await open(root, store)
    const rawKeys = await putJsonRaw(storage)
    const fetch = (to: string, ...extra: string[]) => run<FetchResult>(store, ['fetch', root, to, '--source', 'json', '--from', '2021-11-10', '--to', '2021-11-13', '--no-cache', ...extra])
    const snapshots: string[][] = []
    for (let i = 0; i < 3; i++) {
      const {result, exitCode, stderr} = await fetch(`${root}copy`)
      expect(exitCode, stderr).toBe(0)
      expect(result!.objects).toBe(rawKeys.length)
      snapshots.push(await snapshot(storage))
    }
    expect(snapshots[2]).toEqual(snapshots[0])
    expect(snapshots[0].map((line) => line.split(' ')[0]).filter((key) => key.startsWith('copy/'))).toEqual(rawKeys.map((key) => `copy/${key}`).sort())

    const before = await snapshot(storage)
    const same = await fetch(root.slice(0, -1))
    expect([same.exitCode, same.error?.code]).toEqual([2, 'OUTPUT_IS_INPUT'])
    const holding = await fetch(`${root}raw/`, '--source-option', 'prefix=raw/')
    expect([holding.exitCode, holding.error?.code]).toEqual([2, 'OUTPUT_HOLDS_INPUT'])
    expect(await snapshot(storage)).toEqual(before)
  })
})
