import fsSync from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {CompactResult} from '../../src/plugins/core/compact/result.js'
import {readCompactionManifest} from '../../src/plugins/core/compact/manifest.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {codecOf, columnTypes, daysAgo, keysOf, putNdjson, putParquet, removeTempDirs, rowDifference, rowSummary, tempDir, testCompactor} from './fixtures.js'

let root: string
let storage: LocalStorage

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-compact-local-'))
  storage = new LocalStorage(root)
})
afterEach(async () => {
  await fs.rm(root, {recursive: true, force: true})
  await removeTempDirs()
})

const files = (keys: string[]) => keys.map((key) => storage.pathOf(key))

async function stagingDay(day: string, count: number, rowsEach: number, firstId = 0): Promise<string[]> {
  const keys: string[] = []
  for (let index = 0; index < count; index++) {
    const key = `staging/${day}/batch_${String(index).padStart(6, '0')}.parquet`
    await putParquet(storage, key, firstId + index * rowsEach, rowsEach)
    keys.push(key)
  }
  return keys
}

/** Copies of the inputs before they are deleted, to compare the compacted rows with. */
async function snapshot(keys: string[]): Promise<string[]> {
  const dir = await tempDir('bw-snapshot-')
  return Promise.all(
    keys.map(async (key, index) => {
      const file = path.join(dir, `${index}-${path.basename(key)}`)
      await fs.copyFile(storage.pathOf(key), file)
      return file
    }),
  )
}

describe('compact on local disk', () => {
  it('merges a past day of small nested Parquet files into compacted/DAY.parquet, verified, and deletes them; today is untouched', async () => {
    const day = daysAgo(2)
    const inputs = await stagingDay(day, 40, 50)
    const today = await stagingDay(daysAgo(0), 3, 10, 100_000)
    const before = await snapshot(inputs)

    const run = await runInProcess<CompactResult>(['compact', root, '--json'])
    expect(run.exitCode).toBe(0)
    const result = run.result!
    const partition = result.partitions.find((entry) => entry.partition === `staging/${day}/`)!
    expect(partition.status).toBe('compacted')
    expect(partition.inputs.map((input) => input.key)).toEqual(inputs)
    expect(partition.inputs.every((input) => input.etag)).toBe(true)
    expect(partition.rows).toBe(2000)
    expect(partition.deleted).toBe(40)
    expect(partition.outputs).toEqual([{key: `compacted/${day}.parquet`, size: expect.any(Number), rows: 2000}])
    expect(result.partitions.find((entry) => entry.partition === `staging/${daysAgo(0)}/`)?.status).toBe('too-recent')

    // Every input gone, today's files all still there, the output holds exactly the input rows.
    expect(await keysOf(storage, `staging/${day}/`)).toEqual([])
    expect(await keysOf(storage, `staging/${daysAgo(0)}/`)).toEqual(today)
    const output = files([`compacted/${day}.parquet`])
    expect(await rowDifference(before, output)).toBe(0)
    expect(await rowSummary(output)).toEqual({rows: 2000, distinctIds: 2000, idSum: (1999 * 2000) / 2})
    // Nested data stays nested: structs and lists, not JSON strings; zstd.
    expect(await columnTypes(output)).toEqual({
      id: 'BIGINT',
      vehicle: 'VARCHAR',
      position: 'STRUCT(lat DOUBLE, lon DOUBLE, meta STRUCT(speed INTEGER, tags VARCHAR[]))',
      codes: 'INTEGER[]',
    })
    expect(await codecOf(output[0])).toBe('ZSTD')

    // The manifest names every input with its ETag and the verified checksum; a rerun has nothing to do.
    const manifest = await readCompactionManifest(storage, {id: `staging/${day}/`, layout: 'staging', prefixes: []})
    expect(manifest?.state).toBe('done')
    expect(manifest?.inputs).toEqual(partition.inputs)
    expect(manifest?.checksum.sum).toBe(partition.checksum)
    const again = await runInProcess<CompactResult>(['compact', root, '--json'])
    expect(again.result!.partitions.find((entry) => entry.partition === `staging/${day}/`)?.status).toBe('up-to-date')
  })

  it('merges drifting schemas by column name, NDJSON and JSONL.gz in a Hive partition, in place', async () => {
    const day = daysAgo(3)
    const dir = `ticker/product_id=BTC-USD/date=${day}/`
    await putParquet(storage, `${dir}a.parquet`, 0, 30, 'nested')
    await putParquet(storage, `${dir}b.parquet`, 30, 30, 'drifted')
    await putNdjson(storage, `${dir}c.ndjson`, 60, 25)
    await putNdjson(storage, `${dir}d.jsonl.gz`, 85, 15)
    const before = await snapshot(await keysOf(storage, dir))

    // The two-pass strategy (inputs read again for their checksum) on this one; single-pass everywhere else.
    const run = await runInProcess<CompactResult>(['compact', root, '--strategy', 'two-pass', '--json'])
    expect(run.exitCode).toBe(0)
    const [partition] = run.result!.partitions
    expect(partition).toMatchObject({partition: dir, layout: 'hive', status: 'compacted', rows: 100, deleted: 4})
    const left = await keysOf(storage, dir)
    expect(left).toHaveLength(1)
    expect(left[0]).toMatch(/^ticker\/product_id=BTC-USD\/date=[\d-]+\/part-compacted-[0-9a-f]{16}\.parquet$/)
    const output = files(left)
    expect(await rowSummary(output)).toEqual({rows: 100, distinctIds: 100, idSum: (99 * 100) / 2})
    const types = await columnTypes(output)
    // Union by name: every column of every input; the partition's key=value folders did not become columns.
    expect(Object.keys(types).sort()).toEqual(['codes', 'id', 'note', 'position', 'speed_kmh', 'vehicle'])
    expect(types.position).toMatch(/^STRUCT\(lat DOUBLE, lon DOUBLE, meta STRUCT\(speed (INTEGER|BIGINT), tags VARCHAR\[\]\)\)$/)
    expect(types.codes).toBe('INTEGER[]')
    // The JSON records' nested objects are structs in Parquet, not strings.
    const [row] = await (await import('./fixtures.js')).query<{lat: number; tag: string}>(`SELECT position.lat AS lat, position.meta.tags[2] AS tag FROM read_parquet('${output[0]}') WHERE id = 61`)
    expect(row).toEqual({lat: 45.561, tag: 'b1'})
    expect(await rowDifference(before, output)).toBe(0)

    // A late segment: merged with the compacted file into a new one; the old file and its manifest go.
    await putNdjson(storage, `${dir}e.ndjson`, 100, 10)
    const late = await snapshot([`${dir}e.ndjson`])
    const again = await runInProcess<CompactResult>(['compact', root, '--json'])
    expect(again.result!.partitions[0]).toMatchObject({status: 'compacted', rows: 110, deleted: 2})
    const now = await keysOf(storage, dir)
    expect(now).toHaveLength(1)
    expect(now[0]).not.toBe(left[0])
    expect(await keysOf(storage, '_manifests/')).toEqual([`_manifests/${dir}_compaction.json`, `_manifests/${now[0]}.json`])
    expect(await rowDifference([...before, ...late], files(now))).toBe(0)
  })

  it('leaves a file that arrived after the listing, and merges it with the compacted file next time (rows not doubled)', async () => {
    const day = daysAgo(2)
    await stagingDay(day, 6, 20)
    // The Compactor service, with a progress callback that drops a late file into the partition mid-run.
    const compactor = await testCompactor(storage)
    const [summary] = await compactor.discover()
    const late = `staging/${day}/batch_late.parquet`
    let dropped = false
    const result = await compactor.compact(summary, (message) => {
      if (message === 'verifying' && !dropped) {
        dropped = true
        void putParquet(storage, late, 10_000, 7)
      }
    })
    await compactor.close()
    expect(dropped).toBe(true)
    expect(result).toMatchObject({status: 'compacted', rows: 120, deleted: 6})
    expect(await keysOf(storage, `staging/${day}/`)).toEqual([late])

    const next = await runInProcess<CompactResult>(['compact', root, '--json'])
    const partition = next.result!.partitions[0]
    expect(partition.status).toBe('compacted')
    expect(partition.inputs.map((input) => input.key)).toEqual([`compacted/${day}.parquet`, late])
    expect(partition.rows).toBe(127)
    expect(await keysOf(storage)).toEqual([`_manifests/compacted/${day}.parquet.json`, `_manifests/staging/${day}/_compaction.json`, `compacted/${day}.parquet`])
    expect(await rowSummary(files([`compacted/${day}.parquet`]))).toMatchObject({rows: 127, distinctIds: 127})
  })

  it('an input replaced while it is merged stops the partition: nothing stored, nothing deleted, the rerun merges the new version once', async () => {
    const day = daysAgo(2)
    const inputs = await stagingDay(day, 4, 10)
    const compactor = await testCompactor(storage)
    const [summary] = await compactor.discover()
    // Another version of inputs[1], written over it (synchronously) as the merge starts.
    await putParquet(storage, `_other/version.parquet`, 7000, 3)
    let replaced = false
    const result = await compactor.compact(summary, (message) => {
      if (message.startsWith('merging') && !replaced) {
        replaced = true
        fsSync.copyFileSync(storage.pathOf('_other/version.parquet'), storage.pathOf(inputs[1]))
      }
    })
    await compactor.close()
    await fs.rm(storage.pathOf('_other'), {recursive: true})
    expect(result).toMatchObject({status: 'failed', error: {code: 'INPUT_CHANGED'}})
    expect(result.error?.message).toContain(inputs[1])
    expect(await keysOf(storage)).toEqual(inputs)
    const rerun = await runInProcess<CompactResult>(['compact', root, '--json'])
    expect(rerun.result!.partitions[0]).toMatchObject({status: 'compacted', rows: 33})
    expect(await rowSummary(files([`compacted/${day}.parquet`]))).toMatchObject({rows: 33, distinctIds: 33})
  })

  it('writes several files of about --target-size, and re-compacts them with late files (pending copies over several outputs)', async () => {
    const day = daysAgo(2)
    const before = await snapshot(await stagingDay(day, 10, 300))
    const flags = ['--target-size', '15KB', '--row-group-size', '500', '--json']
    const first = await runInProcess<CompactResult>(['compact', root, ...flags])
    const outputs = first.result!.partitions[0].outputs.map((output) => output.key)
    expect(outputs.length).toBeGreaterThanOrEqual(2)
    expect(outputs.slice(0, 2)).toEqual([`compacted/${day}.parquet`, `compacted/${day}_1.parquet`])
    expect(await rowDifference(before, files(outputs))).toBe(0)

    await putParquet(storage, `staging/${day}/late.parquet`, 50_000, 100)
    const late = await snapshot([`staging/${day}/late.parquet`])
    const crashed = await runCli(['compact', root, ...flags], {env: {BUCKETWRIGHT_TEST_CRASH_AT: 'after-verified'}})
    expect(crashed.code).not.toBe(0)
    const second = await runInProcess<CompactResult>(['compact', root, ...flags])
    expect(second.result!.partitions[0]).toMatchObject({status: 'compacted', recovered: 'finished', rows: 3100})
    const now = await keysOf(storage, 'compacted/')
    expect(now).toEqual(second.result!.partitions[0].outputs.map((output) => output.key).sort())
    expect(await rowDifference([...before, ...late], files(now))).toBe(0)
    expect(await keysOf(storage, `staging/${day}/`)).toEqual([])
  })

  it('respects --min-files, --min-age and --timezone, and --dry-run changes nothing', async () => {
    await stagingDay(daysAgo(1), 3, 5)
    await stagingDay(daysAgo(4), 1, 5, 1000)
    const dry = await runInProcess<CompactResult>(['compact', root, '--dry-run', '--min-age', '3d', '--json'])
    const byDay = Object.fromEntries(dry.result!.partitions.map((entry) => [entry.date, entry.status]))
    expect(byDay).toEqual({[daysAgo(1)]: 'too-recent', [daysAgo(4)]: 'too-few-files'})
    const plan = await runInProcess<CompactResult>(['compact', root, '--dry-run', '--min-age', '0', '--timezone', 'Pacific/Kiritimati', '--json'])
    expect(plan.result!.partitions.find((entry) => entry.date === daysAgo(1))?.status).toBe('would-compact')
    expect(plan.result!.requests).toMatchObject({list: expect.any(Number), put: expect.any(Number), delete: 1})
    expect(await keysOf(storage, `staging/${daysAgo(1)}/`)).toHaveLength(3)
    const bad = await runInProcess(['compact', root, '--timezone', 'Mars/Olympus'])
    expect(bad.exitCode).toBe(2)
  })

  it('takes settings from flags, then BUCKETWRIGHT_* variables, then commands.compact in the config file', async () => {
    await stagingDay(daysAgo(3), 2, 5)
    const config = path.join(root, '_config.json')
    await fs.writeFile(config, JSON.stringify({commands: {compact: {'min-age': '10d', 'min-files': 1}}}))
    const fromFile = await runInProcess<CompactResult>(['compact', root, '--config', config, '--dry-run', '--json'])
    expect(fromFile.result!.partitions[0].status).toBe('too-recent')
    process.env.BUCKETWRIGHT_MIN_AGE = '2d'
    try {
      const fromEnv = await runInProcess<CompactResult>(['compact', root, '--config', config, '--dry-run', '--json'])
      expect(fromEnv.result!.partitions[0].status).toBe('would-compact')
      const fromFlag = await runInProcess<CompactResult>(['compact', root, '--config', config, '--min-age', '5d', '--dry-run', '--json'])
      expect(fromFlag.result!.partitions[0].status).toBe('too-recent')
    } finally {
      delete process.env.BUCKETWRIGHT_MIN_AGE
    }
  })

  it('splits partitions across --shard workers: each partition belongs to exactly one', async () => {
    for (let day = 2; day < 8; day++) await stagingDay(daysAgo(day), 2, 3, day * 100)
    const seen: string[] = []
    for (const shard of ['0/3', '1/3', '2/3']) {
      const run = await runInProcess<CompactResult>(['compact', root, '--shard', shard, '--json'])
      seen.push(...run.result!.partitions.map((entry) => entry.partition))
    }
    expect(seen.sort()).toEqual(Array.from({length: 6}, (_, index) => `staging/${daysAgo(7 - index)}/`))
    expect(await keysOf(storage, 'staging/')).toEqual([])
  })
})

describe('compact fails safe (the built binary)', () => {
  it('a corrupted output fails verification: exit 3, nothing stored, nothing deleted', async () => {
    const day = daysAgo(2)
    const inputs = await stagingDay(day, 5, 10)
    const run = await runCli(['compact', root, '--json'], {env: {BUCKETWRIGHT_TEST_CORRUPT: 'drop-row'}})
    expect(run.code).toBe(3)
    const result = JSON.parse(run.stdout) as CompactResult
    expect(result.partitions[0]).toMatchObject({status: 'verification-failed', error: {code: 'COMPACT_VERIFY_FAILED'}})
    expect(result.partitions[0].error?.message).toMatch(/49 rows .* inputs 50/)
    expect(await keysOf(storage)).toEqual(inputs)
  })

  const points = ['after-merge', 'after-verify', 'after-commit', 'after-upload', 'after-verified', 'mid-delete', 'before-done']
  it.each(points)('a crash %s (SIGKILL) loses nothing; the rerun finishes, every input deleted, no row doubled', async (point) => {
    const day = daysAgo(2)
    const inputs = await stagingDay(day, 7, 10)
    const before = await snapshot(inputs)
    const tmp = await tempDir('bw-crash-tmp-')
    const crashed = await runCli(['compact', root, '--delete-batch', '3', '--json'], {env: {BUCKETWRIGHT_TEST_CRASH_AT: point, TMPDIR: tmp}})
    expect(crashed.code).not.toBe(0)
    expect(crashed.stdout).toBe('')
    // SIGKILL leaves the run's temp root behind; the rerun removes it with its own.
    expect(await fs.readdir(tmp)).toEqual([expect.stringMatching(/^bw-compact-\d+-/)])
    const rerun = await runCli(['compact', root, '--delete-batch', '3', '--json'], {env: {TMPDIR: tmp}})
    expect(rerun.code).toBe(0)
    expect(await fs.readdir(tmp)).toEqual([])
    const [partition] = (JSON.parse(rerun.stdout) as CompactResult).partitions
    expect(partition.status).toBe('compacted')
    expect(await keysOf(storage)).toEqual([`_manifests/compacted/${day}.parquet.json`, `_manifests/staging/${day}/_compaction.json`, `compacted/${day}.parquet`])
    expect(await rowDifference(before, files([`compacted/${day}.parquet`]))).toBe(0)
  })

  it('a crash while re-compacting a day with a compacted file (pending outputs) loses and doubles nothing', async () => {
    const day = daysAgo(2)
    const first = await stagingDay(day, 4, 10)
    const firstRows = await snapshot(first)
    expect((await runCli(['compact', root])).code).toBe(0)
    const late = [`staging/${day}/late_1.parquet`, `staging/${day}/late_2.parquet`]
    await putParquet(storage, late[0], 500, 5)
    await putParquet(storage, late[1], 600, 5)
    const lateRows = await snapshot(late)
    for (const point of ['after-upload', 'after-verified', 'before-done']) {
      const crashed = await runCli(['compact', root], {env: {BUCKETWRIGHT_TEST_CRASH_AT: point}})
      expect(crashed.code).not.toBe(0)
    }
    expect((await runCli(['compact', root])).code).toBe(0)
    expect(await keysOf(storage, `staging/${day}/`)).toEqual([])
    expect(await rowDifference([...firstRows, ...lateRows], files([`compacted/${day}.parquet`]))).toBe(0)
  })

  it('after a crash mid-delete, an input key re-created with new content is not deleted by the rerun (deleted exactly once)', async () => {
    const day = daysAgo(2)
    const inputs = await stagingDay(day, 6, 10)
    const before = await snapshot(inputs)
    const crashed = await runCli(['compact', root, '--delete-batch', '2'], {env: {BUCKETWRIGHT_TEST_CRASH_AT: 'mid-delete'}})
    expect(crashed.code).not.toBe(0)
    expect(await keysOf(storage, `staging/${day}/`)).toEqual(inputs.slice(2))
    // The first batch's first key comes back with other rows before the rerun.
    await putParquet(storage, inputs[0], 9000, 4)
    const again = await snapshot([inputs[0]])
    const rerun = await runCli(['compact', root, '--delete-batch', '2', '--json'])
    expect(rerun.code).toBe(0)
    const [partition] = (JSON.parse(rerun.stdout) as CompactResult).partitions
    expect(partition.recovered).toBe('finished')
    // The re-created file was kept by the recovery and merged by the next cycle of the same run: all rows, once.
    expect(await keysOf(storage, `staging/${day}/`)).toEqual([])
    expect(await rowDifference([...before, ...again], files([`compacted/${day}.parquet`]))).toBe(0)
  })

  it('a verified output that went missing before the inputs were deleted stops the rerun: exit 3, inputs kept', async () => {
    const day = daysAgo(2)
    const inputs = await stagingDay(day, 4, 10)
    expect((await runCli(['compact', root], {env: {BUCKETWRIGHT_TEST_CRASH_AT: 'after-verified'}})).code).not.toBe(0)
    await fs.rm(storage.pathOf(`compacted/${day}.parquet`))
    const rerun = await runCli(['compact', root, '--json'])
    expect(rerun.code).toBe(3)
    expect((JSON.parse(rerun.stdout) as CompactResult).partitions[0]).toMatchObject({status: 'verification-failed', error: {code: 'COMPACT_OUTPUT_CHANGED'}})
    expect(await keysOf(storage, 'staging/')).toEqual(inputs)
  })

  it('an unreadable input fails its partition only (exit 1, the object named), other partitions still compact', async () => {
    const bad = daysAgo(3)
    const badInputs = [...(await stagingDay(bad, 2, 10)), `staging/${bad}/broken.parquet`]
    await storage.write(badInputs[2], 'not parquet at all')
    await stagingDay(daysAgo(2), 3, 10, 500)
    const run = await runCli(['compact', root, '--json'])
    expect(run.code).toBe(1)
    const result = JSON.parse(run.stdout) as CompactResult
    const failed = result.partitions.find((entry) => entry.date === bad)!
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatchObject({code: 'MERGE_FAILED', nextSteps: [expect.stringContaining('no input of')]})
    expect(failed.error?.message).toContain('broken.parquet')
    expect(failed.error?.message).not.toContain('\n')
    expect(result.partitions.find((entry) => entry.date === daysAgo(2))?.status).toBe('compacted')
    expect(await keysOf(storage, `staging/${bad}/`)).toEqual(badInputs)
  })

  it('takes a run lock: a second run of the same job while one is running stops, changing nothing', async () => {
    const inputs = await stagingDay(daysAgo(2), 3, 10)
    const cache = await tempDir('bw-cache-')
    const {acquireRunLock} = await import('../../src/plugins/core/config/run-lock.js')
    const lock = await acquireRunLock(path.join(cache, 'locks'), `compact ${storage.uri} shard 0/1`)
    try {
      const run = await runCli(['compact', root, '--json'], {env: {BUCKETWRIGHT_CACHE_DIR: cache}})
      expect(run.code).toBe(1)
      expect(JSON.parse(run.stdout).error.code).toBe('JOB_RUNNING')
      expect(await keysOf(storage, 'staging/')).toEqual(inputs)
    } finally {
      await lock.release()
    }
    expect((await runCli(['compact', root], {env: {BUCKETWRIGHT_CACHE_DIR: cache}})).code).toBe(0)
  })
})
