import type {S3Client} from '@aws-sdk/client-s3'
import {Readable} from 'node:stream'

import {createHash} from 'node:crypto'

import {RemoteError} from '../../errors/errors.js'
import {BodyDigest} from '../body-digest.js'
import {cleanEtag, etagVouchesFor, multipartEtag, type SentBody} from './etag.js'
import {type FastHead, type FastListPage, FastS3, objectHeaders} from './fast-s3.js'
import {listManyInOrder} from '../list-many.js'
import type {S3Connection, S3RequestStats} from './s3-client.js'
import {type S3ErrorContext, translateS3Error} from './s3-errors.js'
import type {Checksum, DeleteResult, ListManyOptions, ListOptions, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from '../types.js'

/** Tuning of an {@link S3Storage}. */
export interface S3StorageOptions {
  /** Multipart part size in bytes (default 8 MiB); bodies up to one part go up in a single PUT. */
  partSize?: number
  /** Parts in flight per upload (default 4). */
  queueSize?: number
  /** Re-requests of a GET body cut off mid-stream (default 5). */
  readResumes?: number
  endpoint?: string
  region?: string
  profile?: string
}

const sdk = () => import('@aws-sdk/client-s3')

/** S3 storage rooted at `s3://bucket/prefix/`. */
export class S3Storage implements Storage {
  readonly kind = 's3' as const
  readonly uri: string
  private readonly partSize: number
  private fast?: FastS3
  private fastFailures = 0

  constructor(
    private readonly connection: S3Connection,
    readonly bucket: string,
    readonly prefix: string,
    private readonly options: S3StorageOptions = {},
  ) {
    this.uri = `s3://${bucket}/${prefix}`
    this.partSize = options.partSize ?? 8 * 1024 * 1024
  }

  /** Requests and retries so far, by operation (shared by every storage of the same connection). */
  get stats(): S3RequestStats {
    return this.connection.stats
  }

  /** The SDK client (made, and the SDK loaded, on first use: listing, reading and writing usually need neither). */
  client(): Promise<S3Client> {
    return this.connection.client()
  }

  /** The SDK's commands and client, for a request the lean path could not do. */
  private sdk(): Promise<[typeof import('@aws-sdk/client-s3'), S3Client]> {
    return Promise.all([sdk(), this.client()])
  }

  private full(key: string): string {
    return this.prefix + key
  }

  private context(operation: string, key?: string): S3ErrorContext {
    return {operation, bucket: this.bucket, key: key === undefined ? undefined : this.full(key), endpoint: this.options.endpoint, region: this.options.region, profile: this.options.profile}
  }

  private async call<T>(operation: string, key: string | undefined, send: () => Promise<T>): Promise<T> {
    try {
      return await send()
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error
      throw translateS3Error(error, this.context(operation, key))
    }
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    for await (const page of this.listPages(prefix, options)) yield* page
  }

  async *listPages(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    let token: string | undefined
    do {
      const page = await this.listPage(prefix, options, token)
      // The page's objects are fresh: their keys are made relative in place, not copied into new objects.
      if (this.prefix) for (const item of page.objects) item.key = item.key.slice(this.prefix.length)
      yield page.objects
      token = page.nextToken
    } while (token)
  }

  /** One page of a listing: on the lean path, or through the SDK (retries, error translation) when that fails. */
  private async listPage(prefix: string, options: ListOptions, token: string | undefined): Promise<FastListPage> {
    const fast = await this.viaFastPath('ListObjectsV2', (lean) => lean.listPage(this.bucket, {prefix: this.full(prefix), token, startAfter: options.startAfter === undefined ? undefined : this.full(options.startAfter), maxKeys: options.pageSize, signal: options.signal}))
    if (fast) return fast
    const [{ListObjectsV2Command}, client] = await this.sdk()
    const page = await this.call('ListObjectsV2', undefined, () =>
      client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.full(prefix),
          ContinuationToken: token,
          StartAfter: token || options.startAfter === undefined ? undefined : this.full(options.startAfter),
          MaxKeys: options.pageSize,
        }),
        {abortSignal: options.signal},
      ),
    )
    return {
      objects: (page.Contents ?? []).filter((item) => item.Key).map((item) => ({key: item.Key!, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0), etag: cleanEtag(item.ETag)})),
      nextToken: page.IsTruncated ? page.NextContinuationToken : undefined,
    }
  }

  listMany(prefixes: string[], options: ListManyOptions = {}): AsyncIterable<ObjectInfo> {
    return listManyInOrder(this, prefixes, options)
  }

  async head(key: string, options: {checksum?: boolean; signal?: AbortSignal} = {}): Promise<ObjectInfo | undefined> {
    const fast = await this.viaFastPath('HeadObject', async (lean) => (await lean.head(this.bucket, this.full(key), options)) ?? null)
    if (fast === null) return undefined
    if (fast) return headInfo(key, fast)
    const [{HeadObjectCommand}, client] = await this.sdk()
    try {
      const out = await client.send(new HeadObjectCommand({Bucket: this.bucket, Key: this.full(key), ChecksumMode: options.checksum ? 'ENABLED' : undefined}), {abortSignal: options.signal})
      const checksums = {crc32: out.ChecksumCRC32, crc32c: out.ChecksumCRC32C, crc64nvme: out.ChecksumCRC64NVME, sha1: out.ChecksumSHA1, sha256: out.ChecksumSHA256}
      return headInfo(key, {
        size: out.ContentLength ?? 0,
        etag: cleanEtag(out.ETag),
        lastModified: out.LastModified,
        checksums: Object.fromEntries(Object.entries(checksums).filter((entry): entry is [string, string] => Boolean(entry[1]))),
        checksumType: out.ChecksumType,
        metadata: out.Metadata ?? {},
      })
    } catch (error) {
      const status = (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode
      if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey' || (status === 404 && (error as Error).name !== 'NoSuchBucket')) return undefined
      throw translateS3Error(error, this.context('HeadObject', key))
    }
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    const [{GetObjectCommand}, client] = await this.sdk()
    const start = options.range?.start ?? 0
    const end = options.range?.end
    const get = (from: number, ifMatch?: string) =>
      this.call('GetObject', key, () =>
        client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.full(key),
            Range: from > 0 || end !== undefined ? `bytes=${from}-${end ?? ''}` : undefined,
            IfMatch: ifMatch,
          }),
          {abortSignal: options.signal},
        ),
      )
    const first = await get(start)
    const etag = first.ETag
    const resumes = this.options.readResumes ?? 5
    const self = this
    // A body cut off mid-stream is requested again from the next byte, pinned to the same ETag so that a
    // concurrent overwrite can never splice two versions together.
    async function* body(): AsyncIterable<Buffer> {
      let position = start
      let response = first
      for (let attempt = 0; ; attempt++) {
        try {
          for await (const chunk of response.Body as Readable) {
            position += (chunk as Buffer).length
            yield chunk as Buffer
          }
          return
        } catch (error) {
          if (options.signal?.aborted || attempt >= resumes) {
            throw translateS3Error(error, self.context('GetObject', key))
          }
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt))
          response = await get(position, etag)
        }
      }
    }
    return Readable.from(body(), {objectMode: false})
  }

  /** The lean request path for listings and whole small objects, made on first use (its own keep-alive sockets). */
  private fastPath(): FastS3 {
    this.fast ??= new FastS3(this.connection.leanTarget(), 64)
    return this.fast
  }

  /**
   * Runs a request on the lean path unless it has kept failing (a bucket in another region answers 301 to every
   * request until the SDK follows it), counted in the stats as the SDK's requests are; `undefined` means "do it
   * through the SDK".
   */
  private async viaFastPath<T>(operation: string, request: (fast: FastS3) => Promise<T>): Promise<T | undefined> {
    if (this.fastFailures >= 3) return undefined
    this.stats.requests[operation] = (this.stats.requests[operation] ?? 0) + 1
    this.stats.attempts++
    try {
      const out = await request(this.fastPath())
      this.fastFailures = 0
      return out
    } catch (error) {
      // Whatever went wrong (a status, a cut-off body, credentials that will not resolve), the SDK does it again
      // and reports it in its words; only an abort stops here. The SDK counts its request itself: this attempt
      // becomes a retry of it.
      if ((error as Error).name === 'AbortError') throw error
      this.fastFailures++
      this.stats.requests[operation]--
      this.stats.retries++
      return undefined
    }
  }

  /**
   * Reads a whole object into one buffer of its own. Without a range it goes through the lean GET (a fraction of
   * the SDK's per-request CPU, which dominates when a run reads thousands of small objects); any failure there —
   * an error status, a cut-off body — is read again through the SDK, which resumes, retries and explains errors.
   */
  async readBytes(key: string, options: ReadOptions = {}): Promise<Buffer> {
    if (!options.range) {
      const fast = await this.viaFastPath('GetObject', (lean) => lean.get(this.bucket, this.full(key), options.signal))
      if (fast) return fast
    }
    const chunks: Buffer[] = []
    for await (const chunk of await this.read(key, options)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  /**
   * Writes a body: one PUT when it fits in a part, else a multipart upload with `queueSize` parts in flight. Each
   * request goes on the lean path and, when that fails, again through the SDK (retries, error translation). Every
   * PUT and part carries its Content-MD5, and the write is checked against the bytes sent (see
   * {@link confirmWrite}): an object the store kept other bytes of is removed, one it kept exactly never is. A
   * multipart upload that fails is aborted, leaving no parts behind.
   */
  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const digest = new BodyDigest()
    const whole = typeof body === 'string' || body instanceof Uint8Array ? Buffer.from(body) : undefined
    const pool = new PartBuffers(this.partSize)
    const onBytes = (bytes: Uint8Array) => {
      digest.update(bytes)
      options.onProgress?.(digest.size)
    }
    // A body in hand that fits one part goes up as it is; anything else is cut into parts.
    const parts = whole && whole.length <= this.partSize ? onePart(whole, onBytes) : partsOf(whole ? [whole] : (body as AsyncIterable<Uint8Array | string>), pool, onBytes)
    const first = await parts.next()
    const finish = (partMd5s?: Buffer[]): SentBody => {
      const {md5, sha256} = digest.finish()
      return {size: digest.size, md5, sha256, multipartEtag: partMd5s && multipartEtag(partMd5s)}
    }
    let stored: StoredWrite
    let sent: SentBody
    let partCount = 0
    if (first.done || first.value.last) {
      sent = finish()
      const bytes = first.done ? Buffer.alloc(0) : first.value.body
      stored = await this.putObject(key, bytes, Buffer.from(sent.md5, 'hex').toString('base64'), options)
    } else {
      ;({sent, parts: partCount, ...stored} = await this.multipart(key, first.value.body, parts, pool, finish, options))
    }
    await this.confirmWrite(key, stored, sent, options.signal)
    return {key, size: sent.size, etag: stored.etag, md5: sent.md5, sha256: sent.sha256, parts: partCount}
  }

  /**
   * Checks that the store kept exactly the bytes sent. An ETag that is the MD5 of the body, or the multipart ETag of
   * the parts as sent, says so (S3's forms; s3rver answers a multipart upload with the whole body's MD5). Under
   * SSE-KMS the ETag is no MD5; Content-MD5 checked every request's bytes instead. Any other answer — another form
   * or another value — proves nothing by itself, so the store is asked what it holds: its size, a full-object
   * SHA-256 when it keeps one, else the bytes read back. Only an object proven to differ is removed and reported
   * corrupted; one that cannot be read back is reported unverified and left alone.
   */
  private async confirmWrite(key: string, stored: StoredWrite, sent: SentBody, signal?: AbortSignal): Promise<void> {
    if (etagVouchesFor(stored.etag, sent) || stored.serverSideEncryption?.startsWith('aws:kms')) return
    let held: {size: number; sha256?: string} | undefined
    try {
      const head = await this.head(key, {checksum: true, signal})
      if (head) {
        const sha256 = fullSha256(head)
        held = head.size !== sent.size || sha256 ? {size: head.size, sha256} : await this.digestOf(key, signal)
      }
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error
      throw new RemoteError(`S3 answered the write of ${this.uri}${key} with ETag ${stored.etag ?? '(none)'}, which does not vouch for the bytes sent, and the object could not be read back to check them.`, {
        code: 'WRITE_UNVERIFIED',
        nextSteps: ['Run again. The object was left as it is: it may be complete.'],
        details: {key: this.full(key), etag: stored.etag, md5: sent.md5},
        cause: error,
      })
    }
    if (held?.size === sent.size && held.sha256 === sent.sha256) return
    // The store kept other bytes than were sent (or none): remove them rather than leave a corrupt object under the name.
    const removed = held !== undefined && (await this.delete([key]).then((result) => result.errors.length === 0, () => false))
    const found = held ? `${held.size} bytes with SHA-256 ${held.sha256}` : 'no object'
    throw new RemoteError(`S3 stored different bytes than were sent for ${this.uri}${key}: it holds ${found}, not the ${sent.size} bytes with SHA-256 ${sent.sha256} sent (ETag ${stored.etag ?? '(none)'}, expected ${sent.multipartEtag ?? sent.md5})${removed ? '; the object was removed' : held ? '; the object could not be removed' : ''}.`, {
      code: 'WRITE_CORRUPTED',
      nextSteps: ['Run again. If it repeats, the S3-compatible server mishandles uploads (e.g. aws-chunked encoding).'],
      details: {key: this.full(key), etag: stored.etag, expected: sent.multipartEtag ?? sent.md5, size: held?.size, sha256: held?.sha256, removed},
    })
  }

  /** Size, hex MD5 and base64 SHA-256 of an object's bytes, read back. */
  private async digestOf(key: string, signal?: AbortSignal): Promise<{size: number; md5: string; sha256: string}> {
    const md5 = createHash('md5')
    const sha256 = createHash('sha256')
    let size = 0
    for await (const chunk of await this.read(key, {signal})) {
      md5.update(chunk as Buffer)
      sha256.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
    return {size, md5: md5.digest('hex'), sha256: sha256.digest('base64')}
  }

  /** Whether two objects of the same size hold the same bytes, by the cheapest proof at hand (see {@link move}). */
  private async sameBytes(aKey: string, a: ObjectInfo, bKey: string, b: ObjectInfo, signal?: AbortSignal): Promise<boolean> {
    if (a.etag !== undefined && a.etag === b.etag) return true
    if (fullSha256(a) && fullSha256(b)) return fullSha256(a) === fullSha256(b)
    const source = await this.digestOf(aKey, signal)
    if (source.md5 === b.etag) return true
    const copy = await this.digestOf(bKey, signal)
    return source.size === copy.size && source.sha256 === copy.sha256
  }

  /** One PUT of a whole body with its Content-MD5. */
  private async putObject(key: string, bytes: Buffer, md5Base64: string, options: WriteOptions): Promise<StoredWrite> {
    const fast = await this.viaFastPath('PutObject', (lean) => lean.put(this.bucket, this.full(key), bytes, md5Base64, undefined, objectHeaders(options), options.signal))
    if (fast) return fast
    const [{PutObjectCommand}, client] = await this.sdk()
    const out = await this.call('PutObject', key, () =>
      client.send(
        new PutObjectCommand({Bucket: this.bucket, Key: this.full(key), Body: bytes, ContentMD5: md5Base64, ContentType: options.contentType, ContentEncoding: options.contentEncoding, Metadata: options.metadata}),
        {abortSignal: options.signal},
      ),
    )
    return {etag: cleanEtag(out.ETag), serverSideEncryption: out.ServerSideEncryption}
  }

  /**
   * A multipart upload of `first` and the parts that follow, `queueSize` parts in flight while the body is read on;
   * aborted (its parts removed) when anything fails. Returns what the store answered and, from `finish` once the
   * body is read, the digests of what was sent.
   */
  private async multipart(key: string, first: Buffer, rest: AsyncIterator<Part>, pool: PartBuffers, finish: (partMd5s: Buffer[]) => SentBody, options: WriteOptions): Promise<StoredWrite & {sent: SentBody; parts: number}> {
    const uploadId = await this.createUpload(key, options)
    const stop = new AbortController()
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
    const digests: Buffer[] = []
    const etags: string[] = []
    const inFlight = new Set<Promise<void>>()
    let failure: {error: unknown} | undefined
    try {
      let part: Buffer | undefined = first
      for (let index = 0; part; index++) {
        const number = index + 1
        const sending = part
        const task: Promise<void> = this.uploadPart(key, uploadId, number, sending, signal).then(
          (sent) => {
            digests[index] = sent.md5
            etags[index] = sent.etag
            pool.release(sending)
          },
          (error: unknown) => {
            failure ??= {error}
            stop.abort()
          },
        )
        inFlight.add(task)
        void task.then(() => inFlight.delete(task))
        if (inFlight.size >= (this.options.queueSize ?? 4)) await Promise.race(inFlight)
        if (failure) break
        const next = await rest.next()
        part = next.done ? undefined : next.value.body
      }
      await Promise.all(inFlight)
      if (failure) throw failure.error
      options.signal?.throwIfAborted()
      const sent = finish(digests)
      const done = await this.completeUpload(key, uploadId, etags, sent, signal)
      return {...done, sent, parts: etags.length}
    } catch (error) {
      stop.abort()
      await Promise.all(inFlight)
      await this.abortUpload(key, uploadId)
      // Let go of the body's source (a file stream is closed) unless it is what failed.
      await rest.return?.(undefined)?.catch(() => {})
      throw error
    }
  }

  private async createUpload(key: string, options: WriteOptions): Promise<string> {
    const fast = await this.viaFastPath('CreateMultipartUpload', (lean) => lean.createMultipart(this.bucket, this.full(key), objectHeaders(options), options.signal))
    if (fast) return fast
    const [{CreateMultipartUploadCommand}, client] = await this.sdk()
    const out = await this.call('CreateMultipartUpload', key, () =>
      client.send(new CreateMultipartUploadCommand({Bucket: this.bucket, Key: this.full(key), ContentType: options.contentType, ContentEncoding: options.contentEncoding, Metadata: options.metadata}), {abortSignal: options.signal}),
    )
    if (!out.UploadId) throw new RemoteError(`S3 started no multipart upload for ${this.uri}${key} (no UploadId in its answer).`, {code: 'UPLOAD_FAILED'})
    return out.UploadId
  }

  private async uploadPart(key: string, uploadId: string, number: number, body: Buffer, signal: AbortSignal): Promise<{md5: Buffer; etag: string}> {
    const md5 = createHash('md5').update(body).digest()
    const md5Base64 = md5.toString('base64')
    let etag = (await this.viaFastPath('UploadPart', (lean) => lean.uploadPart(this.bucket, this.full(key), uploadId, number, body, md5Base64, signal)))?.etag
    if (etag === undefined) {
      const [{UploadPartCommand}, client] = await this.sdk()
      const out = await this.call('UploadPart', key, () => client.send(new UploadPartCommand({Bucket: this.bucket, Key: this.full(key), UploadId: uploadId, PartNumber: number, Body: body, ContentMD5: md5Base64}), {abortSignal: signal}))
      etag = cleanEtag(out.ETag)
    }
    if (!etag) throw new RemoteError(`S3 returned no ETag for part ${number} of ${this.uri}${key}.`, {code: 'UPLOAD_FAILED'})
    return {md5, etag}
  }

  private async completeUpload(key: string, uploadId: string, etags: string[], sent: SentBody, signal: AbortSignal): Promise<StoredWrite> {
    const fast = await this.viaFastPath('CompleteMultipartUpload', (lean) => lean.completeMultipart(this.bucket, this.full(key), uploadId, etags, signal))
    if (fast) return fast
    const [{CompleteMultipartUploadCommand}, client] = await this.sdk()
    try {
      const out = await client.send(
        new CompleteMultipartUploadCommand({Bucket: this.bucket, Key: this.full(key), UploadId: uploadId, MultipartUpload: {Parts: etags.map((etag, index) => ({ETag: `"${etag}"`, PartNumber: index + 1}))}}),
        {abortSignal: signal},
      )
      return {etag: cleanEtag(out.ETag), serverSideEncryption: out.ServerSideEncryption}
    } catch (error) {
      // The lean request may have completed the upload before its answer was lost: then the object is there.
      if ((error as Error).name === 'NoSuchUpload') {
        const now = await this.head(key, {signal})
        if (etagVouchesFor(now?.etag, sent)) return {etag: now!.etag}
      }
      if ((error as Error).name === 'AbortError') throw error
      throw translateS3Error(error, this.context('CompleteMultipartUpload', key))
    }
  }

  private async abortUpload(key: string, uploadId: string): Promise<void> {
    const fast = await this.viaFastPath('AbortMultipartUpload', async (lean) => {
      await lean.abortMultipart(this.bucket, this.full(key), uploadId)
      return true
    }).catch(() => undefined)
    if (fast) return
    const [{AbortMultipartUploadCommand}, client] = await this.sdk()
    await client.send(new AbortMultipartUploadCommand({Bucket: this.bucket, Key: this.full(key), UploadId: uploadId})).catch(() => {})
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>, options: {signal?: AbortSignal} = {}): Promise<DeleteResult> {
    const [{DeleteObjectsCommand}, client] = await this.sdk()
    const result: DeleteResult = {deleted: [], errors: []}
    const flush = async (batch: string[]) => {
      const out = await this.call('DeleteObjects', undefined, () =>
        client.send(new DeleteObjectsCommand({Bucket: this.bucket, Delete: {Objects: batch.map((key) => ({Key: this.full(key)})), Quiet: true}}), {abortSignal: options.signal}),
      )
      const failed = new Set<string>()
      for (const error of out.Errors ?? []) {
        const key = (error.Key ?? '').slice(this.prefix.length)
        failed.add(key)
        result.errors.push({key, code: error.Code ?? 'ERROR', message: error.Message ?? ''})
      }
      for (const key of batch) if (!failed.has(key)) result.deleted.push(key)
    }
    let batch: string[] = []
    for await (const key of keys) {
      batch.push(key)
      if (batch.length === 1000) {
        await flush(batch)
        batch = []
      }
    }
    if (batch.length > 0) await flush(batch)
    return result
  }

  async copy(fromKey: string, toKey: string, options: {signal?: AbortSignal} = {}): Promise<void> {
    const [{CopyObjectCommand}, client] = await this.sdk()
    const path = `${this.bucket}/${this.full(fromKey)}`.split('/')
    const send = (source: string) => client.send(new CopyObjectCommand({Bucket: this.bucket, Key: this.full(toKey), CopySource: source}), {abortSignal: options.signal})
    const source = path.map(encodeURIComponent).join('/')
    // Some stores (s3rver) decode the copy source with decodeURI, which leaves `%3D`, `%26`, `%3A`… encoded, and
    // then find no such key: once more with those characters as they are (never `+ ? #`, which S3 would misread).
    const lenient = path.map((part) => encodeURIComponent(part).replaceAll(/%(3B|2C|3A|40|26|3D|24)/g, (escape) => decodeURIComponent(escape))).join('/')
    await this.call('CopyObject', toKey, () =>
      send(source).catch((error: unknown) => {
        if ((error as Error).name !== 'NoSuchKey' || lenient === source) throw error
        return send(lenient)
      }),
    )
  }

  /**
   * Copies, proves the copy holds the source's bytes, then deletes the source. The proof: the same ETag (a copy of
   * a single-part object keeps its MD5), else the same full-object SHA-256, else the bytes read back — the source's
   * MD5 against the copy's ETag (a copy of a multipart object is stored whole, its ETag the MD5), then both SHA-256s.
   */
  async move(fromKey: string, toKey: string, options: {signal?: AbortSignal} = {}): Promise<void> {
    const before = await this.head(fromKey, {checksum: true, signal: options.signal})
    if (!before) throw translateS3Error({name: 'NoSuchKey', $metadata: {httpStatusCode: 404}}, this.context('CopyObject', fromKey))
    await this.copy(fromKey, toKey, options)
    const after = await this.head(toKey, {checksum: true, signal: options.signal})
    if (!after || after.size !== before.size || !(await this.sameBytes(fromKey, before, toKey, after, options.signal))) {
      throw new RemoteError(`The copy of ${this.uri}${fromKey} to ${toKey} ${after ? 'holds other bytes than the source' : 'is not there'}; the source was kept.`, {
        code: 'COPY_UNVERIFIED',
        nextSteps: ['Run again: the move is redone from the source.'],
        details: {from: this.full(fromKey), to: this.full(toKey), etag: before.etag, copyEtag: after?.etag, size: before.size, copySize: after?.size},
      })
    }
    const deleted = await this.delete([fromKey], options)
    if (deleted.errors.length > 0) throw new RemoteError(`Could not delete ${this.uri}${fromKey} after copying it: ${deleted.errors[0].message}`, {code: 'DELETE_FAILED'})
  }

  sub(prefix: string): Storage {
    const normalized = prefix && !prefix.endsWith('/') ? prefix + '/' : prefix
    return new S3Storage(this.connection, this.bucket, this.prefix + normalized, this.options)
  }

  async close(): Promise<void> {
    this.fast?.close()
    this.connection.close()
  }
}

/** What the store answered a PUT or a completed multipart upload with. */
interface StoredWrite {
  etag?: string
  serverSideEncryption?: string
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
    for (let offset = 0; offset < bytes.length; ) {
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

/** The SHA-256 of the whole object a store keeps, if any (not a multipart upload's composite of its parts'). */
function fullSha256(info: ObjectInfo): string | undefined {
  return info.checksums?.find((c) => c.algorithm === 'SHA256' && c.type !== 'COMPOSITE' && !c.value.includes('-'))?.value
}

/** An object's info from a HEAD (lean, or the SDK's in the same shape): its checksums, the MD5 when the ETag is one. */
function headInfo(key: string, head: FastHead): ObjectInfo {
  const checksums: Checksum[] = []
  const type = head.checksumType as Checksum['type']
  for (const [algorithm, name] of [['CRC32', 'crc32'], ['CRC32C', 'crc32c'], ['CRC64NVME', 'crc64nvme'], ['SHA1', 'sha1'], ['SHA256', 'sha256']] as const) {
    if (head.checksums[name]) checksums.push({algorithm, value: head.checksums[name], type})
  }
  if (head.etag && /^[0-9a-f]{32}$/.test(head.etag)) checksums.push({algorithm: 'MD5', value: head.etag, type: 'FULL_OBJECT'})
  return {key, size: head.size, lastModified: head.lastModified ?? new Date(0), etag: head.etag, checksums, metadata: head.metadata}
}
