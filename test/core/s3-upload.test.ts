import {GetObjectCommand, HeadObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/plugins/core/errors/errors.js'
import type {S3Requests} from '../../src/plugins/core/storage/s3/fallback.js'
import {S3Connection} from '../../src/plugins/core/storage/s3/s3-client.js'
import {multipartEtag} from '../../src/plugins/core/storage/s3/etag.js'
import {type PartLender, type RangeSource, SourceChanged, Upload, type UploadProgress} from '../../src/plugins/core/storage/s3/upload.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'

const MiB = 1024 * 1024
const PART = 5 * MiB

/** A body that differs at every offset, so a misplaced or lost part changes its digest. */
function bodyOf(size: number, seed: number): Buffer {
  const body = Buffer.alloc(size)
  let state = seed
  for (let i = 0; i + 4 <= size; i += 4) {
    state = (state * 1103515245 + 12345) >>> 0
    body.writeUInt32LE(state, i)
  }
  return body
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex')

/** The body in chunks of 1 MiB, as a stream would hand them over (sizes that do not line up with the parts). */
async function* chunksOf(body: Buffer, size = MiB + 7): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < body.length; offset += size) yield body.subarray(offset, offset + size)
}

async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
    return true
  } catch (error) {
    if ((error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return false
    throw error
  }
}

describe.each(s3Servers())('Upload (one multipart upload for storage and daemon) on $name', ({name, endpoint}) => {
  let connection: S3Connection
  let client: S3Client
  let bucket: string

  beforeAll(async () => {
    useS3Env(endpoint)
    client = testS3Client(endpoint)
    bucket = await createTestBucket('bw-upload', client)
    connection = new S3Connection({endpoint, retryBaseMs: 2, maxAttempts: 3})
  })

  afterAll(() => {
    connection.close()
    client.destroy()
  })

  /** The upload ids the store handed out, seen on their way through the connection's requests. */
  const uploadIds: string[] = []
  const recording = () => {
    const requests = connection.requests()
    return {
      send: (context, request, recover) =>
        requests.send(
          context,
          async (transport) => {
            const out = await request(transport)
            if (context.operation === 'CreateMultipartUpload') uploadIds.push(out as string)
            return out
          },
          recover,
        ),
      leanOnly: (context, request) => requests.leanOnly(context, request),
    } as Pick<S3Requests, 'send' | 'leanOnly'> as S3Requests
  }
  const upload = (key: string, options: Partial<ConstructorParameters<typeof Upload>[0]> = {}) => new Upload({requests: recording(), bucket, key, body: Buffer.alloc(0), ...options})

  /** A body read by position, as the upload daemon reads a file; `shrinkAt`: from there on it reads nothing. */
  const sourceOf = (body: Buffer, shrinkAt = Infinity): RangeSource & {reads: number[]} => {
    const reads: number[] = []
    return {
      size: body.length,
      reads,
      read: async (into, position) => {
        reads.push(position)
        if (position >= shrinkAt) return 0
        const n = Math.min(into.length, body.length - position, shrinkAt - position)
        body.copy(into, 0, position, position + n)
        return n
      },
    }
  }
  /** A lender that counts: every buffer it lends must come back, and no more than `limit` are out at once. */
  const countingLender = () => {
    const out = new Set<Buffer>()
    let most = 0
    const lender: PartLender & {out: Set<Buffer>; most: () => number} = {
      out,
      most: () => most,
      borrow: async (length) => {
        const buffer = Buffer.allocUnsafe(length)
        out.add(buffer)
        most = Math.max(most, out.size)
        return buffer
      },
      giveBack: (buffer) => void out.delete(buffer),
    }
    return lender
  }

  it('a body read by position goes up in parts read at their offsets, in lent buffers all given back; its multipart ETag is the one sent', async () => {
    const body = bodyOf(3 * PART + 4321, 11)
    const source = sourceOf(body)
    const lender = countingLender()
    const result = await upload('range/four-parts', {body: source, partSize: PART, queueSize: 2, lender}).done()
    expect(result.parts).toBe(4)
    const partMd5s = Array.from({length: 4}, (_, i) =>
      createHash('md5')
        .update(body.subarray(i * PART, (i + 1) * PART))
        .digest(),
    )
    expect(result.sent).toMatchObject({size: body.length, multipartEtag: multipartEtag(partMd5s), partSize: PART})
    // Parts were read by position, not as a stream: no whole-body digest is claimed.
    expect(result.sent.md5).toBeUndefined()
    expect(result.sent.sha256).toBeUndefined()
    expect([...new Set(source.reads)].sort((a, b) => a - b)).toEqual([0, PART, 2 * PART, 3 * PART])
    expect(lender.out.size).toBe(0)
    expect(lender.most()).toBeLessThanOrEqual(3)
    if (name === 'fauxqs') expect(result.etag).toBe(multipartEtag(partMd5s))
    const stored = await client.send(new GetObjectCommand({Bucket: bucket, Key: 'range/four-parts'}))
    expect(md5(Buffer.from(await stored.Body!.transformToByteArray()))).toBe(md5(body))
  })

  it('a body read by position that shrinks midway: SourceChanged, nothing completed under the key, every lent buffer given back', async () => {
    const body = bodyOf(3 * PART, 12)
    const lender = countingLender()
    const error = await upload('range/shrinks', {body: sourceOf(body, 2 * PART + 10), partSize: PART, queueSize: 1, lender})
      .done()
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SourceChanged)
    expect(lender.out.size).toBe(0)
    expect(await objectExists(client, bucket, 'range/shrinks')).toBe(false)
  })

  it("a body read by position up to the single-PUT limit goes up in one PUT, hashed by the caller's digest", async () => {
    const body = bodyOf(PART + 17, 13)
    let digested = 0
    const partDigest = async (bytes: Buffer) => (digested++, createHash('md5').update(bytes).digest())
    const result = await upload('range/one-put', {body: sourceOf(body), partSize: PART, singlePutLimit: 2 * PART, partDigest}).done()
    expect(result.parts).toBe(0)
    expect(digested).toBe(1)
    expect(result.sent.md5).toBe(md5(body))
    expect(result.etag).toBe(md5(body))
  })

  it('refuses a part size under 5 MiB, a queue under 1 and a body of more than 10,000 parts, before any request', () => {
    const before = connection.stats.attempts
    const refused = (make: () => unknown) => {
      try {
        make()
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError)
        return error as UsageError
      }
      throw new Error('the constructor accepted it')
    }
    const small = refused(() => upload('small-part', {partSize: PART - 1}))
    expect(small.code).toBe('BAD_PART_SIZE')
    expect(small.message).toContain(String(PART - 1))
    expect(refused(() => upload('fraction', {partSize: PART + 0.5})).code).toBe('BAD_PART_SIZE')
    expect(refused(() => upload('no-queue', {queueSize: 0})).code).toBe('BAD_QUEUE_SIZE')
    const many = refused(() => upload('too-many', {body: chunksOf(Buffer.alloc(0)), size: 10_000 * PART + 1, partSize: PART}))
    expect(many.code).toBe('TOO_MANY_PARTS')
    // The limit itself is allowed: exactly 10,000 parts.
    expect(() => upload('just-fits', {body: chunksOf(Buffer.alloc(0)), size: 10_000 * PART, partSize: PART})).not.toThrow()
    expect(connection.stats.attempts).toBe(before)
  })

  it('streams a body of three parts: progress events count each part once and sum to the size; the object holds the bytes', async () => {
    const body = bodyOf(2 * PART + 1234567, 1)
    const events: UploadProgress[] = []
    const sending = upload('progress/three-parts', {body: chunksOf(body), size: body.length, partSize: PART, queueSize: 2})
    sending.on('progress', (event) => events.push({...event}))
    const result = await sending.done()
    expect(result.parts).toBe(3)
    expect(result.sent.size).toBe(body.length)
    expect(result.sent.md5).toBe(md5(body))
    expect(events.map((event) => event.part).sort()).toEqual([1, 2, 3])
    // Each event's `loaded` grows by exactly the part it reports; together they are the body.
    expect(events.map((event) => event.loaded)).toEqual([...events.map((event) => event.loaded)].sort((a, b) => a - b))
    expect(events.at(-1)!.loaded).toBe(body.length)
    const partSizes = events.map((event, i) => event.loaded - (i === 0 ? 0 : events[i - 1].loaded))
    expect(partSizes.reduce((a, b) => a + b, 0)).toBe(body.length)
    expect([...partSizes].sort((a, b) => a - b)).toEqual([1234567, PART, PART])
    expect(events.every((event) => event.total === body.length)).toBe(true)
    const stored = await client.send(new GetObjectCommand({Bucket: bucket, Key: 'progress/three-parts'}))
    expect(md5(Buffer.from(await stored.Body!.transformToByteArray()))).toBe(md5(body))
  })

  it('a body in hand up to one part goes up in one PUT, with one progress event of its size', async () => {
    const body = bodyOf(300_000, 2)
    const events: UploadProgress[] = []
    const sending = upload('progress/one-put', {body, partSize: PART})
    sending.on('progress', (event) => events.push(event))
    const result = await sending.done()
    expect(result.parts).toBe(0)
    expect(result.etag).toBe(md5(body))
    expect(events).toEqual([{loaded: body.length, total: body.length, part: 1}])
  })

  it('an aborted signal stops a multipart upload midway: done() rejects, no object is left under the key', async () => {
    const key = 'abort/midway'
    uploadIds.length = 0
    const controller = new AbortController()
    let partOneSent!: () => void
    const sentOne = new Promise<void>((resolve) => (partOneSent = resolve))
    let produced = 0
    async function* body(): AsyncGenerator<Buffer> {
      // Two full parts' worth, so the first part goes up; then wait until the store took it, and go on after the abort.
      yield bodyOf(PART, 3)
      yield bodyOf(PART, 4)
      produced += 2
      await sentOne
      for (let i = 0; i < 4; i++) {
        produced++
        yield bodyOf(PART, 5 + i)
      }
    }
    const sending = upload(key, {body: body(), partSize: PART, queueSize: 1, signal: controller.signal})
    const parts: number[] = []
    sending.on('progress', (event) => {
      parts.push(event.part)
      if (event.part === 1) {
        controller.abort()
        partOneSent()
      }
    })
    await expect(sending.done()).rejects.toMatchObject({name: 'AbortError'})
    expect(parts).toEqual([1])
    // The body was let go of once the upload stopped, not read to its end.
    expect(produced).toBeLessThan(6)
    expect(await objectExists(client, bucket, key)).toBe(false)
    if (name === 's3rver') {
      // s3rver does not implement AbortMultipartUpload: what is checked there is that no object was completed under
      // the key (and that the failed abort request did not replace the AbortError).
      return
    }
    // The upload itself is gone: a part sent to it now is refused.
    expect(uploadIds).toHaveLength(1)
    const {UploadPartCommand} = await import('@aws-sdk/client-s3')
    await expect(client.send(new UploadPartCommand({Bucket: bucket, Key: key, UploadId: uploadIds[0], PartNumber: 2, Body: Buffer.alloc(10)}))).rejects.toMatchObject({name: 'NoSuchUpload'})
  })

  it('a signal aborted before done() sends no request', async () => {
    const controller = new AbortController()
    controller.abort()
    const before = connection.stats.attempts
    await expect(upload('abort/before', {body: bodyOf(1000, 9), signal: controller.signal}).done()).rejects.toMatchObject({name: 'AbortError'})
    expect(connection.stats.attempts).toBe(before)
    expect(await objectExists(client, bucket, 'abort/before')).toBe(false)
  })
})
