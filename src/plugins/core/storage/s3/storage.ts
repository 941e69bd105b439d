import type {S3Client} from '@aws-sdk/client-s3'
import {Readable} from 'node:stream'

import {createHash} from 'node:crypto'

import {type BucketwrightError, RemoteError, VerificationError} from '../../errors/errors.js'
import {objectOptionFields} from '../object-options.js'
import type {SentBody} from './etag.js'
import type {FastHead, FastListPage} from './fast-s3.js'
import {listManyInOrder} from '../list-many.js'
import {DEFAULT_PART_SIZE} from '../requests.js'
import type {S3Connection, S3RequestStats} from './s3-client.js'
import {type S3ErrorContext, translateS3Error} from './s3-errors.js'
import {type LocalDigests, remoteFromHead, type WantedDigests} from './same-content.js'
import {type PartLender, Upload, type UploadBody, type UploadResult} from './upload.js'
import {checkWrite, ETAG_VERDICT, etagVouches, type VerifiedBy, type WriteVerdict} from './write-check.js'
import {locateBucket} from './bucket.js'
import type {StoreLocation} from '../transfer.js'
import type {S3Requests} from './fallback.js'
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

/** Options of {@link S3Storage.upload}: a write's, with how the body is read, hashed and checked. */
export interface S3UploadOptions extends WriteOptions {
  /** Bodies up to this many bytes go up in one PUT (default: the part size); a 413 to one sends it in parts. */
  singlePutLimit?: number
  /** The body's CRC32 (base64), for the store to check on a single PUT. */
  crc32?: string
  /** The whole body's hex MD5, when already known. */
  md5?: string
  /** Compute the whole body's SHA-256 as it goes past (default true). */
  sha256?: boolean
  /** The binary MD5 of a part (or single PUT body), e.g. on a worker thread. */
  partDigest?: (bytes: Buffer) => Promise<Buffer>
  /** Buffers for the parts of a body read by position. */
  lender?: PartLender
  /** More digests of the bytes sent, for the write check (e.g. by reading the file again). */
  digest?: (wanted: WantedDigests) => Promise<LocalDigests>
  /** An object proven to hold other bytes is left as it is and reported `UPLOAD_CORRUPTED` (default: removed, `WRITE_CORRUPTED`). */
  keepCorrupted?: boolean
}

/** What {@link S3Storage.upload} sent, how the store answered, and how the write was verified. */
export interface S3UploadResult {
  key: string
  etag?: string
  serverSideEncryption?: string
  sent: SentBody
  /** Parts of a multipart upload; 0 for a single PUT. */
  parts: number
  /** The store refused the body in one PUT as too large (413); it went up in parts. */
  putRefused?: boolean
  verifiedBy: VerifiedBy
}

const sdk = () => import('@aws-sdk/client-s3')

/** S3 storage rooted at `s3://bucket/prefix/`. */
export class S3Storage implements Storage {
  readonly uri: string
  private readonly partSize: number
  private located?: Promise<StoreLocation>
  /** Where the bucket is, for errors in the user's words: the same object for every upload. */
  private readonly errorContext: Omit<S3ErrorContext, 'operation' | 'bucket' | 'key'>

  constructor(
    private readonly connection: S3Connection,
    readonly bucket: string,
    readonly prefix: string,
    private readonly options: S3StorageOptions = {},
  ) {
    this.uri = `s3://${bucket}/${prefix}`
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE
    this.errorContext = {endpoint: options.endpoint, region: options.region, profile: options.profile}
  }

  /** Requests and retries so far, by operation (shared by every storage of the same connection). */
  get stats(): S3RequestStats {
    return this.connection.stats
  }

  /**
   * Where the bucket lives, for transfer pricing: an AWS region (asked of the bucket, once), or a service that is not
   * AWS — any endpoint outside amazonaws.com (MinIO, R2, a loopback server), named by its origin only.
   */
  location(): Promise<StoreLocation> {
    const {endpoint} = this.connection.options
    if (endpoint && !isAwsEndpoint(endpoint)) return Promise.resolve({provider: 'other', endpoint: safeOrigin(endpoint)})
    this.located ??= locateBucket(this.bucket, this.connection.options).then((region) => ({provider: 'aws', region: region ?? this.connection.options.region ?? 'us-east-1'}))
    return this.located
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
  private listPage(prefix: string, options: ListOptions, token: string | undefined): Promise<FastListPage> {
    const startAfter = options.startAfter === undefined ? undefined : this.full(options.startAfter)
    return this.connection.requests().send(this.context('ListObjectsV2'), (transport) => transport.listPage(this.bucket, {prefix: this.full(prefix), token, startAfter, maxKeys: options.pageSize, signal: options.signal}))
  }

  listMany(prefixes: string[], options: ListManyOptions = {}): AsyncIterable<ObjectInfo> {
    return listManyInOrder(this, prefixes, options)
  }

  async head(key: string, options: {checksum?: boolean; signal?: AbortSignal} = {}): Promise<ObjectInfo | undefined> {
    const head = await this.headObject(key, options)
    return head && headInfo(key, head)
  }

  /** HEAD as S3 answers it (with its server-side encryption); `undefined` when there is no such key. */
  headObject(key: string, options: {checksum?: boolean; signal?: AbortSignal} = {}): Promise<FastHead | undefined> {
    return this.connection.requests().send(this.context('HeadObject', key), (transport) => transport.head(this.bucket, this.full(key), options))
  }

  /** The connection's requests (lean first, then the SDK), for an upload of this storage's keys. */
  requests(): S3Requests {
    return this.connection.requests()
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

  /**
   * Reads a whole object into one buffer of its own. Without a range it goes through the lean GET (a fraction of
   * the SDK's per-request CPU, which dominates when a run reads thousands of small objects); any failure there —
   * an error status, a cut-off body — is read again through the SDK, which resumes, retries and explains errors.
   */
  async readBytes(key: string, options: ReadOptions = {}): Promise<Buffer> {
    if (!options.range) {
      const lean = await this.connection.requests().leanOnly(this.context('GetObject', key), (transport) => transport.get(this.bucket, this.full(key), options.signal))
      if (lean) return lean.value
    }
    const chunks: Buffer[] = []
    for await (const chunk of await this.read(key, options)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  /**
   * Writes a body: one PUT when it fits in a part, else a multipart upload with `queueSize` parts in flight (see
   * {@link upload}). An object the store kept other bytes of is removed (`WRITE_CORRUPTED`), one it kept exactly
   * never is.
   */
  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const {sent, parts, etag} = await this.upload(key, body, options)
    return {key, size: sent.size, etag, md5: sent.md5!, sha256: sent.sha256!, parts}
  }

  /**
   * Uploads a body through the one {@link Upload} and checks what the store kept against the bytes sent (the one
   * write check, write-check.ts). Each request goes on the lean path and, when that fails, again through the SDK
   * (retries, error translation). Every PUT and part carries its Content-MD5; a multipart upload that fails or is
   * aborted is aborted at the store, leaving no parts behind. An object proven to hold other bytes is removed and
   * reported `WRITE_CORRUPTED` — or, with `keepCorrupted`, left as it is and reported `UPLOAD_CORRUPTED` (the upload
   * daemon, which never deletes an object: the one there may be an older good copy the write never replaced).
   */
  async upload(key: string, body: UploadBody, options: S3UploadOptions = {}): Promise<S3UploadResult> {
    const whole = this.full(key)
    const upload = new Upload({
      requests: this.connection.requests(),
      bucket: this.bucket,
      key: whole,
      body,
      partSize: this.partSize,
      singlePutLimit: options.singlePutLimit,
      queueSize: this.options.queueSize,
      attributes: {contentType: options.contentType, contentEncoding: options.contentEncoding, metadata: options.metadata, crc32: options.crc32},
      signal: options.signal,
      context: this.errorContext,
      md5: options.md5,
      sha256: options.sha256,
      partDigest: options.partDigest,
      lender: options.lender,
    })
    if (options.onProgress) upload.on('progress', ({loaded}) => options.onProgress!(loaded))
    let result: UploadResult
    try {
      result = await upload.done()
    } catch (error) {
      // A part the store kept other bytes of (its ETag says so): aborted before completion, so nothing under the key
      // changed. A writer that removes corrupted objects reports it as such a write.
      if (options.keepCorrupted || !(error instanceof VerificationError) || error.code !== 'UPLOAD_CORRUPTED') throw error
      throw new RemoteError(`${error.message} Nothing was completed under the key.`, {
        code: 'WRITE_CORRUPTED',
        nextSteps: error.nextSteps,
        details: {...error.details, completed: false, removed: false},
        cause: error,
      })
    }
    const {sent, parts, putRefused, etag, serverSideEncryption} = result
    const stored: StoredWrite = {etag, serverSideEncryption}
    // The ETag of exactly these bytes settles it (the common case: no check to build, no promise to wait for).
    const verdict = etagVouches(stored, sent)
      ? ETAG_VERDICT
      : await checkWrite({
          bucket: this.bucket,
          key: whole,
          answer: stored,
          sent,
          partSize: sent.partSize ?? this.partSize,
          digest: options.digest,
          head: async () => remoteFromHead(await this.headObject(key, {checksum: true, signal: options.signal})),
          read: () => this.read(key, {signal: options.signal}),
        })
    if (!verdict.same) throw await this.corrupted(key, stored, sent, verdict, options.keepCorrupted ?? false)
    return {key, etag, serverSideEncryption, sent, parts, putRefused, verifiedBy: verdict.verifiedBy}
  }

  /** The error for a write the store kept other bytes of; the object removed first unless `keep`. */
  private async corrupted(key: string, stored: StoredWrite, sent: SentBody, verdict: Extract<WriteVerdict, {same: false}>, keep: boolean): Promise<BucketwrightError> {
    const {held, how} = verdict
    const expected = sent.multipartEtag ?? sent.md5
    if (keep) {
      return new VerificationError(`${this.uri}${key} does not hold the bytes sent (${how}); the object was left as it is.`, {
        code: 'UPLOAD_CORRUPTED',
        nextSteps: ['Run again. If this repeats, the S3-compatible server mishandles uploads (e.g. stores aws-chunked framing).'],
        details: {bucket: this.bucket, key: this.full(key), etag: stored.etag, expected, stored: held},
      })
    }
    // The store kept other bytes than were sent (or none): remove them rather than leave a corrupt object under the name.
    const removed =
      held !== undefined &&
      (await this.delete([key]).then(
        (result) => result.errors.length === 0,
        () => false,
      ))
    const found = held ? `${held.size} bytes${held.sha256 ? ` with SHA-256 ${held.sha256}` : held.md5 ? ` with MD5 ${held.md5}` : ''}` : 'no object'
    return new RemoteError(
      `S3 stored different bytes than were sent for ${this.uri}${key} (${how}): it holds ${found}, not the ${sent.size} bytes sent${sent.sha256 ? ` with SHA-256 ${sent.sha256}` : ''} (ETag ${stored.etag ?? '(none)'}, expected ${expected})${removed ? '; the object was removed' : held ? '; the object could not be removed' : ''}.`,
      {
        code: 'WRITE_CORRUPTED',
        nextSteps: ['Run again. If it repeats, the S3-compatible server mishandles uploads (e.g. aws-chunked encoding).'],
        details: {key: this.full(key), etag: stored.etag, expected, size: held?.size, sha256: held?.sha256, removed},
      },
    )
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
    // The copy is a new object: storage class, encryption and ACL are the run's, not the source's (S3 would use the
    // bucket's defaults); its metadata is the source's (S3's COPY directive), which this run's writes already carry.
    const objects = objectOptionFields(this.connection.options.objects)
    const send = (source: string) => client.send(new CopyObjectCommand({Bucket: this.bucket, Key: this.full(toKey), CopySource: source, ...objects}), {abortSignal: options.signal})
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
    this.connection.close()
  }
}

/** What the store answered a PUT or a completed multipart upload with. */
interface StoredWrite {
  etag?: string
  serverSideEncryption?: string
}

/** The SHA-256 of the whole object a store keeps, if any (not a multipart upload's composite of its parts'). */
function fullSha256(info: ObjectInfo): string | undefined {
  return info.checksums?.find((c) => c.algorithm === 'SHA256' && c.type !== 'COMPOSITE' && !c.value.includes('-'))?.value
}

/** An object's info from a HEAD (lean, or the SDK's in the same shape): its checksums, the MD5 when the ETag is one. */
function headInfo(key: string, head: FastHead): ObjectInfo {
  const checksums: Checksum[] = []
  const type = head.checksumType as Checksum['type']
  for (const [algorithm, name] of [
    ['CRC32', 'crc32'],
    ['CRC32C', 'crc32c'],
    ['CRC64NVME', 'crc64nvme'],
    ['SHA1', 'sha1'],
    ['SHA256', 'sha256'],
  ] as const) {
    if (head.checksums[name]) checksums.push({algorithm, value: head.checksums[name], type})
  }
  if (head.etag && /^[0-9a-f]{32}$/.test(head.etag)) checksums.push({algorithm: 'MD5', value: head.etag, type: 'FULL_OBJECT'})
  return {key, size: head.size, lastModified: head.lastModified ?? new Date(0), etag: head.etag, checksums, metadata: head.metadata}
}

/** An endpoint of AWS itself (regional, FIPS, dual-stack, a VPC endpoint, China): its buckets are billed as AWS's. */
export function isAwsEndpoint(endpoint: string): boolean {
  try {
    return /(^|\.)amazonaws\.com(\.cn)?$/.test(new URL(endpoint).hostname)
  } catch {
    return false
  }
}

/** An endpoint's scheme, host and port — never a user or password written into the URL. */
function safeOrigin(endpoint: string): string {
  try {
    return new URL(endpoint).origin
  } catch {
    return '(endpoint)'
  }
}
