/**
 * The original bustimes converter's flags keep their meaning: `--workers N` is parallel downloads (an alias of
 * `--concurrency`, default 16), encoder threads are `--threads` (one per core, capped at the cores), and
 * `--weeks 2021-W45,2021-W47` converts only the listed buckets.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import {runCli} from '../helpers/cli.js'
import {makeBustimesArchive} from './archive.js'
import {tempDir} from './helpers.js'

const CORES = os.availableParallelism()
let work: string
let archive: string

beforeAll(async () => {
  work = await tempDir('bw-convert-flags-')
  archive = path.join(work, 'archive')
  // Monday 2021-11-01 to Sunday 2021-11-21, every 8 hours: ISO weeks 2021-W44, W45 and W46, whole.
  await makeBustimesArchive(archive, {start: '2021-11-01T00:00:00', count: 63, every: 8 * 3600, rootLevel: 0})
}, 120_000)

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

let outputs = 0
async function convert(...flags: string[]): Promise<{code: number; stderr: string; stdout: string; result?: ConvertResult; out: string; files: string[]}> {
  const out = path.join(work, `out-${outputs++}`)
  const run = await runCli(['convert', archive, out, '--source', 'bustimes', '--json', ...flags])
  const files = await fs.readdir(out).catch(() => [] as string[])
  return {code: run.code, stderr: run.stderr, stdout: run.stdout, result: run.code === 0 ? (JSON.parse(run.stdout) as ConvertResult) : undefined, out, files: files.filter((name) => name !== '_manifests').sort()}
}

describe('convert --workers and --threads', {timeout: 180_000}, () => {
  it('--workers 32 means 32 parallel downloads, as in the original converter, not 32 encoder threads', async () => {
    const run = await convert('--workers', '32', '--weeks', '2021-W44')
    expect(run.code).toBe(0)
    expect(run.result!.concurrency).toBe(32)
    expect(run.result!.threads).toBe(CORES)
    expect(run.stderr).not.toMatch(/WARN/)
    // The same as --concurrency 32, and the default is 16 as the original's --workers was.
    const same = await convert('--concurrency', '32', '--weeks', '2021-W44')
    expect(same.result!.concurrency).toBe(32)
    const byDefault = await convert('--weeks', '2021-W44')
    expect([byDefault.result!.concurrency, byDefault.result!.threads]).toEqual([16, CORES])
    expect(byDefault.result!.records).toBe(run.result!.records)
  })

  it('--threads more than the cores is capped at the cores, with a WARN naming the flag', async () => {
    const run = await convert('--threads', String(CORES + 30), '--weeks', '2021-W44')
    expect(run.code).toBe(0)
    expect(run.result!.threads).toBe(CORES)
    expect(run.stderr).toMatch(new RegExp(`WARN.*--threads ${CORES + 30} is more than the ${CORES} cores: using ${CORES} encoder threads`))
    const none = await convert('--threads', '0', '--weeks', '2021-W44')
    expect(none.result!.threads).toBe(0)
    expect(none.result!.records).toBe(run.result!.records)
    expect(none.stderr).not.toMatch(/WARN/)
  })

  it('refuses --workers 0 (no downloads at all) as a usage error', async () => {
    const run = await convert('--workers', '0')
    expect(run.code).toBe(2)
    expect(run.files).toEqual([])
  })
})

describe('convert --weeks', {timeout: 180_000}, () => {
  it('converts exactly the listed weeks, in any order, each once', async () => {
    const run = await convert('--weeks', '2021-W46, 2021-w44,2021-W46')
    expect(run.code).toBe(0)
    expect(run.result!.buckets.map((bucket) => [bucket.key, bucket.status])).toEqual([
      ['2021-W44', 'written'],
      ['2021-W46', 'written'],
    ])
    expect(run.files).toEqual(['2021-W44.jsonl.gz', '2021-W46.jsonl.gz'])
    // A week has 21 objects (every 8 hours); W45 in between is neither listed nor written.
    expect(run.result!.objects).toBe(42)
  })

  it('takes buckets of any --bucket size: days', async () => {
    const run = await convert('--bucket', 'day', '--weeks', '2021-11-02,2021-11-20')
    expect(run.code).toBe(0)
    expect(run.files).toEqual(['2021-11-02.jsonl.gz', '2021-11-20.jsonl.gz'])
    expect(run.result!.objects).toBe(6)
  })

  it.each([
    ['2021-W45,2021-11-09', '"2021-11-09" is not a week'],
    ['2021-W45,2021-W54', '"2021-W54" is not a week (2021 has ISO weeks 01 to 52)'],
    ['2021-W45,', 'item 2 "" is empty'],
    ['2021-W45,W46', 'item 2 "W46" is not a week (a week is written like 2021-W45)'],
  ])('refuses --weeks %s as a usage error naming the bad item, and writes nothing', async (list, message) => {
    const run = await convert('--weeks', list)
    expect(run.code).toBe(2)
    const error = (JSON.parse(run.stdout) as {error: {code: string; message: string; details: {item: string}}}).error
    expect(error.code).toBe('BAD_BUCKET_LIST')
    expect(error.message).toContain(message)
    expect(run.files).toEqual([])
  })

  it('refuses a week where days are converted, and --weeks with --from', async () => {
    const days = await convert('--bucket', 'day', '--weeks', '2021-W45')
    expect(days.code).toBe(2)
    expect(JSON.parse(days.stdout).error.message).toContain('"2021-W45" is not a day')
    const both = await convert('--weeks', '2021-W45', '--from', '2021-11-01')
    expect(both.code).toBe(2)
    expect(both.files).toEqual([])
  })
})
