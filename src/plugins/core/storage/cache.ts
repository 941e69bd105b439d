import {createHash, randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import {once} from 'node:events'
import {type Readable, Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {UserError} from '../errors/errors.js'
import {makeDirectory} from './make-directory.js'
import type {DeleteResult, ListManyOptions, ListOptions, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from './types.js'

/** Settings of the read-through object cache (`--cache-dir`, `--cache-ttl`, `--cache-max-size`, `--no-cache`). */
export interface ReadCacheOptions {
  /** Directory of cached object bodies; created on first use. */
  dir: string
  /** An entry older than this (since it was downloaded) is fetched again. Default 7 days. */
  ttlMs?: number
  /** Cap on the bytes kept; least recently used entries are evicted beyond it. Default 2 GB (small instances have 8 GB disks). */
  maxBytes?: number
  /** Never contact the store: listings and objects come from the cache only (whatever their age); a miss is an error. */
  offline?: boolean
  /** Where stale-if-error says what it served instead of failing (the command's logger, as a WARN). */
  warn?: (message: string) => void
}

/** A listing of one prefix as the cache keeps it (`listings/<sha256>.json`), with when it was taken. */
interface CachedListing {
  uri: string
  prefix: string
  takenAt: string
  objects: {key: string; size: number; etag?: string; lastModified: string}[]
}

/** Counters of one cache's use, for results and logs. */
export interface ReadCacheStats {
  hits: number
  misses: number
  /** Bytes served from disk. */
  bytesFromCache: number
  /** Bytes downloaded (and stored) on misses. */
  bytesDownloaded: number
  evictions: number
  expired: number
}

interface Entry {
  file: string
  size: number
  storedAt: number
  lastUsed: number
  /** A download not kept in the cache (the object changed under its listed ETag): served once, then removed. */
  transient?: boolean
}

const DAY_MS = 86_400_000

/**
 * A directory of object bodies keyed by location, key and ETag, with a TTL and a size cap (LRU eviction). An entry
 * is a plain file named by the SHA-256 of its identity: its mtime records when it was downloaded (for the TTL),
 * its atime when it was last served (for LRU), so the state survives across runs with no index file to corrupt.
 * Several processes may share a directory: entries appear by atomic rename, and a reader holding an entry that
 * another process evicts keeps reading it (unlink on Linux/macOS leaves open files readable).
 */
export class ReadCache {
  readonly ttlMs: number
  readonly maxBytes: number
  readonly stats: ReadCacheStats = {hits: 0, misses: 0, bytesFromCache: 0, bytesDownloaded: 0, evictions: 0, expired: 0}
  private index?: Promise<Map<string, Entry>>
  private totalBytes = 0
  private readonly pending = new Map<string, Promise<Entry>>()

  constructor(readonly options: ReadCacheOptions) {
    this.ttlMs = options.ttlMs ?? 7 * DAY_MS
    this.maxBytes = options.maxBytes ?? 2 * 1024 ** 3
  }

  /** The file name of an identity: the same object (location, key, ETag) always maps to the same entry. */
  static entryId(uri: string, key: string, etag: string): string {
    return createHash('sha256').update(uri).update('\0').update(key).update('\0').update(etag).digest('hex')
  }

  private pathOf(id: string): string {
    return path.join(this.options.dir, id.slice(0, 2), id)
  }

  /** Reads the entries already on disk once per process, to know the total size and the LRU order. */
  private entries(): Promise<Map<string, Entry>> {
    this.index ??= (async () => {
      const entries = new Map<string, Entry>()
      let shards: string[] = []
      try {
        shards = await fs.readdir(this.options.dir)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
      for (const shard of shards.filter((name) => /^[0-9a-f]{2}$/.test(name))) {
        for (const name of await fs.readdir(path.join(this.options.dir, shard))) {
          const file = path.join(this.options.dir, shard, name)
          const stat = await fs.stat(file).catch(() => undefined)
          if (!stat) continue
          // Downloads of a run that crashed: nobody will finish them.
          if (name.startsWith('.tmp-') && Date.now() - stat.mtimeMs > 3_600_000) await fs.rm(file, {force: true})
          if (!/^[0-9a-f]{64}$/.test(name)) continue
          entries.set(name, {file, size: stat.size, storedAt: stat.mtimeMs, lastUsed: stat.atimeMs})
          this.totalBytes += stat.size
        }
      }
      return entries
    })()
    return this.index
  }

  /** The cached file of an object, when present and younger than the TTL; marks it used. */
  async lookup(uri: string, key: string, etag: string): Promise<string | undefined> {
    const id = ReadCache.entryId(uri, key, etag)
    const entries = await this.entries()
    let entry = entries.get(id)
    if (!entry) {
      // Another process may have stored it since this one read the directory.
      const stat = await fs.stat(this.pathOf(id)).catch(() => undefined)
      if (!stat) return undefined
      entry = {file: this.pathOf(id), size: stat.size, storedAt: stat.mtimeMs, lastUsed: stat.atimeMs}
      entries.set(id, entry)
      this.totalBytes += entry.size
    }
    if (Date.now() - entry.storedAt >= this.ttlMs) {
      this.stats.expired++
      await this.remove(id, entry)
      return undefined
    }
    entry.lastUsed = Date.now()
    try {
      await fs.utimes(entry.file, entry.lastUsed / 1000, entry.storedAt / 1000)
    } catch {
      // Evicted by another process sharing the directory since this one listed it: a miss.
      await this.remove(id, entry)
      return undefined
    }
    return entry.file
  }

  /**
   * Downloads a body into the cache under its identity. When `etag` looks like an MD5 but the bytes do not match
   * it, either the object is encrypted with KMS/SSE-C (its ETag is not its MD5) or it changed between listing and
   * download: `unchanged()` (a HEAD) tells which. A changed body is not kept under the old ETag: the returned file
   * is a transient copy for this one read (`kept: false`), which the caller removes.
   */
  async store(uri: string, key: string, etag: string, body: Readable, unchanged?: () => Promise<boolean>): Promise<{file: string; kept: boolean}> {
    const id = ReadCache.entryId(uri, key, etag)
    const file = this.pathOf(id)
    await makeDirectory(path.dirname(file))
    const temp = path.join(path.dirname(file), `.tmp-${randomBytes(6).toString('hex')}`)
    const md5 = createHash('md5')
    let bytes = 0
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk)
        bytes += chunk.length
        callback(null, chunk)
      },
    })
    try {
      await pipeline(body, tap, createWriteStream(temp, {flags: 'wx'}))
      if (/^[0-9a-f]{32}$/.test(etag) && md5.digest('hex') !== etag && !(await (unchanged?.() ?? Promise.resolve(false)))) {
        this.stats.misses++
        this.stats.bytesDownloaded += bytes
        return {file: temp, kept: false}
      }
      await fs.rename(temp, file)
    } catch (error) {
      await fs.rm(temp, {force: true})
      throw error
    }
    this.stats.misses++
    this.stats.bytesDownloaded += bytes
    const entries = await this.entries()
    const previous = entries.get(id)
    if (previous) this.totalBytes -= previous.size
    const now = Date.now()
    entries.set(id, {file, size: bytes, storedAt: now, lastUsed: now})
    this.totalBytes += bytes
    await this.evict(id)
    return {file, kept: true}
  }

  /** Evicts least recently used entries until the total fits the cap (never the entry just stored). */
  private async evict(keep: string): Promise<void> {
    if (this.totalBytes <= this.maxBytes) return
    const entries = await this.entries()
    const byAge = [...entries].filter(([id]) => id !== keep).sort((a, b) => a[1].lastUsed - b[1].lastUsed)
    for (const [id, entry] of byAge) {
      if (this.totalBytes <= this.maxBytes) break
      await this.remove(id, entry)
      this.stats.evictions++
    }
  }

  private async remove(id: string, entry: Entry): Promise<void> {
    const entries = await this.entries()
    if (entries.get(id) === entry) {
      entries.delete(id)
      this.totalBytes -= entry.size
    }
    await fs.rm(entry.file, {force: true})
  }

  private listingPath(uri: string, prefix: string): string {
    return path.join(this.options.dir, 'listings', `${createHash('sha256').update(uri).update('\0').update(prefix).digest('hex')}.json`)
  }

  /** Keeps the listing of a prefix (replacing the one before), for --offline. Written by atomic rename. */
  async saveListing(uri: string, prefix: string, objects: ObjectInfo[]): Promise<void> {
    const file = this.listingPath(uri, prefix)
    await makeDirectory(path.dirname(file))
    const listing: CachedListing = {uri, prefix, takenAt: new Date().toISOString(), objects: objects.map((info) => ({key: info.key, size: info.size, etag: info.etag, lastModified: info.lastModified.toISOString()}))}
    const temp = `${file}.tmp-${randomBytes(6).toString('hex')}`
    await fs.writeFile(temp, JSON.stringify(listing))
    await fs.rename(temp, file)
  }

  /** The kept listing of a prefix, or `undefined` when none was taken (or it is unreadable). */
  async loadListing(uri: string, prefix: string): Promise<{takenAt: Date; objects: ObjectInfo[]} | undefined> {
    try {
      const listing = JSON.parse(await fs.readFile(this.listingPath(uri, prefix), 'utf8')) as CachedListing
      return {takenAt: new Date(listing.takenAt), objects: listing.objects.map((object) => ({...object, lastModified: new Date(object.lastModified)}))}
    } catch {
      return undefined
    }
  }

  /** The cached file of an object whatever its age (for --offline), or `undefined`. */
  async lookupAnyAge(uri: string, key: string, etag: string): Promise<string | undefined> {
    const file = this.pathOf(ReadCache.entryId(uri, key, etag))
    return (await fs.stat(file).catch(() => undefined)) ? file : undefined
  }

  /** Bytes currently held (as this process knows them). */
  async size(): Promise<number> {
    await this.entries()
    return this.totalBytes
  }

  /** Deduplicates concurrent downloads of one entry within a process. */
  async once(id: string, load: () => Promise<Entry>): Promise<Entry | undefined> {
    const running = this.pending.get(id)
    if (running) return running
    const promise = load().finally(() => this.pending.delete(id))
    this.pending.set(id, promise)
    return promise
  }
}

/** How many listed ETags a {@link CachedStorage} remembers, so reads after a listing need no HEAD. */
const REMEMBERED_ETAGS = 200_000

/**
 * A {@link Storage} whose reads are served from a {@link ReadCache}: the first read of an object (identified by
 * location, key and ETag) downloads it into the cache, later reads — in this run or the next — come from disk
 * with no GET. The ETag comes from the listing the read follows (remembered here) or, failing that, a HEAD.
 * Listings are always taken afresh (so a changed object is downloaded again and a deleted one is not served) and
 * kept per prefix, with when they were taken, for `--offline`, which contacts nothing and serves only the cache. Writes, copies, moves and deletes pass straight through.
 */
export class CachedStorage implements Storage {
  readonly uri: string
  private readonly etags = new Map<string, {etag: string; size: number}>()

  constructor(
    readonly inner: Storage,
    readonly cache: ReadCache,
  ) {
    this.uri = inner.uri
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

  private remember(info: ObjectInfo): void {
    if (!info.etag) return
    this.etags.delete(info.key)
    this.etags.set(info.key, {etag: info.etag, size: info.size})
    if (this.etags.size > REMEMBERED_ETAGS) this.etags.delete(this.etags.keys().next().value!)
  }

  async *list(prefix = '', options?: ListOptions): AsyncIterable<ObjectInfo> {
    if (this.cache.options.offline) {
      yield* this.offlineListing(prefix)
      return
    }
    const seen: ObjectInfo[] = []
    try {
      for await (const info of this.inner.list(prefix, options)) {
        this.remember(info)
        seen.push(info)
        yield info
      }
    } catch (error) {
      // Stale-if-error: only before anything was yielded (a half listing cannot be taken back).
      const stale = seen.length === 0 && staleIfError(error) ? await this.cache.loadListing(this.uri, prefix) : undefined
      if (!stale) throw error
      this.warnStale(`the listing of ${this.uri}${prefix}`, stale.takenAt, error)
      for (const info of stale.objects) {
        this.remember(info)
        yield info
      }
      return
    }
    // Kept for --offline only once complete (and only a whole listing: not one that started after a key).
    if (!options?.startAfter) await this.cache.saveListing(this.uri, prefix, seen)
  }

  async *listMany(prefixes: string[], options?: ListManyOptions): AsyncIterable<ObjectInfo> {
    if (this.cache.options.offline) {
      for (const prefix of prefixes) yield* this.offlineListing(prefix)
      return
    }
    // Results come per prefix in the order of `prefixes`: each prefix's listing is kept when the next one starts.
    const lists = prefixes.map(() => [] as ObjectInfo[])
    let at = 0
    let yielded = false
    try {
      for await (const info of this.inner.listMany(prefixes, options)) {
        while (at < prefixes.length - 1 && !info.key.startsWith(prefixes[at])) at++
        this.remember(info)
        lists[at].push(info)
        yielded = true
        yield info
      }
    } catch (error) {
      // Stale-if-error, when every prefix's listing is kept and nothing was yielded yet.
      const stale = !yielded && staleIfError(error) ? await Promise.all(prefixes.map((prefix) => this.cache.loadListing(this.uri, prefix))) : []
      if (stale.length === 0 || stale.some((listing) => !listing)) throw error
      for (const [index, listing] of stale.entries()) {
        this.warnStale(`the listing of ${this.uri}${prefixes[index]}`, listing!.takenAt, error)
        for (const info of listing!.objects) {
          this.remember(info)
          yield info
        }
      }
      return
    }
    if (!options?.startAfter) for (const [index, prefix] of prefixes.entries()) await this.cache.saveListing(this.uri, prefix, lists[index])
  }

  /** A prefix's kept listing under --offline; none kept is an error naming the prefix. */
  private async *offlineListing(prefix: string): AsyncIterable<ObjectInfo> {
    const listing = await this.cache.loadListing(this.uri, prefix)
    if (!listing) {
      throw new UserError(`--offline: no listing of ${this.uri}${prefix} in the cache (${this.cache.options.dir}).`, {
        code: 'OFFLINE_MISS',
        nextSteps: ['Run the same command once without --offline while the endpoint is reachable: its listings and objects are kept in the cache.', 'Or pass the --cache-dir of the run that fetched them.'],
      })
    }
    for (const info of listing.objects) {
      this.remember(info)
      yield info
    }
  }

  async head(key: string, options?: {checksum?: boolean; signal?: AbortSignal}): Promise<ObjectInfo | undefined> {
    if (this.cache.options.offline) {
      const known = this.etags.get(key)
      if (!known) throw offlineMiss(this.uri, key, this.cache.options.dir)
      return {key, size: known.size, etag: known.etag, lastModified: new Date(0)}
    }
    const info = await this.inner.head(key, options)
    if (info) this.remember(info)
    else this.etags.delete(key)
    return info
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    let known = this.etags.get(key)
    if (!known) {
      const info = await this.head(key, {signal: options.signal})
      known = info?.etag ? {etag: info.etag, size: info.size} : undefined
    }
    if (this.cache.options.offline) {
      const file = known && (await this.cache.lookupAnyAge(this.uri, key, known.etag))
      if (!known || !file) throw offlineMiss(this.uri, key, this.cache.options.dir)
      this.cache.stats.hits++
      this.cache.stats.bytesFromCache += known.size
      return createReadStream(file, {start: options.range?.start, end: options.range?.end, signal: options.signal})
    }
    if (!known) return this.inner.read(key, options)
    try {
      return await this.readKnown(key, known, options)
    } catch (error) {
      const file = staleIfError(error) ? await this.cache.lookupAnyAge(this.uri, key, known.etag) : undefined
      if (!file) throw error
      this.warnStale(`${this.uri}${key}`, (await fs.stat(file)).mtime, error)
      this.cache.stats.hits++
      this.cache.stats.bytesFromCache += known.size
      return createReadStream(file, {start: options.range?.start, end: options.range?.end, signal: options.signal})
    }
  }

  private warnStale(what: string, takenAt: Date, error: unknown): void {
    const code = (error as {code?: string}).code ?? 'error'
    this.cache.options.warn?.(`Serving the cached copy of ${what}, ${ageOf(takenAt)} old, because the endpoint failed (${code}): ${(error as Error).message}`)
  }

  private async readKnown(key: string, known: {etag: string; size: number}, options: ReadOptions): Promise<Readable> {
    const {etag, size} = known
    // An object larger than the whole cache would only evict everything else: stream it directly.
    if (size > this.cache.maxBytes) return this.inner.read(key, options)
    const file = await this.cache.lookup(this.uri, key, etag)
    const range = {start: options.range?.start, end: options.range?.end, signal: options.signal}
    if (file) {
      this.cache.stats.hits++
      this.cache.stats.bytesFromCache += size
      return createReadStream(file, range)
    }
    let downloadedHere = false
    const entry = (await this.cache.once(ReadCache.entryId(this.uri, key, etag), async () => {
      downloadedHere = true
      const body = await this.inner.read(key, {signal: options.signal})
      const stored = await this.cache.store(this.uri, key, etag, body, async () => (await this.inner.head(key))?.etag === etag)
      return {file: stored.file, size, storedAt: Date.now(), lastUsed: Date.now(), transient: !stored.kept}
    }))!
    if (!entry.transient) return createReadStream(entry.file, range)
    // The object changed since it was listed: this read gets the bytes just downloaded; readers that were waiting
    // for the same download read the store again.
    if (!downloadedHere) return this.inner.read(key, options)
    const stream = createReadStream(entry.file, range)
    await once(stream, 'open')
    await fs.rm(entry.file, {force: true}) // the open descriptor keeps the bytes readable
    return stream
  }

  async readBytes(key: string, options?: ReadOptions): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of await this.read(key, options)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options?: WriteOptions): Promise<WriteResult> {
    this.etags.delete(key)
    return this.inner.write(key, body, options)
  }

  delete(keys: Iterable<string> | AsyncIterable<string>, options?: {signal?: AbortSignal}): Promise<DeleteResult> {
    const self = this
    async function* forgetting() {
      for await (const key of keys) {
        self.etags.delete(key)
        yield key
      }
    }
    return this.inner.delete(forgetting(), options)
  }

  copy(fromKey: string, toKey: string, options?: {signal?: AbortSignal}): Promise<void> {
    this.etags.delete(toKey)
    return this.inner.copy(fromKey, toKey, options)
  }

  move(fromKey: string, toKey: string, options?: {signal?: AbortSignal}): Promise<void> {
    this.etags.delete(fromKey)
    this.etags.delete(toKey)
    return this.inner.move(fromKey, toKey, options)
  }

  sub(prefix: string): Storage {
    return new CachedStorage(this.inner.sub(prefix), this.cache)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

/**
 * Stale-if-error: the failures after which a cached copy is served instead — the endpoint unreachable, throttling or
 * 5xx after the retries. Never a 403 or 404 (the answer is real: the object is gone or not ours to read).
 */
function staleIfError(error: unknown): boolean {
  const code = (error as {code?: string} | undefined)?.code
  return code === 'ENDPOINT_UNREACHABLE' || code === 'THROTTLED' || code === 'REMOTE_FAILURE'
}

/** How old something taken at `takenAt` is, in words (for the stale-if-error WARN). */
function ageOf(takenAt: Date): string {
  const seconds = Math.max(0, Math.round((Date.now() - takenAt.getTime()) / 1000))
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86_400)} days`
}

function offlineMiss(uri: string, key: string, dir: string): UserError {
  return new UserError(`--offline: ${uri}${key} is not in the cache (${dir}).`, {
    code: 'OFFLINE_MISS',
    nextSteps: ['Run the same command once without --offline while the endpoint is reachable, so that the object is cached.', 'Or pass the --cache-dir of the run that fetched it.'],
    details: {key},
  })
}

/** Wraps remote storages in the cache; one whose objects are local files gains nothing from it and is returned as is. */
export function withReadCache(storage: Storage, cache: ReadCache | undefined): Storage {
  if (!cache || storage.localPath) return storage
  return new CachedStorage(storage, cache)
}
