/**
 * `convert --cache-dir` and `verify --raw … --cache-dir` read raw S3 objects through the object cache: a second run
 * over the same objects makes no GET of them, with the same output. Without `--cache-dir` there is no cache (every
 * run GETs). GETs are counted at a proxy in front of the loopback S3 server.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import type {OutputManifest} from '../../src/plugins/core/index.js'
import type {VerifyResult} from '../../src/plugins/core/verify/result.js'
import {runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Env, s3Servers, testS3Client} from '../helpers/s3.js'
import {makeBustimesArchive, readJsonObject, uploadDir} from './archive.js'
import {tempDir} from './helpers.js'

let work: string
let archive: string

beforeAll(async () => {
  work = await tempDir('bw-convert-cache-')
  archive = path.join(work, 'archive')
  await makeBustimesArchive(archive, {count: 30, every: 7200})
}, 120_000)

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

describe.each(s3Servers())('convert and verify --raw through --cache-dir on $name', {timeout: 180_000}, ({endpoint}) => {
  it('a second run GETs no raw object and writes the same output; without --cache-dir every run GETs', async () => {
    const client = testS3Client(endpoint)
    const bucket = await createTestBucket('bw-cache-read', client)
    const objects = await uploadDir(client, archive, bucket, 'raw/')
    const cacheDir = path.join(work, `cache-${bucket}`)
    const proxy = await new FaultProxy(endpoint).start()
    const rawGets = () => proxy.count((request) => request.method === 'GET' && request.url.includes('/raw/'))
    try {
      const env = {...s3Env(endpoint), BUCKETWRIGHT_ENDPOINT: proxy.endpoint} // the server's credentials (s3rver checks them)
      const convert = async (out: string, extra: string[] = []) => {
        const run = await runCli(['convert', `s3://${bucket}/raw/`, `s3://${bucket}/${out}/`, '--source', 'bustimes', '--json', ...extra], {env})
        expect(run.code, run.stderr).toBe(0)
        return JSON.parse(run.stdout) as ConvertResult
      }
      const first = await convert('a', ['--cache-dir', cacheDir])
      expect(first.objects).toBe(objects)
      const afterFirst = rawGets()
      expect(afterFirst).toBeGreaterThanOrEqual(objects)

      const second = await convert('b', ['--cache-dir', cacheDir])
      expect(rawGets()).toBe(afterFirst)
      expect(second.records).toBe(first.records)
      for (const bucketKey of first.buckets.map((entry) => entry.output)) {
        const a = await readJsonObject<OutputManifest>(client, bucket, `a/_manifests/${bucketKey}.json`)
        const b = await readJsonObject<OutputManifest>(client, bucket, `b/_manifests/${bucketKey}.json`)
        expect(b.output.sha256).toBe(a.output.sha256)
      }

      // verify --raw re-reads every raw object: from the cache too.
      const verify = await runCli(['verify', `s3://${bucket}/a/`, '--raw', `s3://${bucket}/raw/`, '--source', 'bustimes', '--cache-dir', cacheDir, '--json'], {env})
      expect(verify.code, verify.stderr).toBe(0)
      expect((JSON.parse(verify.stdout) as VerifyResult).totals.rawObjectsRead).toBeGreaterThan(0)
      expect(rawGets()).toBe(afterFirst)

      // Off by default: no --cache-dir, every object is GET again.
      await convert('c')
      expect(rawGets()).toBeGreaterThanOrEqual(afterFirst + objects)
    } finally {
      await proxy.stop()
    }
  })
})
