import {ListMultipartUploadsCommand, PutObjectCommand} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import type {ProxiedRequest} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Servers} from '../helpers/s3.js'
import {until} from '../helpers/wait.js'
import {bucketKeys, daemonEnv, handOver, makeRoot, objectBody, runDaemon, sha256, spawnDaemon, storeBehindProxy, writeStable} from './helpers.js'

const MIB = 1024 * 1024

/** The daemon's uploads go through S3Storage's one Upload and one write check: stopped, lied to, refused — on both stores. */
describe.each(s3Servers())('upload-daemon multipart and write check on $name', ({name, endpoint}) => {
  const env = daemonEnv(endpoint)
  const {client, proxy} = storeBehindProxy(endpoint)
  afterEach(() => {
    proxy.plan = () => ({type: 'pass'})
    proxy.latencyMs = 0
  })

  /** One scan through the proxy, logging JSON lines; its result, exit code and log lines. */
  const once = async (root: string, args: string[] = []) => {
    const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--log-format', 'json', ...args], env)
    const lines = run.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as {level: string; message: string; code?: string; verifiedBy?: string})
    return {...run, lines}
  }

  /** A scan that found the store holding other bytes than it sent: exit 1, one failure, UPLOAD_CORRUPTED saying `why`. */
  const expectCorrupted = (run: Awaited<ReturnType<typeof once>>, why: RegExp) => {
    expect(run.exitCode).toBe(1)
    expect(run.result).toMatchObject({counters: {uploaded: 0, failed: 1}})
    const error = run.lines.find((line) => line.level === 'error')
    expect(error?.code).toBe('UPLOAD_CORRUPTED')
    expect(error?.message).toMatch(why)
  }
  /** The requests the proxy saw for one key of the bucket, since `from`. */
  const requestsFor = (bucket: string, key: string, from: number): ProxiedRequest[] => proxy.requests.slice(from).filter((request) => request.url.split('?')[0] === `/${bucket}/${key}`)
  const isPart = (request: {method: string; url: string}) => request.method === 'PUT' && request.url.includes('partNumber=')
  const isSinglePut = (request: {method: string; url: string}) => request.method === 'PUT' && !request.url.includes('uploadId=')
  const isComplete = (request: {method: string; url: string}) => request.method === 'POST' && request.url.includes('uploadId=')
  const isAbort = (request: {method: string; url: string}) => request.method === 'DELETE' && request.url.includes('uploadId=')

  it('SIGTERM mid-multipart: the file is kept, nothing completed, the upload aborted (none listed where the store lists them); a rerun ships it', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-mp-term', client)
    const big = randomBytes(17 * MIB + 3)
    const file = path.join(root, bucket, 'deep', 'big.bin')
    await writeStable(file, big)
    handOver(root)
    // Slow requests, so that the daemon is stopped with parts in flight.
    proxy.latencyMs = 500
    const from = proxy.requests.length
    const daemon = await spawnDaemon(['-d', root, '-i', '60', '--multipart-threshold', '8', '--endpoint', proxy.endpoint], env)
    await until('a part upload', () => requestsFor(bucket, 'deep/big.bin', from).some(isPart))
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
    expect(daemon.stderr()).toMatch(/WARN Upload of .*big\.bin aborted on shutdown/)
    const seen = requestsFor(bucket, 'deep/big.bin', from)
    expect(seen.filter(isComplete)).toEqual([])
    // Once on S3; s3rver refuses it (NotImplemented), so the SDK sends it again.
    expect(seen.filter(isAbort).length).toBeGreaterThan(0)
    expect(sha256(await readFile(file))).toBe(sha256(big))
    expect(await bucketKeys(client, bucket)).toEqual([])
    if (name === 'fauxqs') {
      const listed = await client.send(new ListMultipartUploadsCommand({Bucket: bucket}))
      expect(listed.Uploads ?? []).toEqual([])
    } else {
      // s3rver implements neither ListMultipartUploads nor AbortMultipartUpload: the abort request sent is the proof.
      await expect(client.send(new ListMultipartUploadsCommand({Bucket: bucket}))).rejects.toMatchObject({name: 'NotImplemented'})
    }

    proxy.latencyMs = 0
    const rerun = await once(root, ['--multipart-threshold', '8'])
    expect(rerun.exitCode).toBe(0)
    expect(rerun.result).toMatchObject({counters: {uploaded: 1, failed: 0}})
    expect(sha256((await objectBody(client, bucket, 'deep/big.bin'))!)).toBe(sha256(big))
    expect(existsSync(file)).toBe(false)
  })

  it('a store that keeps other bytes than a single PUT sent: UPLOAD_CORRUPTED, exit 1, the file kept, shipped on the next scan', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-mp-lie', client)
    const body = randomBytes(3 * MIB + 5)
    const file = path.join(root, bucket, 'one.bin')
    await writeStable(file, body)
    // The body reaches the store with one byte changed, and a Content-MD5 made to fit: only the check can tell.
    proxy.plan = ({method, url}) =>
      method === 'PUT' && url.split('?')[0] === `/${bucket}/one.bin`
        ? {
            type: 'tamper',
            requestBody: (sent) => {
              const changed = Buffer.from(sent)
              changed[changed.length >> 1] ^= 0xff
              return changed
            },
          }
        : {type: 'pass'}
    const run = await once(root)
    expectCorrupted(run, /one\.bin .*does not hold the bytes sent/)
    expect(run.result).toMatchObject({unshippedByError: 1})
    expect(sha256(await readFile(file))).toBe(sha256(body))
    // The daemon never deletes an object: the corrupt one stays for the next scan to replace.
    expect((await objectBody(client, bucket, 'one.bin'))?.equals(body)).toBe(false)

    proxy.plan = () => ({type: 'pass'})
    const again = await once(root)
    expect(again.exitCode).toBe(0)
    expect((await objectBody(client, bucket, 'one.bin'))?.equals(body)).toBe(true)
    expect(existsSync(file)).toBe(false)
  })

  it('a multipart part the store keeps other bytes of: UPLOAD_CORRUPTED before completion, aborted, the object there before untouched, the file kept', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-mp-part', client)
    const before = Buffer.from('the object there before')
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'big.bin', Body: before}))
    const old = path.join(root, bucket, 'big.bin')
    const big = randomBytes(17 * MIB + 1)
    await writeStable(old, big)
    proxy.plan = ({method, url}) =>
      method === 'PUT' && url.includes('partNumber=2&')
        ? {
            type: 'tamper',
            requestBody: (sent) => {
              const changed = Buffer.from(sent)
              changed[7] ^= 0xff
              return changed
            },
          }
        : {type: 'pass'}
    const from = proxy.requests.length
    const run = await once(root, ['--multipart-threshold', '8'])
    expectCorrupted(run, /Part 2 of .*big\.bin .*the MD5 of other bytes/)
    const seen = requestsFor(bucket, 'big.bin', from)
    expect(seen.filter(isComplete)).toEqual([])
    // Once on S3; s3rver refuses it (NotImplemented), so the SDK sends it again.
    expect(seen.filter(isAbort).length).toBeGreaterThan(0)
    expect((await objectBody(client, bucket, 'big.bin'))?.equals(before)).toBe(true)
    expect(sha256(await readFile(old))).toBe(sha256(big))
  })

  it('a multipart upload answered with an ETag that vouches for nothing, of an object that differs: read back, UPLOAD_CORRUPTED, the file kept', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-mp-opaque', client)
    const big = randomBytes(9 * MIB + 7)
    const file = path.join(root, bucket, 'big.bin')
    await writeStable(file, big)
    // The store answers the completion and HEAD with an ETag of no known form, and serves other bytes than it took
    // (the body mangled on the way back): only reading it back can tell.
    proxy.plan = ({method, url}) => {
      if (url.split('?')[0] !== `/${bucket}/big.bin`) return {type: 'pass'}
      if (method === 'POST' && url.includes('uploadId=')) return {type: 'tamper', responseBody: (xml) => xml.replace(/<ETag>[^<]*<\/ETag>/, '<ETag>&quot;opaque&quot;</ETag>')}
      if (method === 'HEAD') return {type: 'tamper', responseHeaders: {etag: '"opaque"'}}
      if (method === 'GET') return {type: 'tamper', responseBody: (text) => `X${text.slice(1)}`}
      return {type: 'pass'}
    }
    const run = await once(root, ['--multipart-threshold', '8'])
    expectCorrupted(run, /big\.bin .*does not hold the bytes sent \(read back: /)
    expect(proxy.requests.some((request) => request.method === 'GET' && request.url.split('?')[0] === `/${bucket}/big.bin`)).toBe(true)
    expect(sha256(await readFile(file))).toBe(sha256(big))
  })

  it('a single PUT refused as too large (413 EntityTooLarge) goes up as a verified multipart upload, not sent again whole', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-mp-413', client)
    const large = randomBytes(10 * MIB + 9)
    const file = path.join(root, bucket, 'large.bin')
    await writeStable(file, large)
    proxy.plan = (request) => (isSinglePut(request) && request.url.startsWith(`/${bucket}/`) ? {type: 'status', status: 413, code: 'EntityTooLarge'} : {type: 'pass'})
    const from = proxy.requests.length
    const run = await once(root, ['--multipart-threshold', '16'])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({counters: {uploaded: 1, failed: 0}})
    const uploaded = run.lines.find((line) => line.message.startsWith('Uploaded '))
    expect(uploaded?.message).toMatch(/large\.bin .*multipart, verified/)
    expect(uploaded?.verifiedBy).toBeDefined()
    const seen = requestsFor(bucket, 'large.bin', from)
    // One PUT refused, not retried through the SDK; then two parts of 8 MiB and a completion.
    expect(seen.filter(isSinglePut)).toHaveLength(1)
    expect(seen.filter(isPart)).toHaveLength(2)
    expect(seen.filter(isComplete)).toHaveLength(1)
    expect(sha256((await objectBody(client, bucket, 'large.bin'))!)).toBe(sha256(large))
    expect(existsSync(file)).toBe(false)
  })
})
