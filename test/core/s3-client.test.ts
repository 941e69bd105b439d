import {CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, S3Client, UploadPartCommand} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {openStorage} from '../../src/plugins/core/index.js'
import {createS3Client} from '../../src/plugins/core/storage/s3/s3-client.js'
import type {S3Storage} from '../../src/plugins/core/storage/s3/storage.js'
import {FaultProxy, type ProxiedRequest} from '../helpers/fault-proxy.js'
import {createTestBucket, credentialsFor, s3rverEndpoint, testS3Client, useS3Env} from '../helpers/s3.js'

const INTERNAL = {type: 'status', status: 500, code: 'InternalError'} as const
const framed = (r: ProxiedRequest) => /aws-chunked/.test(r.headers?.['content-encoding'] ?? '') || /^STREAMING-/.test(r.headers?.['x-amz-content-sha256'] ?? '')
const bodyWrites = (r: ProxiedRequest) => r.method === 'PUT'

// s3rver stores an aws-chunked body verbatim, framing and trailing checksum included, as the object's bytes. Every SDK
// client bucketwright makes (createS3Client: storage, upload-daemon, init) must send plain bodies, with the checksums
// bucketwright computes itself (Content-MD5), whatever body a caller hands it.
describe('the S3 client sends plain bodies that s3rver stores as sent', () => {
  const endpoint = s3rverEndpoint()
  let proxy: FaultProxy
  let bucket: string

  beforeAll(async () => {
    useS3Env(endpoint)
    bucket = await createTestBucket('bw-client', testS3Client(endpoint))
    proxy = await new FaultProxy(endpoint).start()
  })

  afterAll(async () => {
    await proxy.stop()
  })

  beforeEach(() => {
    proxy.plan = () => ({type: 'pass'})
    proxy.requests.length = 0
  })

  const stored = async (key: string) => Buffer.from(await (await testS3Client(endpoint).send(new GetObjectCommand({Bucket: bucket, Key: key}))).Body!.transformToByteArray())

  it('the SDK left to its defaults frames a streamed body, and s3rver keeps the framing (the hazard is real)', async () => {
    const client = new S3Client({endpoint: proxy.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: credentialsFor(endpoint)})
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'default/framed.txt', Body: Readable.from([Buffer.from('hello')]), ContentLength: 5}))
    client.destroy()
    expect(proxy.requests.filter(framed)).toHaveLength(1)
    expect((await stored('default/framed.txt')).toString()).not.toBe('hello')
  })

  it('createS3Client never frames a body: streamed or in hand, with or without a checksum, single or multipart', async () => {
    const {client} = await createS3Client({endpoint: proxy.endpoint, region: 'us-east-1', maxAttempts: 1})
    try {
      const hello = Buffer.from('hello')
      const crc32 = 'NhCmhg==' // CRC32 of "hello", as upload-daemon sends it
      await client.send(new PutObjectCommand({Bucket: bucket, Key: 'ours/stream.txt', Body: Readable.from([hello]), ContentLength: 5}))
      await client.send(new PutObjectCommand({Bucket: bucket, Key: 'ours/stream-crc.txt', Body: Readable.from([hello]), ContentLength: 5, ChecksumCRC32: crc32}))
      await client.send(new PutObjectCommand({Bucket: bucket, Key: 'ours/buffer-crc.txt', Body: hello, ChecksumCRC32: crc32, ContentMD5: createHash('md5').update(hello).digest('base64')}))
      const part = Buffer.alloc(5 * 1024 * 1024, 7)
      const {UploadId} = await client.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: 'ours/multipart.bin'}))
      const one = await client.send(new UploadPartCommand({Bucket: bucket, Key: 'ours/multipart.bin', UploadId, PartNumber: 1, Body: Readable.from([part]), ContentLength: part.length}))
      const two = await client.send(new UploadPartCommand({Bucket: bucket, Key: 'ours/multipart.bin', UploadId, PartNumber: 2, Body: hello}))
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'ours/multipart.bin',
          UploadId,
          MultipartUpload: {
            Parts: [
              {ETag: one.ETag, PartNumber: 1},
              {ETag: two.ETag, PartNumber: 2},
            ],
          },
        }),
      )
      expect(proxy.count(bodyWrites)).toBe(5)
      expect(proxy.requests.filter(framed)).toEqual([])
      for (const key of ['ours/stream.txt', 'ours/stream-crc.txt', 'ours/buffer-crc.txt']) expect((await stored(key)).toString()).toBe('hello')
      expect((await stored('ours/multipart.bin')).equals(Buffer.concat([part, hello]))).toBe(true)
    } finally {
      client.destroy()
    }
  })

  it('storage writes go plain with a Content-MD5 on every body, on the lean path and through the SDK after it fails', async () => {
    const storage = (await openStorage(`s3://${bucket}/storage/`, {endpoint: proxy.endpoint, retryBaseMs: 1, partSize: 5 * 1024 * 1024})) as S3Storage
    try {
      const big = Buffer.alloc(11 * 1024 * 1024, 3)
      big.write('first', 0)
      await storage.write('lean.bin', big)
      await storage.write('lean.txt', 'small body')
      // Each body request fails once on the lean path, so the SDK (which marks its requests `x-id=`) sends it again.
      proxy.plan = (r) => (r.method === 'PUT' && !r.url.includes('x-id=') ? INTERNAL : {type: 'pass'})
      await storage.write(
        'sdk.bin',
        (async function* () {
          for (let at = 0; at < big.length; at += 1_000_000) yield big.subarray(at, at + 1_000_000)
        })(),
      )
      await storage.write('sdk.txt', Readable.from([Buffer.from('small body')]))
      const sdkWrites = proxy.requests.filter((r) => bodyWrites(r) && r.url.includes('x-id='))
      expect(sdkWrites.map((r) => new URL(r.url, 'http://x').searchParams.get('x-id')).sort()).toEqual(['PutObject', 'UploadPart', 'UploadPart', 'UploadPart'])
      expect(proxy.count((r) => bodyWrites(r) && !r.url.includes('x-id='))).toBeGreaterThanOrEqual(5)
      expect(proxy.requests.filter(framed)).toEqual([])
      expect(proxy.requests.filter((r) => bodyWrites(r) && !r.headers?.['content-md5'])).toEqual([])
      for (const key of ['lean.bin', 'sdk.bin']) expect((await storage.readBytes(key)).equals(big)).toBe(true)
      for (const key of ['lean.txt', 'sdk.txt']) expect((await storage.readBytes(key)).toString()).toBe('small body')
    } finally {
      await storage.close()
    }
  })
})
