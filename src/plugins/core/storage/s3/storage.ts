import type {S3Client} from '@aws-sdk/client-s3'
import {Readable} from 'node:stream'

import {createHash} from 'node:crypto'

import {RemoteError} from '../../errors/errors.js'
import {objectOptionFields} from '../object-options.js'
import {etagVouchesFor, type SentBody} from './etag.js'
import type {FastHead, FastListPage} from './fast-s3.js'
import {listManyInOrder} from '../list-many.js'
import {DEFAULT_PART_SIZE} from '../requests.js'
import type {S3Connection, S3RequestStats} from './s3-client.js'
import {type S3ErrorContext, translateS3Error} from './s3-errors.js'
import {Upload} from './upload.js'
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

const sdk = () => import('@aws-sdk/client-s3')

/** S3 storage rooted at `s3://bucket/prefix/`. */
export class S3Storage implements Storage {
  readonly uri: string
  private readonly partSize: number
  private located?: Promise<StoreLocation>

  constructor(
    private readonly connection: S3Connection,
    readonly bucket: string,
    readonly prefix: string,
    private readonly options: S3StorageOptions = {},
  ) {
    this.uri = `s3://${bucket}/${prefix}`
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE
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
   * Writes a body: one PUT when it fits in a part, else a multipart upload with `queueSize` parts in flight. Each
   * request goes on the lean path and, when that fails, again through the SDK (retries, error translation). Every
   * PUT and part carries its Content-MD5, and the write is checked against the bytes sent (see
   * {@link confirmWrite}): an object the store kept other bytes of is removed, one it kept exactly never is. A
   * multipart upload that fails is aborted, leaving no parts behind.
   */
  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const upload = new Upload({
      requests: this.connection.requests(),
      bucket: this.bucket,
      key: this.full(key),
      body,
      partSize: this.partSize,
      queueSize: this.options.queueSize,
      attributes: {contentType: options.contentType, contentEncoding: options.contentEncoding, metadata: options.metadata},
      signal: options.signal,
      context: {endpoint: this.options.endpoint, region: this.options.region, profile: this.options.profile},
    })
    if (options.onProgress) upload.on('progress', ({loaded}) => options.onProgress!(loaded))
    const {sent, parts, ...stored} = await upload.done()
    await this.confirmWrite(key, stored, sent, options.signal)
    return {key, size: sent.size, etag: stored.etag, md5: sent.md5, sha256: sent.sha256, parts}
  }

  /**
   * Checks that the store kept exactly the bytes sent. An ETag that is the MD5 of the body, or the multipart ETag of
   * the parts as sent, says so (S3's forms; s3rver answers a multipart upload with the whole body's MD5). Under
   * SSE-KMS the ETag is no MD5: a single PUT then asked the store to keep a full-object SHA-256 (transport.ts
   * putChecksum), which a HEAD reads back; a multipart upload has none (S3 keeps SHA-256 only as a composite of the
   * parts'), so its bytes are read back. Any other answer — another form or another value — proves nothing by
   * itself, so the store is asked what it holds: its size, a full-object SHA-256 when it keeps one, else the bytes
   * read back. Only an object proven to differ is removed and reported
   * corrupted; one that cannot be read back is reported unverified and left alone.
   */
  private async confirmWrite(key: string, stored: StoredWrite, sent: SentBody, signal?: AbortSignal): Promise<void> {
    if (etagVouchesFor(stored.etag, sent)) return
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
    const removed =
      held !== undefined &&
      (await this.delete([key]).then(
        (result) => result.errors.length === 0,
        () => false,
      ))
    const found = held ? `${held.size} bytes with SHA-256 ${held.sha256}` : 'no object'
    throw new RemoteError(
      `S3 stored different bytes than were sent for ${this.uri}${key}: it holds ${found}, not the ${sent.size} bytes with SHA-256 ${sent.sha256} sent (ETag ${stored.etag ?? '(none)'}, expected ${sent.multipartEtag ?? sent.md5})${removed ? '; the object was removed' : held ? '; the object could not be removed' : ''}.`,
      {
        code: 'WRITE_CORRUPTED',
        nextSteps: ['Run again. If it repeats, the S3-compatible server mishandles uploads (e.g. aws-chunked encoding).'],
        details: {key: this.full(key), etag: stored.etag, expected: sent.multipartEtag ?? sent.md5, size: held?.size, sha256: held?.sha256, removed},
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
