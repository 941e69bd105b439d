/**
 * `convert --cache-dir` and `verify --raw … --cache-dir` read raw S3 objects through the object cache: a second run
 * over the same objects makes no GET of them, with the same output. Without `--cache-dir` there is no cache (every
 * run GETs). GETs are counted at a proxy in front of the loopback S3 server.
 */
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import type {OutputManifest} from '../../src/plugins/core/manifest/manifest.js'
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

describe('convert --offline through --cache-dir', {timeout: 180_000}, () => {
  it('with the input endpoint on a closed port: --offline and stale-if-error give the same records; nothing cached is OFFLINE_MISS', async () => {
    const endpoint = s3Servers()[0].endpoint
    const client = testS3Client(endpoint)
    const bucket = await createTestBucket('bw-cache-offline', client)
    await uploadDir(client, archive, bucket, 'raw/')
    const cacheDir = path.join(work, `cache-${bucket}`)
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as net.AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const down = {...s3Env(endpoint), BUCKETWRIGHT_ENDPOINT: `http://127.0.0.1:${port}`}
    const convert = (out: string, env: Record<string, string>, ...extra: string[]) =>
      runCli(['convert', `s3://${bucket}/raw/`, path.join(work, `${bucket}-${out}`), '--source', 'bustimes', '--json', '--cache-dir', cacheDir, ...extra], {env})
    const online = await convert('online', s3Env(endpoint))
    expect(online.code, online.stderr).toBe(0)
    const offline = await convert('offline', down, '--offline')
    expect(offline.code, offline.stderr).toBe(0)
    const stale = await convert('stale', down)
    expect(stale.code, stale.stderr).toBe(0)
    expect(stale.stderr).toMatch(/WARN Serving the cached copy/)
    const records = (run: {stdout: string}) => (JSON.parse(run.stdout) as ConvertResult).buckets.map((entry) => [entry.key, entry.records])
    expect(records(offline)).toEqual(records(online))
    expect(records(stale)).toEqual(records(online))
    for (const entry of (JSON.parse(online.stdout) as ConvertResult).buckets) {
      const sha = async (out: string) => (JSON.parse(await fs.readFile(path.join(work, `${bucket}-${out}`, '_manifests', `${entry.output}.json`), 'utf8')) as OutputManifest).output.sha256
      expect(await sha('offline')).toBe(await sha('online'))
      expect(await sha('stale')).toBe(await sha('online'))
    }
    // An empty cache under --offline: the error names what is missing.
    const miss = await runCli(['convert', `s3://${bucket}/raw/`, path.join(work, `${bucket}-miss`), '--source', 'bustimes', '--cache-dir', path.join(work, `empty-${bucket}`), '--offline'], {env: down})
    expect(miss.code).toBe(1)
    expect(miss.stderr).toMatch(/OFFLINE_MISS/)
    // --offline without a cache to serve from: a usage error, nothing read.
    const noCache = await runCli(['convert', `s3://${bucket}/raw/`, path.join(work, `${bucket}-none`), '--source', 'bustimes', '--offline'], {env: down})
    expect(noCache.code).toBe(2)
    expect(noCache.stderr).toMatch(/OFFLINE_WITHOUT_CACHE/)
  })
})
