import fs from 'node:fs/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {readCompactionManifest} from '../../src/plugins/core/compact/manifest.js'
import {type CompactResult} from '../../src/plugins/core/compact/result.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, s3Env, useS3Env} from '../helpers/s3.js'
import {codecOf, columnTypes, daysAgo, keysOf, localCopies, putNdjson, putParquet, removeTempDirs, rowDifference, rowSummary, tempDir, testCompactor} from './fixtures.js'

let bucket: string
let prefixCount = 0
const opened: Storage[] = []

beforeAll(async () => {
  useS3Env()
  bucket = await createTestBucket('bw-compact')
})
afterAll(async () => {
  await Promise.all(opened.map((storage) => storage.close()))
  await removeTempDirs()
})

/** A fresh dataset root in the test bucket. */
async function dataset(): Promise<{uri: string; storage: Storage}> {
  const uri = `s3://${bucket}/set-${++prefixCount}/`
  const storage = await openStorage(uri, {endpoint: s3Endpoint(), retryBaseMs: 5})
  opened.push(storage)
  return {uri, storage}
}

async function stagingDay(storage: Storage, day: string, count: number, rowsEach: number, firstId = 0): Promise<string[]> {
  const keys = Array.from({length: count}, (_, index) => `staging/${day}/batch_${String(index).padStart(6, '0')}.parquet`)
  await Promise.all(keys.map((key, index) => putParquet(storage, key, firstId + index * rowsEach, rowsEach)))
  return keys
}

describe('compact on S3 (loopback server)', () => {
  it('merges many small nested Parquet objects into one verified zstd file; the spool and DuckDB leave no temp files', async () => {
    const {uri, storage} = await dataset()
    const day = daysAgo(2)
    const inputs = await stagingDay(storage, day, 60, 25)
    const before = await localCopies(storage, inputs)
    const tmp = await tempDir('bw-compact-tmp-')

    const run = await runCli(['compact', uri, '--json', '--disk-budget', '50MB', '--memory-limit', '256MB'], {env: {...s3Env(), TMPDIR: tmp}})
    expect(run.code, run.stderr).toBe(0)
    const [partition] = (JSON.parse(run.stdout) as CompactResult).partitions
    expect(partition).toMatchObject({status: 'compacted', rows: 1500, deleted: 60})
    expect(partition.inputs.every((input) => /^[0-9a-f]{32}$/.test(input.etag ?? ''))).toBe(true)
    expect(await fs.readdir(tmp)).toEqual([])

    expect(await keysOf(storage)).toEqual([`_manifests/compacted/${day}.parquet.json`, `_manifests/staging/${day}/_compaction.json`, `compacted/${day}.parquet`])
    const [output] = await localCopies(storage, [`compacted/${day}.parquet`])
    expect(await rowDifference(before, [output])).toBe(0)
    expect((await columnTypes([output])).position).toBe('STRUCT(lat DOUBLE, lon DOUBLE, meta STRUCT(speed INTEGER, tags VARCHAR[]))')
    expect(await codecOf(output)).toBe('ZSTD')
    // The core per-output manifest: inputs with ETags, record count, the stored object's checksums.
    const manifest = JSON.parse((await storage.readBytes(`_manifests/compacted/${day}.parquet.json`)).toString())
    expect(manifest).toMatchObject({command: 'compact', counts: {objects: 60, records: 1500}, output: {key: `compacted/${day}.parquet`, format: 'parquet', compression: 'zstd'}})
    expect(manifest.inputs).toEqual(partition.inputs)
  })

  it("Hive partitions of NDJSON, JSONL.gz and drifting Parquet compact in place; today's partition is untouched", async () => {
    const {uri, storage} = await dataset()
    const old = `level2/product_id=ETH-USD/date=${daysAgo(5)}/`
    const today = `level2/product_id=ETH-USD/date=${daysAgo(0)}/`
    await putNdjson(storage, `${old}seg_1.ndjson`, 0, 40)
    await putNdjson(storage, `${old}seg_2.jsonl.gz`, 40, 40)
    await putParquet(storage, `${old}seg_3.parquet`, 80, 20, 'drifted')
    await putNdjson(storage, `${today}seg_9.ndjson`, 500, 5)
    await putNdjson(storage, `${today}seg_10.ndjson`, 505, 5)
    const before = await localCopies(storage, await keysOf(storage, old))

    const run = await runInProcess<CompactResult>(['compact', uri, '--json'])
    expect(run.exitCode).toBe(0)
    const statuses = Object.fromEntries(run.result!.partitions.map((entry) => [entry.partition, entry.status]))
    expect(statuses).toEqual({[old]: 'compacted', [today]: 'too-recent'})
    const left = await keysOf(storage, old)
    expect(left).toEqual([expect.stringMatching(/part-compacted-[0-9a-f]{16}\.parquet$/)])
    const output = await localCopies(storage, left)
    expect(await rowDifference(before, output)).toBe(0)
    expect(await rowSummary(output)).toEqual({rows: 100, distinctIds: 100, idSum: 4950})
    expect((await columnTypes(output)).position).toMatch(/^STRUCT\(lat DOUBLE, lon DOUBLE, meta STRUCT/)
    expect(await keysOf(storage, today)).toHaveLength(2)
  })

  it('deletes in batches (one DeleteObjects per --delete-batch keys), and --dry-run predicts the requests', async () => {
    const {uri, storage} = await dataset()
    const inputs = await stagingDay(storage, daysAgo(3), 9, 4)
    const proxy = await new FaultProxy(s3Endpoint()).start()
    try {
      const plan = await runInProcess<CompactResult>(['compact', uri, '--dry-run', '--delete-batch', '4', '--json', '--endpoint', proxy.endpoint])
      expect(plan.result!.partitions[0]).toMatchObject({status: 'would-compact', requests: {get: 10, delete: 3}})
      expect(plan.result!.requests?.estimatedCostUsd).toBeGreaterThan(0)
      expect(proxy.count((request) => request.method === 'GET' && !request.url.includes('list-type'))).toBe(0)
      expect(await keysOf(storage, 'staging/')).toEqual(inputs)

      proxy.requests.length = 0
      const run = await runInProcess<CompactResult>(['compact', uri, '--delete-batch', '4', '--json', '--endpoint', proxy.endpoint])
      expect(run.result!.partitions[0].deleted).toBe(9)
      expect(proxy.count((request) => request.method === 'POST' && request.url.includes('delete'))).toBe(3)
    } finally {
      await proxy.stop()
    }
  })

  it('re-compacts a day with its compacted file and late objects: staged pending copy, moved into place, no row doubled', async () => {
    const {uri, storage} = await dataset()
    const day = daysAgo(2)
    const first = await localCopies(storage, await stagingDay(storage, day, 5, 10))
    expect((await runInProcess(['compact', uri])).exitCode).toBe(0)
    await putParquet(storage, `staging/${day}/late_a.parquet`, 700, 6)
    await putParquet(storage, `staging/${day}/late_b.parquet`, 800, 6, 'drifted')
    const late = await localCopies(storage, [`staging/${day}/late_a.parquet`, `staging/${day}/late_b.parquet`])
    const crashed = await runCli(['compact', uri], {env: {...s3Env(), BUCKETWRIGHT_TEST_CRASH_AT: 'after-verified'}})
    expect(crashed.code).not.toBe(0)
    expect((await keysOf(storage, 'compacted/')).some((key) => key.includes('_pending.'))).toBe(true)

    const rerun = await runInProcess<CompactResult>(['compact', uri, '--json'])
    expect(rerun.result!.partitions[0]).toMatchObject({status: 'compacted', recovered: 'finished', rows: 62})
    expect(await keysOf(storage)).toEqual([`_manifests/compacted/${day}.parquet.json`, `_manifests/staging/${day}/_compaction.json`, `compacted/${day}.parquet`])
    expect(await rowDifference([...first, ...late], await localCopies(storage, [`compacted/${day}.parquet`]))).toBe(0)
    expect((await readCompactionManifest(storage, {id: `staging/${day}/`, layout: 'staging', prefixes: []}))?.state).toBe('done')
  })

  it('an object that arrives after the listing is not deleted, and is merged with the compacted file next run', async () => {
    const {uri, storage} = await dataset()
    const day = daysAgo(2)
    const before = await localCopies(storage, await stagingDay(storage, day, 5, 8))
    const compactor = await testCompactor(storage)
    const [summary] = await compactor.discover()
    const late = `staging/${day}/batch_late.parquet`
    await putParquet(storage, `_later/${late}`, 9000, 4)
    let arrival: Promise<void> | undefined
    const result = await compactor.compact(summary, (message) => {
      // Arrives (server-side copy) while the merged file is being verified.
      if (message === 'verifying' && !arrival) arrival = storage.copy(`_later/${late}`, late)
    })
    await arrival
    await compactor.close()
    expect(result).toMatchObject({status: 'compacted', rows: 40, deleted: 5})
    expect(await keysOf(storage, `staging/${day}/`)).toEqual([late])
    const lateRows = await localCopies(storage, [late])

    const next = await runInProcess<CompactResult>(['compact', uri, '--json'])
    expect(next.result!.partitions[0]).toMatchObject({status: 'compacted', rows: 44, deleted: 1})
    expect(await keysOf(storage, 'staging/')).toEqual([])
    expect(await rowDifference([...before, ...lateRows], await localCopies(storage, [`compacted/${day}.parquet`]))).toBe(0)
  })

  it.each(['after-merge', 'after-upload', 'mid-delete'])('a crash %s on S3 is finished by the rerun: nothing lost, nothing doubled', async (point) => {
    const {uri, storage} = await dataset()
    const day = daysAgo(2)
    const before = await localCopies(storage, await stagingDay(storage, day, 6, 10))
    const crashed = await runCli(['compact', uri, '--delete-batch', '2'], {env: {...s3Env(), BUCKETWRIGHT_TEST_CRASH_AT: point}})
    expect(crashed.code).not.toBe(0)
    const rerun = await runCli(['compact', uri, '--delete-batch', '2', '--json'], {env: s3Env()})
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(await keysOf(storage, 'staging/')).toEqual([])
    expect(await rowDifference(before, await localCopies(storage, [`compacted/${day}.parquet`]))).toBe(0)
  })

  it('a corrupted output on S3: exit 3, no object written, no input deleted', async () => {
    const {uri, storage} = await dataset()
    const inputs = await stagingDay(storage, daysAgo(2), 4, 10)
    const run = await runCli(['compact', uri, '--json'], {env: {...s3Env(), BUCKETWRIGHT_TEST_CORRUPT: 'drop-row'}})
    expect(run.code).toBe(3)
    expect((JSON.parse(run.stdout) as CompactResult).partitions[0].status).toBe('verification-failed')
    expect(await keysOf(storage)).toEqual(inputs)
  })

  it('a partition larger than --disk-budget fails with an actionable error and deletes nothing', async () => {
    const {uri, storage} = await dataset()
    const inputs = await stagingDay(storage, daysAgo(2), 4, 200)
    const run = await runInProcess<CompactResult>(['compact', uri, '--disk-budget', '5KB', '--json'])
    expect(run.exitCode).toBe(1)
    expect(run.result!.partitions[0]).toMatchObject({status: 'failed', error: {code: 'SPOOL_BUDGET'}})
    expect(await keysOf(storage)).toEqual(inputs)
  })
})
