import {createHash} from 'node:crypto'
import {EventEmitter} from 'node:events'

import {RemoteError, UsageError, VerificationError} from '../../errors/errors.js'
import {etagParts, etagVouchesFor, multipartEtag, type SentBody} from './etag.js'
import type {S3Requests} from './fallback.js'
import {FastPathError} from './fast-s3.js'
import type {S3ErrorContext} from './s3-errors.js'
import type {ObjectAttributes} from './transport.js'

const MiB = 1024 * 1024
/** S3's limits: every part but the last at least 5 MiB, at most 5 GiB, at most 10,000 parts. */
export const MIN_PART_SIZE = 5 * MiB
export const MAX_PART_SIZE = 5 * 1024 * MiB
export const MAX_PARTS = 10_000

/**
 * A body read by position (a local file): its parts are read at their offsets, each into a buffer of its own, so
 * nothing is copied twice and no stream has to be cut. Its size is fixed ahead; a read that comes back short means
 * the source shrank meanwhile ({@link SourceChanged}).
 */
export interface RangeSource {
  readonly size: number
  /** Fills `into` from `position` on, as far as it can; resolves to the bytes read (fewer: the source is shorter). */
  read(into: Buffer, position: number): Promise<number>
}

/**
 * Where the buffers for the parts of a {@link RangeSource} (and for its whole body in a single PUT) come from, and
 * go back to once the store took them: a memory budget shared by many uploads, or memory a worker thread can hash.
 */
export interface PartLender {
  borrow(length: number): Promise<Buffer>
  giveBack(buffer: Buffer): void
}

/** A {@link RangeSource} read fewer bytes than its size: it changed while it was uploaded. Nothing was completed. */
export class SourceChanged extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SourceChanged'
  }
}

/** What an upload can send: bytes in hand, a stream of chunks, or a source read by position. */
export type UploadBody = Uint8Array | string | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string> | RangeSource

/** Settings of one {@link Upload}, in one object (as lib-storage's `Upload` takes them). */
export interface UploadOptions {
  /** The connection's requests (lean first, then the SDK: see requests.ts). */
  requests: S3Requests
  bucket: string
  /** The object's whole key in the bucket. */
  key: string
  /** The bytes: in hand, streamed (a Readable, any async iterable of chunks), or read by position ({@link RangeSource}). */
  body: UploadBody
  /** Part size in bytes (default 8 MiB). */
  partSize?: number
  /**
   * Bodies up to this many bytes go up in a single PUT (default: the part size; a stream is cut into parts first,
   * so only a stream of one part does). A store that refuses a PUT that large (HTTP 413, EntityTooLarge) gets the
   * same bytes as a multipart upload instead ({@link UploadResult.putRefused}).
   */
  singlePutLimit?: number
  /** Parts in flight at once (default 4). */
  queueSize?: number
  /** The body's size when it is known ahead (reported as `total`; checked against the 10,000-part limit). */
  size?: number
  attributes?: ObjectAttributes
  /** Aborting stops the upload: a multipart upload is aborted, leaving no parts and no object. */
  signal?: AbortSignal
  /** Where the object is, for errors in the user's words (endpoint, region, profile). */
  context?: Omit<S3ErrorContext, 'operation' | 'bucket' | 'key'>
  /** The binary MD5 of a part (or of a single PUT's body), e.g. on a worker thread; by default on this thread. */
  partDigest?: (bytes: Buffer) => Promise<Buffer>
  /** The whole body's hex MD5 when the caller already has it (not computed again). */
  md5?: string
  /**
   * Compute the whole body's SHA-256 as it goes past (default true): what a write reports and verifies by. A body
   * read by position never has one (its parts are read out of order); neither does one sent with `sha256: false`.
   */
  sha256?: boolean
  /** Buffers for the parts of a {@link RangeSource} (default: allocated, then left to the GC). */
  lender?: PartLender
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
  /** The store refused the body in one PUT as too large (413), and it went up in parts. */
  putRefused?: boolean
}

/** Whether an error is the store refusing a body as too large for one request (HTTP 413, EntityTooLarge), on either transport. */
export function refusedAsTooLarge(error: unknown): boolean {
  return (
    (error instanceof FastPathError && error.status === 413) ||
    (error as {$metadata?: {httpStatusCode?: number}} | undefined)?.$metadata?.httpStatusCode === 413 ||
    (error as Error | undefined)?.name === 'EntityTooLarge' ||
    (error as {code?: string} | undefined)?.code === 'EntityTooLarge'
  )
}

function isRangeSource(body: UploadBody): body is RangeSource {
  return typeof body === 'object' && body !== null && !(body instanceof Uint8Array) && typeof (body as RangeSource).read === 'function' && typeof (body as RangeSource).size === 'number'
}

/** Bytes in hand as a Buffer over the same memory (never a copy). */
function asBuffer(body: Uint8Array | string): Buffer {
  if (typeof body === 'string') return Buffer.from(body)
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

/** The whole body's MD5 and SHA-256 as it streams past, each only when wanted; its size always. */
class WholeDigest {
  private readonly md5?: ReturnType<typeof createHash>
  private readonly sha256?: ReturnType<typeof createHash>
  size = 0

  constructor(md5: boolean, sha256: boolean) {
    if (md5) this.md5 = createHash('md5')
    if (sha256) this.sha256 = createHash('sha256')
  }

  update(chunk: Uint8Array): void {
    this.md5?.update(chunk)
    this.sha256?.update(chunk)
    this.size += chunk.length
  }

  finish(): {md5?: string; sha256?: string} {
    return {md5: this.md5?.digest('hex'), sha256: this.sha256?.digest('base64')}
  }
}

/**
 * One upload of a body to a key: a single PUT when the body is small enough, else a multipart upload with
 * `queueSize` parts in flight while the body is read on. Every PUT and part carries its Content-MD5; a part the
 * store answers with the MD5 of other bytes stops the upload before it completes. A multipart upload that fails or
 * is aborted is aborted at the store, leaving no parts behind. A single PUT refused as too large goes up in parts.
 * Shaped like lib-storage's `Upload`: one options object, a constructor that checks it, `on('progress')`, `done()`.
 */
export class Upload extends EventEmitter<{progress: [UploadProgress]}> {
  private readonly partSize: number
  private readonly queueSize: number
  private readonly singlePutLimit: number
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
    const singlePutLimit = options.singlePutLimit ?? partSize
    if (!Number.isSafeInteger(singlePutLimit) || singlePutLimit < 0 || singlePutLimit > MAX_PART_SIZE) {
      throw new UsageError(`The single-PUT limit for ${where} must be a whole number of bytes up to 5 GiB (got ${singlePutLimit}).`, {code: 'BAD_PUT_LIMIT', details: {singlePutLimit}})
    }
    const {body} = options
    const whole = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.length : isRangeSource(body) ? body.size : undefined
    this.total = whole ?? options.size
    if (this.total !== undefined && this.total > singlePutLimit && Math.ceil(this.total / partSize) > MAX_PARTS) throw tooManyParts(where, this.total, partSize)
    this.partSize = partSize
    this.queueSize = queueSize
    this.singlePutLimit = singlePutLimit
  }

  /** Runs the upload (once: a second call returns the same promise). */
  done(): Promise<UploadResult> {
    this.running ??= this.run()
    return this.running
  }

  private context(operation: string): S3ErrorContext {
    const {context, bucket, key} = this.options
    return {operation, bucket, key, endpoint: context?.endpoint, region: context?.region, profile: context?.profile}
  }

  private async run(): Promise<UploadResult> {
    const {body, signal} = this.options
    signal?.throwIfAborted()
    if (isRangeSource(body)) return this.fromSource(body)
    const digest = new WholeDigest(this.options.md5 === undefined, this.options.sha256 ?? true)
    const finish = (partMd5s?: Buffer[]): SentBody => {
      const {md5 = this.options.md5, sha256} = digest.finish()
      return partMd5s ? {size: digest.size, md5, sha256, multipartEtag: multipartEtag(partMd5s), partSize: this.partSize} : {size: digest.size, md5, sha256}
    }
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const whole = asBuffer(body)
      digest.update(whole)
      if (whole.length <= this.singlePutLimit) return this.putOrParts(whole, finish)
      // Parts of bytes in hand are views of them: nothing is copied.
      const [first, ...rest] = slices(whole, this.partSize)
      return this.multipart(first, rest.values(), finish)
    }
    // A stream is cut into parts (one of a single part, small enough, still goes up in one PUT).
    const pool = new PartBuffers(this.partSize)
    const onBytes = (bytes: Uint8Array) => digest.update(bytes)
    const parts = partsOf(body as AsyncIterable<Uint8Array | string>, pool, onBytes)
    const first = await parts.next()
    if (first.done || (first.value.last && first.value.body.length <= this.singlePutLimit)) {
      return this.putOrParts(first.done ? Buffer.alloc(0) : first.value.body, finish)
    }
    return this.multipart(
      withRelease(first.value, (part) => pool.release(part)),
      mapParts(parts, (part) => withRelease(part, (buffer) => pool.release(buffer))),
      finish,
    )
  }

  /**
   * A body read by position: one PUT of the whole when small enough (read into one buffer), else its parts read at
   * their offsets while earlier ones go up. Its whole MD5 is known only for a single PUT; a multipart upload is
   * vouched for by its multipart ETag.
   */
  private async fromSource(source: RangeSource): Promise<UploadResult> {
    const {lender, signal} = this.options
    const borrow = (length: number) => (lender ? lender.borrow(length) : Promise.resolve(Buffer.allocUnsafe(length)))
    const giveBack = (buffer: Buffer) => lender?.giveBack(buffer)
    const readWhole = async (into: Buffer, position: number) => {
      let filled = 0
      while (filled < into.length) {
        const n = await source.read(into.subarray(filled), position + filled)
        if (n === 0) throw new SourceChanged(`The body of s3://${this.options.bucket}/${this.options.key} is shorter than its ${source.size} bytes: it changed while it was read.`)
        filled += n
      }
    }
    if (source.size <= this.singlePutLimit) {
      const body = await borrow(source.size)
      try {
        signal?.throwIfAborted()
        await readWhole(body, 0)
        const md5 = this.options.md5 ?? (await this.md5Of(body)).toString('hex')
        return await this.putOrParts(body, () => ({size: body.length, md5}))
      } finally {
        giveBack(body)
      }
    }
    const {partSize} = this
    const count = Math.ceil(source.size / partSize)
    async function* parts(): AsyncGenerator<SendPart> {
      for (let index = 0; index < count; index++) {
        signal?.throwIfAborted()
        const offset = index * partSize
        const buffer = await borrow(Math.min(partSize, source.size - offset))
        try {
          await readWhole(buffer, offset)
        } catch (error) {
          giveBack(buffer)
          throw error
        }
        yield {body: buffer, release: () => giveBack(buffer)}
      }
    }
    const all = parts()
    const first = await all.next()
    return this.multipart(first.value as SendPart, all, (partMd5s) => ({size: source.size, multipartEtag: multipartEtag(partMd5s), partSize}))
  }

  private async md5Of(bytes: Buffer): Promise<Buffer> {
    return this.options.partDigest ? this.options.partDigest(bytes) : createHash('md5').update(bytes).digest()
  }

  /**
   * One PUT of a body in hand; when the store refuses it as too large (413), the same bytes as a multipart upload
   * of parts cut from it (no copy). `finish` gives the digests of the body (without parts: a single PUT).
   */
  private async putOrParts(bytes: Buffer, finish: (partMd5s?: Buffer[]) => SentBody): Promise<UploadResult> {
    const {bucket, key, attributes = {}, signal} = this.options
    const sent = finish()
    sent.md5 ??= (await this.md5Of(bytes)).toString('hex')
    const md5 = sent.md5
    const md5Base64 = Buffer.from(md5, 'hex').toString('base64')
    const putAttributes = sent.sha256 === undefined ? attributes : {...attributes, sha256: sent.sha256}
    let stored: {etag?: string; serverSideEncryption?: string}
    try {
      // A 413 on the lean path is the store's answer, not a fault: not sent again through the SDK.
      stored = await this.options.requests.send(this.context('PutObject'), (transport) => transport.put(bucket, key, bytes, md5Base64, putAttributes, signal), undefined, refusedAsTooLarge)
    } catch (error) {
      if (!refusedAsTooLarge(error) && !refusedAsTooLarge((error as {cause?: unknown}).cause)) throw error
      const [first, ...rest] = slices(bytes, this.partSize)
      const result = await this.multipart(first, rest.values(), (partMd5s) => ({...sent, md5, multipartEtag: multipartEtag(partMd5s), partSize: this.partSize}))
      return {...result, putRefused: true}
    }
    if (this.listenerCount('progress') > 0) this.emit('progress', {loaded: bytes.length, total: this.total ?? bytes.length, part: 1})
    return {etag: stored.etag, serverSideEncryption: stored.serverSideEncryption, sent, parts: 0}
  }

  /**
   * A multipart upload of `first` and the parts that follow, `queueSize` parts in flight while the body is read on;
   * aborted (its parts removed) when anything fails. `finish` gives the digests of what was sent once it is read.
   */
  private async multipart(first: SendPart, rest: AsyncIterator<SendPart> | Iterator<SendPart>, finish: (partMd5s: Buffer[]) => SentBody): Promise<UploadResult> {
    const {requests, bucket, key, attributes = {}} = this.options
    let uploadId: string
    try {
      uploadId = await requests.send(this.context('CreateMultipartUpload'), (transport) => transport.createMultipart(bucket, key, attributes, this.options.signal))
      if (!uploadId) throw new RemoteError(`S3 started no multipart upload for s3://${bucket}/${key} (no UploadId in its answer).`, {code: 'UPLOAD_FAILED'})
    } catch (error) {
      first.release?.()
      await rest.return?.(undefined)
      throw error
    }
    const stop = new AbortController()
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, stop.signal]) : stop.signal
    const digests: Buffer[] = []
    const etags: string[] = []
    const inFlight = new Set<Promise<void>>()
    let failure: {error: unknown} | undefined
    let loaded = 0
    try {
      let part: SendPart | undefined = first
      for (let index = 0; part; index++) {
        const number = index + 1
        if (number > MAX_PARTS) {
          part.release?.()
          throw tooManyParts(`s3://${bucket}/${key}`, undefined, this.partSize)
        }
        const sending: SendPart = part
        const task: Promise<void> = this.uploadPart(uploadId, number, sending.body, signal)
          .then(
            (sent) => {
              digests[index] = sent.md5
              etags[index] = sent.etag
              loaded += sending.body.length
              this.emit('progress', {loaded, total: this.total, part: number})
            },
            (error: unknown) => {
              failure ??= {error}
              stop.abort()
            },
          )
          .finally(() => sending.release?.())
        inFlight.add(task)
        void task.then(() => inFlight.delete(task))
        if (inFlight.size >= this.queueSize) await Promise.race(inFlight)
        if (failure) break
        const next = await rest.next()
        part = next.done ? undefined : next.value
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
      // Let go of the body's source (a file stream is closed, borrowed buffers given back) unless it is what failed.
      await Promise.resolve(rest.return?.(undefined)).catch(() => {})
      throw error
    }
  }

  private async uploadPart(uploadId: string, number: number, body: Buffer, signal: AbortSignal): Promise<{md5: Buffer; etag: string}> {
    const {requests, bucket, key} = this.options
    const md5 = await this.md5Of(body)
    signal.throwIfAborted()
    const out = await requests.send(this.context('UploadPart'), (transport) => transport.uploadPart(bucket, key, uploadId, number, body, md5.toString('base64'), signal))
    const {etag} = out
    if (!etag) throw new RemoteError(`S3 returned no ETag for part ${number} of s3://${bucket}/${key}.`, {code: 'UPLOAD_FAILED'})
    // A part ETag that is the MD5 of other bytes: stop before completing, so that an object already under the key is
    // not replaced. Any other form (SSE-KMS, other stores) is no digest: the whole object is checked once completed.
    const sent = md5.toString('hex')
    if (etagParts(etag) === 0 && etag !== sent && !out.serverSideEncryption?.startsWith('aws:kms')) {
      throw new VerificationError(`Part ${number} of s3://${bucket}/${key} was stored with ETag ${etag}, the MD5 of other bytes than the ${sent} sent; the upload is aborted.`, {
        code: 'UPLOAD_CORRUPTED',
        nextSteps: ['Run again. If this repeats, the S3-compatible server mishandles uploads (e.g. stores aws-chunked framing).'],
        details: {bucket, key, part: number, etag, expected: sent},
      })
    }
    return {md5, etag}
  }
}

/** A part on its way up, and what to do with its buffer once the store took it (or the upload stopped). */
interface SendPart {
  body: Buffer
  release?: () => void
}

/** Views of a body in hand, one a part (one, empty, for an empty body). */
function slices(bytes: Buffer, partSize: number): SendPart[] {
  return Array.from({length: Math.max(1, Math.ceil(bytes.length / partSize))}, (_, i) => ({body: bytes.subarray(i * partSize, (i + 1) * partSize)}))
}

function withRelease(part: Part, release: (buffer: Buffer) => void): SendPart {
  return {body: part.body, release: () => release(part.body)}
}

async function* mapParts(parts: AsyncGenerator<Part>, map: (part: Part) => SendPart): AsyncGenerator<SendPart> {
  for await (const part of parts) yield map(part)
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
