import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'

import {UsageError, UserError} from '../../src/plugins/core/errors/errors.js'
import {listManyInOrder} from '../../src/plugins/core/storage/list-many.js'
import {registerStorageScheme, type StorageOpener} from '../../src/plugins/core/storage/open.js'
import type {DeleteResult, ListManyOptions, ListOptions, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from '../../src/plugins/core/storage/types.js'

/**
 * A storage backend in memory, `mem://bucket/prefix/`: the proof that a new backend is one file and one registration
 * line (below). It names no capability it lacks: no `localPath` (its objects are not files), no `stats` (its
 * requests cost nothing), so every service treats it as a remote store. Buckets live as long as the process.
 */
export class MemoryStorage implements Storage {
  readonly uri: string
  /** Moves are one synchronous step of this process. */
  readonly atomicMove = true

  constructor(
    private readonly objects: Map<string, StoredObject>,
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.uri = `mem://${bucket}/${prefix}`
  }

  private info(key: string, object: StoredObject): ObjectInfo {
    return {key, size: object.body.length, lastModified: object.lastModified, etag: object.md5, metadata: object.metadata}
  }

  private missing(key: string): UserError {
    return new UserError(`No object at ${this.uri}${key}.`, {code: 'NO_SUCH_KEY', details: {key}})
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const from = this.prefix + prefix
    const after = options.startAfter === undefined ? undefined : this.prefix + options.startAfter
    // Byte order of the key, as S3 lists.
    const keys = [...this.objects.keys()].filter((key) => key.startsWith(from) && (after === undefined || Buffer.compare(Buffer.from(key), Buffer.from(after)) > 0))
    keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const key of keys) {
      options.signal?.throwIfAborted()
      const object = this.objects.get(key)
      if (object) yield this.info(key.slice(this.prefix.length), object)
    }
  }

  listMany(prefixes: string[], options?: ListManyOptions): AsyncIterable<ObjectInfo> {
    return listManyInOrder(this, prefixes, options)
  }

  async head(key: string, options: {checksum?: boolean} = {}): Promise<ObjectInfo | undefined> {
    const object = this.objects.get(this.prefix + key)
    if (!object) return undefined
    const info = this.info(key, object)
    if (options.checksum)
      info.checksums = [
        {algorithm: 'SHA256', value: object.sha256, type: 'FULL_OBJECT'},
        {algorithm: 'MD5', value: object.md5, type: 'FULL_OBJECT'},
      ]
    return info
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    return Readable.from([await this.readBytes(key, options)])
  }

  async readBytes(key: string, options: ReadOptions = {}): Promise<Buffer> {
    options.signal?.throwIfAborted()
    const object = this.objects.get(this.prefix + key)
    if (!object) throw this.missing(key)
    const {start = 0, end = object.body.length - 1} = options.range ?? {}
    return Buffer.from(object.body.subarray(start, end + 1))
  }

  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of typeof body === 'string' || body instanceof Uint8Array ? [Buffer.from(body)] : body) {
      options.signal?.throwIfAborted()
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array)
      chunks.push(bytes)
      size += bytes.length
      options.onProgress?.(size)
    }
    // Stored only once complete: a reader sees the old object or the new one.
    const stored = storedObject(Buffer.concat(chunks), options.metadata)
    this.objects.set(this.prefix + key, stored)
    return {key, size, etag: stored.md5, md5: stored.md5, sha256: stored.sha256, parts: 0}
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>): Promise<DeleteResult> {
    const deleted: string[] = []
    for await (const key of keys) {
      this.objects.delete(this.prefix + key)
      deleted.push(key)
    }
    return {deleted, errors: []}
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const object = this.objects.get(this.prefix + fromKey)
    if (!object) throw this.missing(fromKey)
    this.objects.set(this.prefix + toKey, {...object, lastModified: new Date()})
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    await this.copy(fromKey, toKey)
    this.objects.delete(this.prefix + fromKey)
  }

  sub(prefix: string): Storage {
    return new MemoryStorage(this.objects, this.bucket, asPrefix(this.prefix + prefix))
  }

  async close(): Promise<void> {}
}

interface StoredObject {
  body: Buffer
  lastModified: Date
  md5: string
  sha256: string
  metadata?: Record<string, string>
}

function storedObject(body: Buffer, metadata?: Record<string, string>): StoredObject {
  return {body, lastModified: new Date(), md5: createHash('md5').update(body).digest('hex'), sha256: createHash('sha256').update(body).digest('base64'), metadata}
}

const asPrefix = (prefix: string) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`)

const buckets = new Map<string, Map<string, StoredObject>>()

/** Opens `mem://bucket/prefix/`; every storage of one bucket sees the same objects. */
export const openMemory: StorageOpener = async (location) => {
  const match = /^mem:\/\/([^/]+)\/?(.*)$/i.exec(location)
  if (!match) throw new UsageError(`"${location}" names no memory bucket.`, {code: 'BAD_LOCATION', nextSteps: ['Write memory locations as mem://bucket/prefix/.'], details: {location}})
  let objects = buckets.get(match[1])
  if (!objects) buckets.set(match[1], (objects = new Map()))
  return new MemoryStorage(objects, match[1], asPrefix(match[2]))
}

// The one registration line.
registerStorageScheme('mem', openMemory)
