import {HeadObjectCommand} from '@aws-sdk/client-s3'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {runInProcess} from '../helpers/cli.js'
import {FaultProxy, type ProxiedRequest} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, testS3Client, useS3Env} from '../helpers/s3.js'
import {daysAgo, putParquet} from '../compact/fixtures.js'
import {advancedTradeFrames, cut, putSegments} from '../etl/fixtures.js'
import {makeRoot, runDaemon, writeStable} from '../upload-daemon/helpers.js'

// One end-to-end run per writer (convert, compact, etl, upload-daemon --once) through a recording proxy in front of
// the loopback server: every request that creates an object carries the object options given as flags.
const FLAGS = ['--storage-class', 'standard_ia', '--sse', 'aws:kms', '--sse-kms-key-id', 'alias/bw-e2e', '--acl', 'bucket-owner-full-control', '--metadata', 'team=data', '--metadata', 'pipeline=e2e']

const client = testS3Client()
let proxy: FaultProxy
let work: string

beforeAll(async () => {
  useS3Env()
  proxy = await new FaultProxy(s3Endpoint()).start()
  work = await mkdtemp(path.join(os.tmpdir(), 'bw-objopts-cli-'))
})
afterAll(async () => {
  await proxy.stop()
  await rm(work, {recursive: true, force: true})
})
beforeEach(() => {
  proxy.plan = () => ({type: 'pass'})
  proxy.requests.length = 0
})

const isPut = (r: {method: string; url: string}) => r.method === 'PUT' && !r.url.includes('uploadId=')
const isCreate = (r: {method: string; url: string}) => r.method === 'POST' && /[?&]uploads(=|&|$)/.test(r.url)
const isCopy = (r: ProxiedRequest) => r.method === 'PUT' && r.all?.['x-amz-copy-source'] !== undefined

/** The requests that made objects (single PUTs, multipart creates, copies) under `prefix` of a bucket. */
function writes(bucket: string, prefix = ''): ProxiedRequest[] {
  return proxy.requests.filter((r) => r.url.startsWith(`/${bucket}/${prefix}`) && (isPut(r) || isCreate(r)))
}

/** The object options as S3's REST API names them; metadata rides on PUTs and creates, not on copies. */
function expectOptions(request: ProxiedRequest): void {
  const h = request.all ?? {}
  expect({url: request.url, class: h['x-amz-storage-class'], sse: h['x-amz-server-side-encryption'], key: h['x-amz-server-side-encryption-aws-kms-key-id'], acl: h['x-amz-acl']}).toEqual({
    url: request.url,
    class: 'STANDARD_IA',
    sse: 'aws:kms',
    key: 'alias/bw-e2e',
    acl: 'bucket-owner-full-control',
  })
  if (!isCopy(request)) expect({url: request.url, team: h['x-amz-meta-team'], pipeline: h['x-amz-meta-pipeline']}).toEqual({url: request.url, team: 'data', pipeline: 'e2e'})
}

describe('object options end to end, one run per writer', {timeout: 120_000}, () => {
  it('convert: every output and manifest it writes carries them', async () => {
    const raw = path.join(work, 'raw')
    const generated = await runInProcess(['generate', raw, '--source', 'bustimes', '--from', '2021-11-08', '--to', '2021-11-08T02', '--rate', '20'])
    expect(generated.exitCode).toBe(0)
    const bucket = await createTestBucket('bw-objopts')
    const run = await runInProcess(['convert', raw, `s3://${bucket}/out/`, '--source', 'bustimes', '--bucket', 'hour', '--to', '2021-11-08T02', '--endpoint', proxy.endpoint, '--json', ...FLAGS])
    expect(run.exitCode, run.stderr).toBe(0)
    const made = writes(bucket, 'out/')
    // Two hourly outputs and their manifests at least.
    expect(made.length).toBeGreaterThanOrEqual(4)
    for (const request of made) expectOptions(request)
    const keys = made.map((r) => decodeURIComponent(new URL(r.url, 'http://x').pathname.slice(bucket.length + 2)))
    const head = await client.send(new HeadObjectCommand({Bucket: bucket, Key: keys[0]}))
    expect(head.Metadata).toMatchObject({team: 'data', pipeline: 'e2e'})
  })

  it('compact: the merged file and its manifests carry them', async () => {
    const bucket = await createTestBucket('bw-objopts')
    const storage: Storage = await openStorage(`s3://${bucket}/set/`, {endpoint: s3Endpoint()})
    const day = daysAgo(3)
    try {
      await Promise.all([0, 1, 2].map((index) => putParquet(storage, `staging/${day}/batch_${index}.parquet`, index * 10, 10)))
    } finally {
      await storage.close()
    }
    const run = await runInProcess(['compact', `s3://${bucket}/set/`, '--endpoint', proxy.endpoint, '--json', ...FLAGS])
    expect(run.exitCode, run.stderr).toBe(0)
    const made = proxy.requests.filter((r) => r.url.startsWith(`/${bucket}/`) && (isPut(r) || isCreate(r)))
    expect(made.some((r) => r.url.includes(`compacted/${day}.parquet`))).toBe(true)
    for (const request of made) expectOptions(request)
  })

  it('etl: the Parquet outputs carry them; the raw segments it moves keep theirs', async () => {
    const bucket = await createTestBucket('bw-objopts')
    const [a0, a1] = cut(advancedTradeFrames(), 2)
    await putSegments({bucket}, {'segment_20260809T21_0.ndjson': a0, 'segment_20260809T21_1.ndjson': a1})
    const location = `s3://${bucket}`
    const run = await runInProcess(['etl', location, '--source', 'coinbase', '--to', location, '--endpoint', proxy.endpoint, '--json', ...FLAGS])
    expect(run.exitCode, run.stderr).toBe(0)
    const outputs = writes(bucket, 'processed/')
    expect(outputs.length).toBeGreaterThan(0)
    for (const request of outputs) expectOptions(request)
    const moves = proxy.requests.filter((r) => r.url.startsWith(`/${bucket}/raw/`) && isCopy(r))
    expect(moves.length).toBeGreaterThan(0)
    for (const request of moves) expect(request.all?.['x-amz-storage-class']).toBeUndefined()
  })

  it('etl: object options with a Postgres destination are a usage error, nothing done', async () => {
    const run = await runInProcess(['etl', work, '--source', 'coinbase', '--to', 'postgres://nobody@127.0.0.1:1/none', '--storage-class', 'STANDARD_IA'])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toMatch(/--storage-class/)
  })

  it('upload-daemon --once: PUTs carry them and the SHA-256; under SSE-KMS (no MD5 ETag) a file is deleted only when the SHA-256 proves the object', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-objopts')
    const good = randomBytes(3000)
    const bad = randomBytes(3000)
    await writeStable(path.join(root, bucket, 'good.bin'), good)
    await writeStable(path.join(root, bucket, 'bad.bin'), bad)
    const changed = Buffer.from(bad)
    changed[1500] ^= 0xff
    const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64')
    const kms = () => ({etag: `"${randomBytes(16).toString('hex')}"`, 'x-amz-server-side-encryption': 'aws:kms'})
    // The store answers as S3 under SSE-KMS; bad.bin reaches it changed, with Content-MD5 and SHA-256 to match.
    proxy.plan = (r) => {
      if (!r.url.startsWith(`/${bucket}/`)) return {type: 'pass'}
      if (isPut(r) && r.url.includes('bad.bin')) return {type: 'tamper', requestBody: () => changed, requestHeaders: {'x-amz-checksum-sha256': sha(changed)}, responseHeaders: kms()}
      if (isPut(r) || r.method === 'HEAD') return {type: 'tamper', responseHeaders: kms()}
      return {type: 'pass'}
    }
    const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--json', ...FLAGS])
    const puts = writes(bucket).filter(isPut)
    expect(puts.length).toBeGreaterThanOrEqual(2)
    for (const request of puts) expectOptions(request)
    expect(puts.find((r) => r.url.includes('good.bin'))?.all?.['x-amz-checksum-sha256']).toBe(sha(good))
    // good.bin: proven by its SHA-256 (or read back), so deleted; bad.bin: the store holds other bytes, so kept.
    expect(existsSync(path.join(root, bucket, 'good.bin'))).toBe(false)
    expect(existsSync(path.join(root, bucket, 'bad.bin'))).toBe(true)
    expect(run.exitCode).toBe(1)
    expect(run.result).toMatchObject({counters: {uploaded: 1}})
  })

  it('compact: defaults from the config file apply under the command line', async () => {
    const bucket = await createTestBucket('bw-objopts')
    const storage: Storage = await openStorage(`s3://${bucket}/set/`, {endpoint: s3Endpoint()})
    const day = daysAgo(3)
    try {
      await Promise.all([0, 1].map((index) => putParquet(storage, `staging/${day}/batch_${index}.parquet`, index * 10, 10)))
    } finally {
      await storage.close()
    }
    const config = path.join(work, 'config.json')
    await writeFile(config, JSON.stringify({commands: {compact: {sse: 'AES256', 'storage-class': 'GLACIER_IR', metadata: ['team=from-config']}}}))
    // The command line's --storage-class wins over the file's; the rest comes from the file.
    const run = await runInProcess(['compact', `s3://${bucket}/set/`, '--endpoint', proxy.endpoint, '--config', config, '--storage-class', 'ONEZONE_IA'])
    expect(run.exitCode, run.stderr).toBe(0)
    const made = proxy.requests.filter((r) => r.url.startsWith(`/${bucket}/`) && (isPut(r) || isCreate(r)))
    expect(made.length).toBeGreaterThan(0)
    for (const request of made) {
      expect(request.all).toMatchObject({'x-amz-server-side-encryption': 'AES256', 'x-amz-storage-class': 'ONEZONE_IA', 'x-amz-meta-team': 'from-config'})
      expect(request.all?.['x-amz-checksum-sha256']).toBeUndefined()
    }
  })

  it('upload-daemon --print-systemd-unit: the unit runs the daemon with the same object options', async () => {
    const run = await runDaemon(['--print-systemd-unit', '-d', work, '--json', ...FLAGS, '--metadata', 'note=two words'])
    expect(run.exitCode).toBe(0)
    const exec = (run.result as {systemdUnit: string}).systemdUnit.split('\n').find((line) => line.startsWith('ExecStart=')) ?? ''
    expect(exec).toContain(' upload-daemon --storage-class STANDARD_IA --sse aws:kms --sse-kms-key-id alias/bw-e2e --acl bucket-owner-full-control --metadata team=data --metadata pipeline=e2e')
    // A value with a space stays one argument for systemd.
    expect(exec).toContain('"note=two words"')
  })

  it.each([
    ['convert', (bucket: string) => ['convert', work, `s3://${bucket}/out/`, '--source', 'bustimes']],
    ['compact', (bucket: string) => ['compact', `s3://${bucket}/`]],
    ['etl', (bucket: string) => ['etl', `s3://${bucket}`, '--source', 'coinbase', '--to', `s3://${bucket}`]],
    ['upload-daemon', () => ['upload-daemon', '--once', '-d', work]],
  ])('%s: a bad value is a usage error naming the flag, before any request', async (_name, args) => {
    for (const [flags, named] of [
      [['--storage-class', 'COLD'], '--storage-class'],
      [['--sse-kms-key-id', 'alias/x'], '--sse-kms-key-id'],
      [['--metadata', 'no-equals'], '--metadata'],
    ] as const) {
      proxy.requests.length = 0
      const run = await runInProcess([...args('bw-objopts-none'), '--endpoint', proxy.endpoint, ...flags])
      expect(run.exitCode, run.stderr).toBe(2)
      expect(run.error?.message).toContain(named)
      expect(proxy.requests).toEqual([])
    }
  })
})
