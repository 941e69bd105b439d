import fs from 'node:fs/promises'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {type VerifyResult} from '../../src/plugins/core/verify/result.js'
import {runInProcess} from '../helpers/cli.js'
import {createTestBucket, s3Endpoint, useS3Env} from '../helpers/s3.js'
import {buildDataset, type Dataset, linkTinybusPlugin, removeTempDirs, rewriteOutput, tempDir, truncateOutput} from './helpers.js'

afterAll(removeTempDirs)

const failing = (result: VerifyResult) => result.checks.filter((check) => check.status === 'fail').map((check) => check.name)

describe('verify (S3, loopback server)', () => {
  let bucket: string
  let raw: Storage
  let output: Storage
  let dataset: Dataset
  let prefix = 0

  beforeAll(async () => {
    useS3Env()
    await linkTinybusPlugin()
    bucket = await createTestBucket('bw-verify')
  })
  afterAll(async () => {
    await raw?.close()
    await output?.close()
  })

  beforeEach(async () => {
    prefix++
    raw = await openStorage(`s3://${bucket}/case${prefix}/`, {endpoint: s3Endpoint(), forcePathStyle: true, region: 'us-east-1'})
    output = await openStorage(`s3://${bucket}/case${prefix}/v2/`, {endpoint: s3Endpoint(), forcePathStyle: true, region: 'us-east-1'})
    dataset = await buildDataset(raw, output, {weeks: 4, seed: prefix})
  })

  const verify = async (...extra: string[]) => {
    const run = await runInProcess<VerifyResult>(['verify', `s3://${bucket}/case${prefix}/v2/`, '--raw', `s3://${bucket}/case${prefix}/`, '--source', 'tinybus', '--json', ...extra])
    if (!run.result) throw new Error(`verify gave no result (exit ${run.exitCode}): ${run.stdout}${run.stderr}${run.error?.message ?? ''}`)
    return {...run, result: run.result}
  }

  it('passes a clean dataset on S3, the raw archive beside it not mistaken for outputs', async () => {
    // A private temp dir, to see that the spooled copies are gone afterwards.
    const tmp = await tempDir('bw-verify-tmp-')
    const saved = process.env.TMPDIR
    process.env.TMPDIR = tmp
    const {result, exitCode} = await verify('--check', 'SELECT * FROM records WHERE vehicleID IS NULL').finally(() => {
      if (saved === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
    })
    expect(failing(result)).toEqual([])
    expect(exitCode).toBe(0)
    expect(result.output).toBe(`s3://${bucket}/case${prefix}/v2/`)
    expect(result.buckets.map((entry) => [entry.key, entry.records, entry.rawRecords])).toEqual(dataset.weeks.map((week) => [week, dataset.recordsPerWeek.get(week), dataset.recordsPerWeek.get(week)]))
    // Spooled copies (and DuckDB's spill dir) are removed when verify ends.
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('names a truncated .gz and a deleted week on S3', async () => {
    await truncateOutput(output, dataset.outputKey(dataset.weeks[0]!), 0.5)
    await output.delete([dataset.outputKey(dataset.weeks[2]!), `_manifests/${dataset.outputKey(dataset.weeks[2]!)}.json`])
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    expect(failing(result)).toEqual(expect.arrayContaining(['integrity', 'missing-buckets']))
    expect(result.checks.find((check) => check.name === 'integrity')!.summary).toContain(`${dataset.weeks[0]}.jsonl.gz (the gzip stream ends early: the file is truncated)`)
    expect(result.checks.find((check) => check.name === 'missing-buckets')!.summary).toContain(`${dataset.weeks[2]} (no output between ${dataset.weeks[1]} and ${dataset.weeks[3]}, 6 raw object(s))`)
  })

  it('checks in batches under a small disk budget and still finds duplicates and records removed', async () => {
    await rewriteOutput(output, dataset.outputKey(dataset.weeks[1]!), (lines) => [...lines, lines[0]!, lines[1]!], {updateManifest: true})
    await rewriteOutput(output, dataset.outputKey(dataset.weeks[3]!), (lines) => lines.slice(10), {updateManifest: false})
    const largest = Math.max(...(await Promise.all(dataset.weeks.map(async (week) => (await output.head(dataset.outputKey(week)))!.size))))
    const {result, exitCode, stderr} = await verify('--disk-budget', `${largest + 10}B`, '--verbose')
    expect(exitCode).toBe(3)
    expect(failing(result)).toEqual(['manifest-counts', 'raw-counts', 'duplicates'])
    expect(result.checks.find((check) => check.name === 'duplicates')!.details.scope).toBe('4 batches of outputs that fit the disk budget, one at a time')
    expect(result.checks.find((check) => check.name === 'duplicates')!.summary).toBe(`2 duplicate record(s) on vehicleID + snapshot_time in ${dataset.weeks[1]}.jsonl.gz`)
    expect(result.buckets.find((entry) => entry.key === dataset.weeks[3])!.problems).toContain(
      `${dataset.weeks[3]}: ${dataset.recordsPerWeek.get(dataset.weeks[3]!)! - 10} records in the output, ${dataset.recordsPerWeek.get(dataset.weeks[3]!)} decoded from 6 raw objects`,
    )
    // Under --json only the failed checks are logged on stderr, not progress.
    expect(
      stderr
        .trim()
        .split('\n')
        .every((line) => line.includes('ERROR Check')),
    ).toBe(true)
  })

  it('counts schema violations and fails a user SQL check on S3', async () => {
    const week = dataset.weeks[2]!
    await rewriteOutput(output, dataset.outputKey(week), (lines) => lines.map((line, i) => (i < 4 ? JSON.stringify({...JSON.parse(line), longitude: 'west', latitude: 12.5}) : line)), {updateManifest: true})
    const {result, exitCode} = await verify('--check', '-- name: in-portland\nSELECT vehicleID, latitude FROM records WHERE latitude < 40')
    expect(exitCode).toBe(3)
    expect(failing(result)).toEqual(['schema', 'sql:in-portland'])
    expect(result.schema.violations).toEqual([expect.objectContaining({path: 'longitude', keyword: 'type', count: 4, example: {value: 'west', where: `${week}.jsonl.gz:1`}})])
    expect(result.checks.find((check) => check.name === 'sql:in-portland')!.details).toMatchObject({rows: 4})
    const withFile = await verify('--check', 'SELECT filename, vehicleID FROM records WHERE latitude < 40')
    expect((withFile.result.checks.at(-1)!.details.examples as {filename: string}[]).map((row) => row.filename)).toEqual(Array.from({length: 4}, () => `${week}.jsonl.gz`))
    expect(result.buckets.find((entry) => entry.key === week)).toMatchObject({status: 'failed', schemaInvalid: 4})
  })
})
