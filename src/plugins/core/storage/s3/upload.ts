import {createHash} from 'node:crypto'
import {EventEmitter} from 'node:events'

import {RemoteError, UsageError} from '../../errors/errors.js'
import {BodyDigest} from '../body-digest.js'
import {etagVouchesFor, multipartEtag, type SentBody} from './etag.js'
import type {S3Requests} from './fallback.js'
import type {S3ErrorContext} from './s3-errors.js'
import type {ObjectAttributes} from './transport.js'

const MiB = 1024 * 1024
/** S3's limits: every part but the last at least 5 MiB, at most 5 GiB, at most 10,000 parts. */
export const MIN_PART_SIZE = 5 * MiB
export const MAX_PART_SIZE = 5 * 1024 * MiB
export const MAX_PARTS = 10_000

/** Settings of one {@link Upload}, in one object (as lib-storage's `Upload` takes them). */
export interface UploadOptions {
  /** The connection's requests (lean first, then the SDK: see requests.ts). */
  requests: S3Requests
  bucket: string
  /** The object's whole key in the bucket. */
  key: string
  /** The bytes: in hand, or streamed (a Readable, any async iterable of chunks). */
  body: Uint8Array | string | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>
  /** Part size in bytes (default 8 MiB); a body up to one part goes up in a single PUT. */
  partSize?: number
  /** Parts in flight at once (default 4). */
  queueSize?: number
  /** The body's size when it is known ahead (reported as `total`; checked against the 10,000-part limit). */
  size?: number
  attributes?: ObjectAttributes
  /** Aborting stops the upload: a multipart upload is aborted, leaving no parts and no object. */
  signal?: AbortSignal
  /** Where the object is, for errors in the user's words (endpoint, region, profile). */
  context?: Omit<S3ErrorContext, 'operation' | 'bucket' | 'key'>
}

/** Sent after each part (or the single PUT) the store took. */
export interface UploadProgress {
  /** Bytes the store took so far. */
  loaded: number
  /** The body's size, when known. */
  total?: number
  /** The part just sent (1 for a single PUT). */
  part: number
}

/** What the store answered, and what was sent. */
export interface UploadResult {
  etag?: string
  serverSideEncryption?: string
  /** Size and digests of the bytes sent. */
  sent: SentBody
  /** Parts of a multipart upload; 0 for a single PUT. */
  parts: number
}

/**
 * One upload of a body to a key: a single PUT when the body fits in one part, else a multipart upload with
 * `queueSize` parts in flight while the body is read on. Every PUT and part carries its Content-MD5. A multipart
 * upload that fails or is aborted is aborted at the store, leaving no parts behind. Shaped like lib-storage's
 * `Upload`: one options object, a constructor that checks it, `on('progress')`, `done()`.
 */
export class Upload extends EventEmitter<{progress: [UploadProgress]}> {
  private readonly partSize: number
  private readonly queueSize: number
  private readonly total?: number
  private running?: Promise<UploadResult>

  constructor(private readonly options: UploadOptions) {
    super()
    const {partSize = 8 * MiB, queueSize = 4} = options
    const where = `s3://${options.bucket}/${options.key}`
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
      throw new UsageError(`The part size for ${where} must be a whole number of bytes from 5 MiB to 5 GiB (got ${partSize}).`, {
        code: 'BAD_PART_SIZE',
        nextSteps: ['Use a part size of at least 5 MiB (8 MiB is the default).'],
        details: {partSize},
      })
    }
    if (!Number.isSafeInteger(queueSize) || queueSize < 1) {
      throw new UsageError(`The number of parts in flight for ${where} must be a whole number of at least 1 (got ${queueSize}).`, {code: 'BAD_QUEUE_SIZE', details: {queueSize}})
    }
    const whole = typeof options.body === 'string' ? Buffer.byteLength(options.body) : options.body instanceof Uint8Array ? options.body.length : undefined
    this.total = whole ?? options.size
    if (this.total !== undefined && Math.ceil(this.total / partSize) > MAX_PARTS) throw tooManyParts(where, this.total, partSize)
    this.partSize = partSize
    this.queueSize = queueSize
  }

  /** Runs the upload (once: a second call returns the same promise). */
  done(): Promise<UploadResult> {
    this.running ??= this.run()
    return this.running
  }

  private context(operation: string): S3ErrorContext {
    return {...this.options.context, operation, bucket: this.options.bucket, key: this.options.key}
  }

  private async run(): Promise<UploadResult> {
    const {body, signal} = this.options
    signal?.throwIfAborted()
    const digest = new BodyDigest()
    const whole = typeof body === 'string' || body instanceof Uint8Array ? Buffer.from(body) : undefined
    const pool = new PartBuffers(this.partSize)
    const onBytes = (bytes: Uint8Array) => digest.update(bytes)
    // A body in hand that fits one part goes up as it is; anything else is cut into parts.
    const parts = whole && whole.length <= this.partSize ? onePart(whole, onBytes) : partsOf(whole ? [whole] : (body as AsyncIterable<Uint8Array | string>), pool, onBytes)
    const first = await parts.next()
    const finish = (partMd5s?: Buffer[]): SentBody => {
      const {md5, sha256} = digest.finish()
      return {size: digest.size, md5, sha256, multipartEtag: partMd5s && multipartEtag(partMd5s)}
    }
    if (first.done || first.value.last) {
      const sent = finish()
      const bytes = first.done ? Buffer.alloc(0) : first.value.body
      const md5Base64 = Buffer.from(sent.md5, 'hex').toString('base64')
      const {bucket, key, attributes = {}} = this.options
      const stored = await this.options.requests.send(this.context('PutObject'), (transport) => transport.put(bucket, key, bytes, md5Base64, {...attributes, sha256: sent.sha256}, signal))
      this.emit('progress', {loaded: bytes.length, total: this.total ?? bytes.length, part: 1})
      return {...stored, sent, parts: 0}
    }
    return this.multipart(first.value.body, parts, pool, finish)
  }

  /**
   * A multipart upload of `first` and the parts that follow, `queueSize` parts in flight while the body is read on;
   * aborted (its parts removed) when anything fails. `finish` gives the digests of what was sent once it is read.
   */
  private async multipart(first: Buffer, rest: AsyncIterator<Part>, pool: PartBuffers, finish: (partMd5s: Buffer[]) => SentBody): Promise<UploadResult> {
    const {requests, bucket, key, attributes = {}} = this.options
    const uploadId = await requests.send(this.context('CreateMultipartUpload'), (transport) => transport.createMultipart(bucket, key, attributes, this.options.signal))
    if (!uploadId) throw new RemoteError(`S3 started no multipart upload for s3://${bucket}/${key} (no UploadId in its answer).`, {code: 'UPLOAD_FAILED'})
    const stop = new AbortController()
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, stop.signal]) : stop.signal
    const digests: Buffer[] = []
    const etags: string[] = []
    const inFlight = new Set<Promise<void>>()
    let failure: {error: unknown} | undefined
    let loaded = 0
    try {
      let part: Buffer | undefined = first
      for (let index = 0; part; index++) {
        const number = index + 1
        if (number > MAX_PARTS) throw tooManyParts(`s3://${bucket}/${key}`, undefined, this.partSize)
        const sending = part
        const task: Promise<void> = this.uploadPart(uploadId, number, sending, signal).then(
          (sent) => {
            digests[index] = sent.md5
            etags[index] = sent.etag
            loaded += sending.length
            pool.release(sending)
            this.emit('progress', {loaded, total: this.total, part: number})
          },
          (error: unknown) => {
            failure ??= {error}
            stop.abort()
          },
        )
        inFlight.add(task)
        void task.then(() => inFlight.delete(task))
        if (inFlight.size >= this.queueSize) await Promise.race(inFlight)
        if (failure) break
        const next = await rest.next()
        part = next.done ? undefined : next.value.body
      }
      await Promise.all(inFlight)
      if (failure) throw failure.error
      this.options.signal?.throwIfAborted()
      const sent = finish(digests)
      const done = await requests.send(
        this.context('CompleteMultipartUpload'),
        (transport) => transport.completeMultipart(bucket, key, uploadId, etags, signal),
        async (error) => {
          // The lean request may have completed the upload before its answer was lost: then the object is there.
          if ((error as Error).name !== 'NoSuchUpload') return undefined
          const now = await requests.send(this.context('HeadObject'), (transport) => transport.head(bucket, key, {signal}))
          return etagVouchesFor(now?.etag, sent) ? {etag: now!.etag} : undefined
        },
      )
      return {...done, sent, parts: etags.length}
    } catch (error) {
      stop.abort()
      await Promise.all(inFlight)
      await requests.send(this.context('AbortMultipartUpload'), (transport) => transport.abortMultipart(bucket, key, uploadId)).catch(() => {})
      // Let go of the body's source (a file stream is closed) unless it is what failed.
      await rest.return?.(undefined)?.catch(() => {})
      throw error
    }
  }

  private async uploadPart(uploadId: string, number: number, body: Buffer, signal: AbortSignal): Promise<{md5: Buffer; etag: string}> {
    const {requests, bucket, key} = this.options
    const md5 = createHash('md5').update(body).digest()
    const md5Base64 = md5.toString('base64')
    const {etag} = await requests.send(this.context('UploadPart'), (transport) => transport.uploadPart(bucket, key, uploadId, number, body, md5Base64, signal))
    if (!etag) throw new RemoteError(`S3 returned no ETag for part ${number} of s3://${bucket}/${key}.`, {code: 'UPLOAD_FAILED'})
    return {md5, etag}
  }
}

function tooManyParts(where: string, size: number | undefined, partSize: number): UsageError {
  return new UsageError(`${where} would take more than ${MAX_PARTS.toLocaleString('en-US')} parts of ${partSize} bytes${size === undefined ? '' : ` (${size} bytes)`}, S3's limit for one upload.`, {
    code: 'TOO_MANY_PARTS',
    nextSteps: [`Use a part size of at least ${size === undefined ? 'a ten-thousandth of the body' : Math.ceil(size / MAX_PARTS)} bytes.`],
    details: {size, partSize},
  })
}

/** One part of a body being written, and whether it is the last. */
interface Part {
  body: Buffer
  last: boolean
}

/**
 * Part-size buffers, reused: an upload holds at most `queueSize` parts in flight, one held back and one filling, so
 * its memory stays the same whatever the body's size, and no part becomes garbage for the GC to find later.
 */
class PartBuffers {
  private readonly free: Buffer[] = []

  constructor(readonly size: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  /** Gives back a part that has been sent (a full one: the last, shorter part is never reused). */
  release(part: Buffer): void {
    if (part.length === this.size && part.byteOffset === 0 && part.buffer.byteLength === this.size) this.free.push(part)
  }
}

/** A body already in hand, as its single last part. */
async function* onePart(body: Buffer, onBytes: (bytes: Uint8Array) => void): AsyncGenerator<Part> {
  if (body.length > 0) onBytes(body)
  yield {body, last: true}
}

/**
 * Cuts a body into parts of exactly the pool's size (the last one shorter, or empty for an empty body), copying the
 * chunks into reused part buffers and calling `onBytes` for each chunk read. A full part is held back until the
 * next byte shows whether more follows, so a body of one part goes up in a single PUT.
 */
async function* partsOf(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, pool: PartBuffers, onBytes: (bytes: Uint8Array) => void): AsyncGenerator<Part> {
  let part: Buffer | undefined
  let fill = 0
  let held: Buffer | undefined
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    if (bytes.length === 0) continue
    onBytes(bytes)
    for (let offset = 0; offset < bytes.length;) {
      if (held) {
        yield {body: held, last: false}
        held = undefined
      }
      part ??= pool.take()
      const n = Math.min(pool.size - fill, bytes.length - offset)
      part.set(bytes.subarray(offset, offset + n), fill)
      fill += n
      offset += n
      if (fill === pool.size) {
        held = part
        part = undefined
        fill = 0
      }
    }
  }
  yield held ? {body: held, last: true} : {body: part ? part.subarray(0, fill) : Buffer.alloc(0), last: true}
}
