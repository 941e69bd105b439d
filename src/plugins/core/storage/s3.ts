import type {S3Client} from '@aws-sdk/client-s3'
import {Readable} from 'node:stream'

import {RemoteError} from '../errors/errors.js'
import {BodyDigest, cleanEtag} from './body-digest.js'
import {type FastListPage, FastS3} from './fast-s3.js'
import {listManyInOrder} from './list-many.js'
import type {S3RequestStats} from './s3-client.js'
import {type S3ErrorContext, translateS3Error} from './s3-errors.js'
import type {Checksum, DeleteResult, ListManyOptions, ListOptions, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from './types.js'

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
    readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
    readonly stats: S3RequestStats,
    private readonly options: S3StorageOptions = {},
  ) {
    this.uri = `s3://${bucket}/${prefix}`
    this.partSize = options.partSize ?? 8 * 1024 * 1024
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
    let token: string | undefined
    do {
      const page = await this.listPage(prefix, options, token)
      // The page's objects are fresh: their keys are made relative in place, not copied into new objects.
      if (this.prefix) for (const item of page.objects) item.key = item.key.slice(this.prefix.length)
      yield* page.objects
      token = page.nextToken
    } while (token)
  }

  /** One page of a listing: on the lean path, or through the SDK (retries, error translation) when that fails. */
  private async listPage(prefix: string, options: ListOptions, token: string | undefined): Promise<FastListPage> {
    const fast = await this.viaFastPath('ListObjectsV2', (lean) => lean.listPage(this.bucket, {prefix: this.full(prefix), token, startAfter: options.startAfter === undefined ? undefined : this.full(options.startAfter), maxKeys: options.pageSize, signal: options.signal}))
    if (fast) return fast
    const {ListObjectsV2Command} = await sdk()
    const page = await this.call('ListObjectsV2', undefined, () =>
      this.client.send(
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
    const {HeadObjectCommand} = await sdk()
    try {
      const out = await this.client.send(new HeadObjectCommand({Bucket: this.bucket, Key: this.full(key), ChecksumMode: options.checksum ? 'ENABLED' : undefined}), {abortSignal: options.signal})
      const checksums: Checksum[] = []
      const type = out.ChecksumType as Checksum['type']
      if (out.ChecksumCRC32) checksums.push({algorithm: 'CRC32', value: out.ChecksumCRC32, type})
      if (out.ChecksumCRC32C) checksums.push({algorithm: 'CRC32C', value: out.ChecksumCRC32C, type})
      if (out.ChecksumCRC64NVME) checksums.push({algorithm: 'CRC64NVME', value: out.ChecksumCRC64NVME, type})
      if (out.ChecksumSHA1) checksums.push({algorithm: 'SHA1', value: out.ChecksumSHA1, type})
      if (out.ChecksumSHA256) checksums.push({algorithm: 'SHA256', value: out.ChecksumSHA256, type})
      const etag = cleanEtag(out.ETag)
      if (etag && /^[0-9a-f]{32}$/.test(etag)) checksums.push({algorithm: 'MD5', value: etag, type: 'FULL_OBJECT'})
      return {key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), etag, checksums, metadata: out.Metadata}
    } catch (error) {
      const status = (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode
      if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey' || (status === 404 && (error as Error).name !== 'NoSuchBucket')) return undefined
      throw translateS3Error(error, this.context('HeadObject', key))
    }
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    const {GetObjectCommand} = await sdk()
    const start = options.range?.start ?? 0
    const end = options.range?.end
    const get = (from: number, ifMatch?: string) =>
      this.call('GetObject', key, () =>
        this.client.send(
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
    this.fast ??= new FastS3(this.client, 64)
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
      // and reports it in its words; only an abort stops here.
      if ((error as Error).name === 'AbortError') throw error
      this.fastFailures++
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

  async prepareWrites(): Promise<void> {
    await import('@aws-sdk/lib-storage')
  }

  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const [{Upload}, {DeleteObjectCommand}] = await Promise.all([import('@aws-sdk/lib-storage'), sdk()])
    const digest = new BodyDigest(this.partSize)
    const source = typeof body === 'string' || body instanceof Uint8Array ? [Buffer.from(body)] : body
    async function* tapped(): AsyncIterable<Uint8Array> {
      for await (const chunk of source) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array)
        digest.update(bytes)
        options.onProgress?.(digest.size)
        yield bytes
      }
    }
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.full(key),
        Body: Readable.from(tapped()),
        ContentType: options.contentType,
        ContentEncoding: options.contentEncoding,
        Metadata: options.metadata,
      },
      partSize: this.partSize,
      queueSize: this.options.queueSize ?? 4,
      leavePartsOnError: false,
    })
    const abort = () => void upload.abort().catch(() => {})
    options.signal?.addEventListener('abort', abort, {once: true})
    let out
    try {
      out = await this.call('PutObject', key, () => upload.done())
    } finally {
      options.signal?.removeEventListener('abort', abort)
    }
    const {md5, sha256, multipartEtag} = digest.finish()
    const etag = cleanEtag((out as {ETag?: string}).ETag)
    const multipart = etag?.match(/-(\d+)$/)
    const parts = multipart ? Number(multipart[1]) : 0
    const expected = multipart ? multipartEtag(parts) : md5
    if (etag && /^[0-9a-f]{32}(-\d+)?$/.test(etag) && etag !== expected) {
      // The store kept other bytes than we sent: remove them rather than leave a corrupt object under the name.
      await this.client.send(new DeleteObjectCommand({Bucket: this.bucket, Key: this.full(key)})).catch(() => {})
      throw new RemoteError(`S3 stored different bytes than were sent for ${this.uri}${key} (ETag ${etag}, expected ${expected}); the object was removed.`, {
        code: 'WRITE_CORRUPTED',
        nextSteps: ['Run again. If it repeats, the S3-compatible server mishandles uploads (e.g. aws-chunked encoding).'],
        details: {key: this.full(key), etag, expected},
      })
    }
    return {key, size: digest.size, etag, md5, sha256, parts}
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>, options: {signal?: AbortSignal} = {}): Promise<DeleteResult> {
    const {DeleteObjectsCommand} = await sdk()
    const result: DeleteResult = {deleted: [], errors: []}
    const flush = async (batch: string[]) => {
      const out = await this.call('DeleteObjects', undefined, () =>
        this.client.send(new DeleteObjectsCommand({Bucket: this.bucket, Delete: {Objects: batch.map((key) => ({Key: this.full(key)})), Quiet: true}}), {abortSignal: options.signal}),
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
    const {CopyObjectCommand} = await sdk()
    const source = `${this.bucket}/${this.full(fromKey)}`.split('/').map(encodeURIComponent).join('/')
    await this.call('CopyObject', toKey, () => this.client.send(new CopyObjectCommand({Bucket: this.bucket, Key: this.full(toKey), CopySource: source}), {abortSignal: options.signal}))
  }

  async move(fromKey: string, toKey: string, options: {signal?: AbortSignal} = {}): Promise<void> {
    const before = await this.head(fromKey)
    if (!before) throw translateS3Error({name: 'NoSuchKey', $metadata: {httpStatusCode: 404}}, this.context('CopyObject', fromKey))
    await this.copy(fromKey, toKey, options)
    const after = await this.head(toKey)
    if (!after || after.size !== before.size) {
      throw new RemoteError(`Copy of ${this.uri}${fromKey} to ${toKey} could not be verified; the source was kept.`, {code: 'COPY_UNVERIFIED'})
    }
    const deleted = await this.delete([fromKey], options)
    if (deleted.errors.length > 0) throw new RemoteError(`Could not delete ${this.uri}${fromKey} after copying it: ${deleted.errors[0].message}`, {code: 'DELETE_FAILED'})
  }

  sub(prefix: string): Storage {
    const normalized = prefix && !prefix.endsWith('/') ? prefix + '/' : prefix
    return new S3Storage(this.client, this.bucket, this.prefix + normalized, this.stats, this.options)
  }

  async close(): Promise<void> {
    this.fast?.close()
    this.client.destroy()
  }
}
