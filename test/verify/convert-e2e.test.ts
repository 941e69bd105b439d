import path from 'node:path'
import zlib from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import bustimesSource from '../../src/plugins/bustimes/index.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {type VerifyResult} from '../../src/plugins/core/verify/result.js'
import {runInProcess} from '../helpers/cli.js'
import {removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

const failing = (result: VerifyResult) => result.checks.filter((check) => check.status === 'fail').map((check) => check.name)

/**
 * verify against what convert really writes: a synthetic bustimes archive (Python repr before the 2021-11-10
 * cutoff, JSON after) converted by `bucketwright convert`, then verified with the raw objects re-read.
 */
describe('verify of a real convert run (bustimes)', () => {
  let root: string
  let raw: LocalStorage

  beforeAll(async () => {
    root = await tempDir('bw-verify-e2e-')
    raw = new LocalStorage(path.join(root, 'bucket'))
    // Three ISO weeks around the format change, one snapshot every 6 hours.
    for await (const object of bustimesSource.generate!({range: {from: new Date('2021-11-01T00:00:00Z'), to: new Date('2021-11-22T00:00:00Z')}, rate: 1 / 6, seed: 3})) {
      await raw.write(object.key, object.body)
    }
  })

  const convert = async (out: string, ...flags: string[]) => {
    const run = await runInProcess(['convert', raw.pathOf(''), out, '--source', 'bustimes', '--to', '2021-11-22', '--json', ...flags])
    expect(run.exitCode, run.error?.message).toBe(0)
  }
  const verify = async (out: string, ...flags: string[]) => {
    const run = await runInProcess<VerifyResult>(['verify', out, '--raw', raw.pathOf(''), '--source', 'bustimes', '--json', ...flags])
    if (!run.result) throw new Error(`verify gave no result (exit ${run.exitCode}): ${run.error?.message ?? ''}`)
    return {...run, result: run.result}
  }

  it('passes weekly gzip JSONL as convert writes it, and catches records removed from one week', async () => {
    const out = path.join(root, 'v2')
    await convert(out)
    const clean = await verify(out, '--check', 'SELECT * FROM records WHERE snapshot_time IS NULL')
    expect(failing(clean.result)).toEqual([])
    expect(clean.exitCode).toBe(0)
    expect(clean.result.buckets.map((bucket) => bucket.key)).toEqual(['2021-W44', '2021-W45', '2021-W46'])
    for (const bucket of clean.result.buckets) {
      expect(bucket.records).toBeGreaterThan(1000)
      expect(bucket.rawRecords).toBe(bucket.records)
      expect(bucket.manifestRecords).toBe(bucket.records)
    }
    expect(clean.result.schema.recordsChecked).toBe(clean.result.totals.records)

    const output = new LocalStorage(out)
    const lines = zlib
      .gunzipSync(await output.readBytes('2021-W45.jsonl.gz'))
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
    await output.write('2021-W45.jsonl.gz', zlib.gzipSync(lines.slice(100).join('\n') + '\n'))
    const broken = await verify(out)
    expect(broken.exitCode).toBe(3)
    expect(failing(broken.result)).toEqual(['manifest-counts', 'raw-counts'])
    expect(broken.result.checks[2]!.summary).toContain(`2021-W45: ${lines.length - 100} records in the output, ${lines.length} decoded from`)
  })

  it('passes daily Parquet outputs (read and schema-checked through DuckDB) and names a deleted day', async () => {
    const out = path.join(root, 'daily')
    await convert(out, '--bucket', 'day', '--format', 'parquet')
    const clean = await verify(out)
    expect(failing(clean.result)).toEqual([])
    expect(clean.result.bucketKind).toBe('day')
    expect(clean.result.buckets).toHaveLength(21)
    expect(clean.result.schema.recordsChecked).toBe(clean.result.totals.records)

    const output = new LocalStorage(out)
    await output.delete(['2021-11-10.parquet', '_manifests/2021-11-10.parquet.json'])
    const broken = await verify(out)
    expect(broken.exitCode).toBe(3)
    expect(failing(broken.result)).toEqual(['missing-buckets'])
    expect(broken.result.checks.find((check) => check.name === 'missing-buckets')!.details.missing).toEqual([
      {bucket: '2021-11-10', expectedKey: '2021-11-10.parquet', reason: expect.stringMatching(/^no output between 2021-11-09 and 2021-11-11, \d+ raw object\(s\)$/)},
    ])
  })

  it('expects no records from objects convert quarantined: counts still match the raw objects', async () => {
    const small = new LocalStorage(path.join(root, 'small'))
    for await (const object of bustimesSource.generate!({range: {from: new Date('2021-11-15T00:00:00Z'), to: new Date('2021-11-22T00:00:00Z')}, rate: 1 / 12, seed: 5})) {
      await small.write(object.key, object.body)
    }
    const keys: string[] = []
    for await (const object of small.list('')) keys.push(object.key)
    await small.write(keys[3]!, (await small.readBytes(keys[3]!)).subarray(0, 5000))
    const out = path.join(root, 'quarantine')
    const converted = await runInProcess(['convert', small.pathOf(''), out, '--source', 'bustimes', '--to', '2021-11-22', '--json'])
    expect(converted.exitCode).toBe(4)
    const run = await runInProcess<VerifyResult>(['verify', out, '--raw', small.pathOf(''), '--source', 'bustimes', '--json'])
    expect(failing(run.result!)).toEqual([])
    expect(run.exitCode).toBe(0)
    const [bucket] = run.result!.buckets
    expect(bucket).toMatchObject({key: '2021-W46', rawObjects: keys.length, quarantinedObjects: 1, rawChecked: true})
    expect(bucket!.rawRecords).toBe(bucket!.records)
  })
})
