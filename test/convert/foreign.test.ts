/**
 * Outputs made by another tool (the original bustimes converter: a week file and no manifest) are left alone by
 * default — rebuilding them would GET every raw object again — and reported; `--rebuild-foreign` rebuilds them.
 */
import {GetObjectCommand, HeadObjectCommand} from '@aws-sdk/client-s3'
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import {runCli} from '../helpers/cli.js'
import {createTestBucket, s3Env, s3Servers, testS3Client} from '../helpers/s3.js'
import {hasPython, listKeys, makeBustimesArchive, oldConverterWeeks, uploadDir} from './archive.js'
import {tempDir} from './helpers.js'

let work: string
let archive: string
/** The weeks as the original converter wrote them (gzip, no manifest). */
let old: string

beforeAll(async () => {
  work = await tempDir('bw-convert-foreign-')
  archive = path.join(work, 'archive')
  // 2021-W44 (from Sunday 22:00) and 2021-W45 (to Wednesday), across the repr→JSON cutoff.
  await makeBustimesArchive(archive, {count: 40, every: 7200})
  old = path.join(work, 'old')
  if (hasPython) oldConverterWeeks(archive, old)
}, 120_000)

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

/** An output folder holding the old converter's 2021-W44 only (W45 not converted yet). */
async function outputWithOldWeek(name: string): Promise<string> {
  const out = path.join(work, name)
  await fs.mkdir(out, {recursive: true})
  await fs.copyFile(path.join(old, '2021-W44.jsonl.gz'), path.join(out, '2021-W44.jsonl.gz'))
  return out
}

const gunzip = async (file: string) => zlib.gunzipSync(await fs.readFile(file)).toString('utf8')

describe.skipIf(!hasPython)('convert and outputs made by another tool (local)', {timeout: 180_000}, () => {
  it('leaves an old week alone and reports it in --json, the log and the summary; converts the others', async () => {
    const out = await outputWithOldWeek('leave')
    const before = await fs.readFile(path.join(out, '2021-W44.jsonl.gz'))
    const run = await runCli(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(run.code).toBe(0)
    const result = JSON.parse(run.stdout) as ConvertResult
    expect(result.buckets.map((bucket) => [bucket.key, bucket.status, bucket.reason])).toEqual([
      ['2021-W44', 'skipped', 'foreign'],
      ['2021-W45', 'written', undefined],
    ])
    expect(result.foreign).toBe(1)
    // Not a byte changed, no manifest made up for it; the new week has its manifest.
    expect((await fs.readFile(path.join(out, '2021-W44.jsonl.gz'))).equals(before)).toBe(true)
    expect((await fs.readdir(path.join(out, '_manifests'))).sort()).toEqual(['2021-W45.jsonl.gz.json'])
    // The same run again: nothing to do, the old week still reported.
    const human = await runCli(['convert', archive, out, '--source', 'bustimes'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/2021-W44\.jsonl\.gz\s+skipped \(made by another tool: no manifest\)/)
    expect(human.stdout).toContain('1 output made by another tool (no manifest) left alone: `verify --adopt`')
    expect(human.stdout).toMatch(/2021-W45\.jsonl\.gz\s+skipped \(up-to-date\)/)
    expect(human.stderr).toMatch(/2021-W44: skipped, 2021-W44\.jsonl\.gz was made by another tool \(no manifest\): left alone/)
  })

  it('--dry-run plans to skip it; --rebuild-foreign rebuilds it (to the same lines, now with a manifest)', async () => {
    const out = await outputWithOldWeek('rebuild')
    const plan = JSON.parse((await runCli(['convert', archive, out, '--source', 'bustimes', '--json', '--dry-run'])).stdout) as ConvertResult
    expect(plan.buckets.map((bucket) => [bucket.key, bucket.action, bucket.reason])).toEqual([
      ['2021-W44', 'skip', 'foreign'],
      ['2021-W45', 'write', undefined],
    ])
    const rebuildPlan = JSON.parse((await runCli(['convert', archive, out, '--source', 'bustimes', '--json', '--dry-run', '--rebuild-foreign'])).stdout) as ConvertResult
    expect(rebuildPlan.buckets.map((bucket) => bucket.action)).toEqual(['rebuild', 'write'])
    const run = await runCli(['convert', archive, out, '--source', 'bustimes', '--json', '--rebuild-foreign'])
    expect(run.code).toBe(0)
    const result = JSON.parse(run.stdout) as ConvertResult
    expect(result.buckets.map((bucket) => [bucket.key, bucket.status])).toEqual([
      ['2021-W44', 'rebuilt'],
      ['2021-W45', 'written'],
    ])
    expect(result.foreign).toBe(0)
    expect((await fs.readdir(path.join(out, '_manifests'))).sort()).toEqual(['2021-W44.jsonl.gz.json', '2021-W45.jsonl.gz.json'])
    expect(await gunzip(path.join(out, '2021-W44.jsonl.gz'))).toBe(await gunzip(path.join(old, '2021-W44.jsonl.gz')))
  })
})

describe.skipIf(!hasPython).each(s3Servers())('convert and outputs made by another tool on $name', {timeout: 180_000}, ({endpoint}) => {
  it('leaves the old week in S3 untouched (same ETag and bytes) and reports it', async () => {
    const client = testS3Client(endpoint)
    const bucket = await createTestBucket('bw-foreign', client)
    await uploadDir(client, archive, bucket, 'raw-archive/')
    const oldWeek = await fs.readFile(path.join(old, '2021-W44.jsonl.gz'))
    await uploadDir(client, old, bucket, 'v2/')
    const before = await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'v2/2021-W44.jsonl.gz'}))
    const run = await runCli(['convert', `s3://${bucket}/raw-archive/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--json'], {env: s3Env(endpoint)})
    expect(run.stderr).not.toMatch(/ERROR/)
    expect(run.code).toBe(0)
    const result = JSON.parse(run.stdout) as ConvertResult
    expect(result.buckets.map((entry) => [entry.key, entry.status, entry.reason])).toEqual([
      ['2021-W44', 'skipped', 'foreign'],
      ['2021-W45', 'skipped', 'foreign'],
    ])
    expect(result.foreign).toBe(2)
    // No GET of a raw object for them: all that was asked was a LIST, the manifests and a HEAD per week.
    expect(result.requests!.get).toBe(0)
    const after = await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'v2/2021-W44.jsonl.gz'}))
    expect(after.ETag).toBe(before.ETag)
    const body = await client.send(new GetObjectCommand({Bucket: bucket, Key: 'v2/2021-W44.jsonl.gz'}))
    expect(Buffer.from(await body.Body!.transformToByteArray()).equals(oldWeek)).toBe(true)
    expect((await listKeys(client, bucket, 'v2/')).filter((key) => key.includes('_manifests'))).toEqual([])
  })
})
