import fs from 'node:fs/promises'
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import bustimesSource from '../../src/plugins/bustimes/index.js'
import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import type {CompactResult} from '../../src/plugins/core/compact/result.js'
import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {manifestKeyFor} from '../../src/plugins/core/manifest/manifest.js'
import {runInProcess} from '../helpers/cli.js'
import {daysAgo, keysOf, putParquet, removeTempDirs} from '../compact/fixtures.js'
import {openMemory} from '../helpers/memory-storage.js'

/**
 * A backend added by one file and one registration line (test/helpers/memory-storage.ts) runs a real command: convert
 * from mem:// to mem:// writes the same records as local disk to local disk, with no service naming the backend.
 */
describe('a new storage backend (mem://) through a real command', () => {
  const bucket = `bw-mem-${process.pid}`
  let root: string
  let local: LocalStorage
  let raw: Storage

  beforeAll(async () => {
    // The commands run in this process from dist/, loaded by Node itself: the backend is registered there too, with
    // the same one line (required, not imported, so that the test runner does not load a copy of its own).
    const dist = createRequire(import.meta.url)('../../dist/plugins/core/storage/open.js') as typeof import('../../src/plugins/core/storage/open.js')
    dist.registerStorageScheme('mem', openMemory)
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-mem-'))
    local = new LocalStorage(path.join(root, 'raw'))
    raw = await openStorage(`mem://${bucket}/raw/`)
    // One ISO week of bustimes snapshots, every 6 hours, the same objects in both stores.
    for await (const object of bustimesSource.generate!({range: {from: new Date('2021-11-15T00:00:00Z'), to: new Date('2021-11-22T00:00:00Z')}, rate: 1 / 6, seed: 5})) {
      await raw.write(object.key, object.body)
      await local.write(object.key, object.body)
    }
  })

  afterAll(async () => {
    await fs.rm(root, {recursive: true, force: true})
    await removeTempDirs()
  })

  const records = async (storage: Storage, key: string) => zlib.gunzipSync(await storage.readBytes(key)).toString('utf8')

  it('converts mem:// to mem:// with the records local disk gives', async () => {
    const memRun = await runInProcess<ConvertResult>(['convert', `mem://${bucket}/raw/`, `mem://${bucket}/out/`, '--source', 'bustimes', '--to', '2021-11-22', '--json'])
    expect(memRun.exitCode, memRun.error?.message ?? memRun.stdout).toBe(0)
    const localRun = await runInProcess<ConvertResult>(['convert', local.pathOf(''), path.join(root, 'out'), '--source', 'bustimes', '--to', '2021-11-22', '--json'])
    expect(localRun.exitCode, localRun.error?.message).toBe(0)

    const mem = memRun.result!
    expect(mem.input).toBe(`mem://${bucket}/raw/`)
    expect(mem.buckets.map((entry) => [entry.key, entry.status])).toEqual([['2021-W46', 'written']])
    expect(mem.objects).toBe(28)
    expect(mem.records).toBeGreaterThan(1000)
    expect([mem.objects, mem.records, mem.quarantined]).toEqual([localRun.result!.objects, localRun.result!.records, localRun.result!.quarantined])
    // Requests are planned only for stores that bill them (Storage.stats): memory does not.
    expect(mem.requests).toBeUndefined()

    const out = await openStorage(`mem://${bucket}/out/`)
    const keys: string[] = []
    for await (const info of out.list()) keys.push(info.key)
    expect(keys).toEqual(['2021-W46.jsonl.gz', '_manifests/2021-W46.jsonl.gz.json'])
    const written = await records(out, '2021-W46.jsonl.gz')
    expect(written.split('\n').filter(Boolean)).toHaveLength(mem.records)
    expect(written).toBe(await records(new LocalStorage(path.join(root, 'out')), '2021-W46.jsonl.gz'))
    const manifest = JSON.parse((await out.readBytes('_manifests/2021-W46.jsonl.gz.json')).toString('utf8'))
    expect(manifest.counts).toMatchObject({objects: 28, records: mem.records})

    // A second run finds the manifest in the memory store and skips the week.
    const again = await runInProcess<ConvertResult>(['convert', `mem://${bucket}/raw/`, `mem://${bucket}/out/`, '--source', 'bustimes', '--to', '2021-11-22', '--json'])
    expect(again.result!.buckets.map((entry) => [entry.key, entry.status, entry.reason])).toEqual([['2021-W46', 'skipped', 'up-to-date']])
  }, 120_000)

  it('compacts a mem:// location: inputs fetched to the spool (they are no local files), verified, then deleted', async () => {
    const location = `mem://${bucket}/lake/`
    const lake = await openStorage(location)
    const day = daysAgo(2)
    const inputs = Array.from({length: 5}, (_, index) => `staging/${day}/batch_${index}.parquet`)
    for (const [index, key] of inputs.entries()) await putParquet(lake, key, index * 50, 50)

    // The dry run plans a GET per input, as for any store whose objects are not local files, and changes nothing.
    const plan = await runInProcess<CompactResult>(['compact', location, '--dry-run', '--json'])
    expect(plan.exitCode, plan.error?.message ?? plan.stdout).toBe(0)
    expect(plan.result!.partitions[0]).toMatchObject({partition: `staging/${day}/`, status: 'would-compact', requests: {get: inputs.length + 1}})
    expect(await keysOf(lake)).toEqual(inputs)

    const run = await runInProcess<CompactResult>(['compact', location, '--json'])
    expect(run.exitCode, run.error?.message ?? run.stdout).toBe(0)
    expect(run.result!.partitions[0]).toMatchObject({status: 'compacted', rows: 250, deleted: 5, outputs: [{key: `compacted/${day}.parquet`, rows: 250}]})
    const keys = await keysOf(lake)
    expect(keys.filter((key) => key.startsWith('staging/'))).toEqual([])
    expect(keys).toContain(`compacted/${day}.parquet`)
    expect(keys).toContain(manifestKeyFor(`compacted/${day}.parquet`))
  }, 120_000)

  it('refuses a scheme no backend has, before any request', async () => {
    await expect(openStorage('nope://bucket/prefix/')).rejects.toMatchObject({code: 'BAD_LOCATION'})
    const run = await runInProcess(['convert', 'nope://bucket/raw/', `mem://${bucket}/out2/`, '--source', 'bustimes'])
    expect(run.exitCode).toBe(2)
  })
})
