import type {Readable} from 'node:stream'

import {BodyDigest} from './body-digest.js'
import type {DeleteResult, ListManyOptions, ListOptions, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from './types.js'

/** A change a dry run would have made. */
export type PlannedChange = {operation: 'write'; key: string} | {operation: 'delete'; key: string} | {operation: 'copy' | 'move'; key: string; from: string}

/**
 * A {@link Storage} for `--dry-run`: reads and listings pass through to the store, writes, deletes, copies and moves
 * are recorded in {@link planned} and not done — so a dry run can take the same path as the real one and cannot
 * change the store by a branch it forgot. A write's body is consumed (its size and digests are what the caller
 * planned) but stored nowhere; reads after it still see the store as it is.
 *
 * `stats` passes through (plans price the requests of the store underneath). `localPath` does too: readers use it in
 * place; the writers that use it (ingest, etl claims, compact's folder cleanup) are never reached by a dry run.
 */
export class DryRunStorage implements Storage {
  readonly uri: string
  /** The changes a real run would have made, in the order they were asked for (shared with {@link sub} storages). */
  readonly planned: PlannedChange[]

  constructor(
    readonly inner: Storage,
    planned: PlannedChange[] = [],
    private readonly prefix = '',
  ) {
    this.uri = inner.uri
    this.planned = planned
  }

  get stats(): Storage['stats'] {
    return this.inner.stats
  }

  get atomicMove(): boolean | undefined {
    return this.inner.atomicMove
  }

  get location(): Storage['location'] {
    return this.inner.location?.bind(this.inner)
  }

  get localPath(): Storage['localPath'] {
    return this.inner.localPath?.bind(this.inner)
  }

  list(prefix?: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options)
  }

  listMany(prefixes: string[], options?: ListManyOptions): AsyncIterable<ObjectInfo> {
    return this.inner.listMany(prefixes, options)
  }

  head(key: string, options?: {checksum?: boolean; signal?: AbortSignal}): Promise<ObjectInfo | undefined> {
    return this.inner.head(key, options)
  }

  read(key: string, options?: ReadOptions): Promise<Readable> {
    return this.inner.read(key, options)
  }

  readBytes(key: string, options?: ReadOptions): Promise<Buffer> {
    return this.inner.readBytes(key, options)
  }

  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const digest = new BodyDigest()
    for await (const chunk of typeof body === 'string' || body instanceof Uint8Array ? [body] : body) {
      options.signal?.throwIfAborted()
      digest.update(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array))
      options.onProgress?.(digest.size)
    }
    this.planned.push({operation: 'write', key: this.prefix + key})
    const {md5, sha256} = digest.finish()
    return {key, size: digest.size, md5, sha256, parts: 0}
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>): Promise<DeleteResult> {
    const deleted: string[] = []
    for await (const key of keys) {
      this.planned.push({operation: 'delete', key: this.prefix + key})
      deleted.push(key)
    }
    return {deleted, errors: []}
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    this.planned.push({operation: 'copy', key: this.prefix + toKey, from: this.prefix + fromKey})
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    this.planned.push({operation: 'move', key: this.prefix + toKey, from: this.prefix + fromKey})
  }

  sub(prefix: string): Storage {
    return new DryRunStorage(this.inner.sub(prefix), this.planned, this.prefix + prefix)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
