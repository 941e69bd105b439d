import {createHash, randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable, Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {pathToFileURL} from 'node:url'

import {isProcessAlive} from '../config/run-lock.js'
import {forEachLimit} from '../kit/concurrency.js'
import {UserError} from '../errors/errors.js'
import {BodyDigest} from './body-digest.js'
import type {DeleteResult, ListManyOptions, ListOptions, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from './types.js'
import {listManyInOrder} from './list-many.js'
import {makeDirectory} from './make-directory.js'

/** Names of in-progress writes; never listed, never visible under their final name until complete. */
export const LOCAL_TEMP_MARK = '.bw-tmp-'

/** This host, in temp names: a writer's process id means something only on the host that wrote it. */
const HOST_TAG = createHash('sha1').update(os.hostname()).digest('hex').slice(0, 8)

/** Stats a listing runs ahead of what it has yielded. */
const STAT_AHEAD = 32

/** Deletions in flight at once. */
const DELETE_CONCURRENCY = 32

/** Temp files of another host (shared disks) or of an older naming are removed only when this old. */
const FOREIGN_TEMP_AGE_MS = 24 * 3_600_000

/**
 * Removes what killed writers left in a folder: temp files whose process on this host is gone, and those of other
 * hosts or older versions once a day old. A live writer's temp file is never touched.
 */
async function sweepTemps(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[])
  await Promise.all(
    names
      .filter((name) => name.startsWith(LOCAL_TEMP_MARK) && name.endsWith('.tmp'))
      .map(async (name) => {
        const ours = /^\.bw-tmp-([0-9a-f]{8})-(\d+)-/.exec(name)
        let stale: boolean
        if (ours && ours[1] === HOST_TAG) stale = Number(ours[2]) !== process.pid && !isProcessAlive(Number(ours[2]))
        else stale = Date.now() - ((await fs.stat(path.join(dir, name)).catch(() => undefined))?.mtimeMs ?? Date.now()) > FOREIGN_TEMP_AGE_MS
        if (stale) await fs.rm(path.join(dir, name), {force: true})
      }),
  )
}

/** Local-disk storage: keys are paths under `root`; writes go to a temp file in the same directory, then rename. */
/** What a listing does with a walk's entry, told by its key alone. */
type Judgement = 'take' | 'skip' | 'stop'

export class LocalStorage implements Storage {
  readonly uri: string
  /** A move is a rename. */
  readonly atomicMove = true
  /** Folders already cleared of dead writers' temp files by this instance. */
  private readonly swept = new Set<string>()

  readonly root: string

  constructor(root: string) {
    // Without a trailing separator (`file:///abs/in/` parses to `/abs/in/`): the root itself must not count as
    // outside the root.
    this.root = path.resolve(root)
    const href = pathToFileURL(this.root).href
    this.uri = href.endsWith('/') ? href : href + '/'
  }

  /** Absolute path of a key; refuses keys that would escape the root. */
  pathOf(key: string): string {
    const full = path.resolve(this.root, key)
    const rootWithSep = this.root.endsWith(path.sep) ? this.root : this.root + path.sep
    if (full !== this.root && !full.startsWith(rootWithSep)) {
      throw new UserError(`Key "${key}" points outside ${this.root}.`, {code: 'KEY_OUTSIDE_ROOT'})
    }
    return full
  }

  /** The {@link Storage.localPath} capability: objects are files. */
  localPath(key: string): string {
    return this.pathOf(key)
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    // Start the walk at the deepest directory the prefix names; entries outside the prefix or not after startAfter
    // are passed over by name, before their stat (a probe lists one key after a day, not a stat of every file).
    const slash = prefix.lastIndexOf('/')
    const dirKey = slash === -1 ? '' : prefix.slice(0, slash + 1)
    const {startAfter} = options
    const judge = (key: string, directory: boolean): Judgement => {
      const start = directory ? key + '/' : key
      if (!start.startsWith(prefix) && !(directory && prefix.startsWith(start))) return start > prefix ? 'stop' : 'skip'
      // Every key under a folder starts with its path: all of them sort before startAfter when the path does and
      // startAfter does not continue it.
      if (startAfter !== undefined && (directory ? start < startAfter && !startAfter.startsWith(start) : key <= startAfter)) return 'skip'
      return 'take'
    }
    for await (const info of this.walk(dirKey, judge)) {
      options.signal?.throwIfAborted()
      yield info
    }
  }

  listMany(prefixes: string[], options: ListManyOptions = {}): AsyncIterable<ObjectInfo> {
    return listManyInOrder(this, prefixes, options)
  }

  /**
   * Depth-first walk in S3 key order: a directory sorts as its name followed by '/'. `judge` passes over entries by
   * name (no stat) and ends the walk at the first one past what is wanted.
   */
  private async *walk(dirKey: string, judge: (key: string, directory: boolean) => Judgement): AsyncGenerator<ObjectInfo, 'stop' | undefined> {
    let entries
    try {
      entries = await fs.readdir(this.pathOf(dirKey), {withFileTypes: true})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined
      throw error
    }
    const named = entries
      .filter((entry) => !entry.name.startsWith(LOCAL_TEMP_MARK) && (entry.isDirectory() || entry.isFile()))
      .map((entry) => ({entry, sortKey: entry.isDirectory() ? entry.name + '/' : entry.name}))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))
    // The files' stats run ahead of what is yielded, up to STAT_AHEAD at once (one at a time, each a trip through
    // libuv's thread pool, 2,000 files took ~0.15 s a listing); they are yielded in order all the same.
    const ahead: Promise<ObjectInfo | undefined>[] = []
    const drain = async function* (until: number) {
      while (ahead.length > until) {
        const info = await ahead.shift()!
        if (info) yield info
      }
    }
    let stopped = false
    try {
      for (const {entry} of named) {
        const key = dirKey + entry.name
        const judgement = judge(key, entry.isDirectory())
        if (judgement === 'stop') {
          stopped = true
          break
        }
        if (judgement === 'skip') continue
        if (entry.isDirectory()) {
          yield* drain(0)
          if ((yield* this.walk(key + '/', judge)) === 'stop') return 'stop'
        } else {
          const stat = this.head(key)
          // Observed now, thrown when its turn comes: a failure of a stat still waiting behind others would otherwise
          // be an unhandled rejection (and end the process) before it is awaited.
          stat.catch(() => {})
          ahead.push(stat)
          yield* drain(STAT_AHEAD - 1)
        }
      }
      yield* drain(0)
    } finally {
      // A consumer that stops early (or a failed stat) leaves stats in flight: settle them, unobserved failures included.
      await Promise.allSettled(ahead)
    }
    return stopped ? 'stop' : undefined
  }

  async head(key: string, options: {checksum?: boolean} = {}): Promise<ObjectInfo | undefined> {
    let stat
    try {
      stat = await fs.stat(this.pathOf(key))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    if (!stat.isFile()) return undefined
    const info: ObjectInfo = {
      key,
      size: stat.size,
      lastModified: stat.mtime,
      etag: `${stat.size.toString(16)}-${Math.round(stat.mtimeMs * 1000).toString(16)}`,
    }
    if (options.checksum) {
      const digest = new BodyDigest()
      for await (const chunk of createReadStream(this.pathOf(key))) digest.update(chunk as Buffer)
      const {md5, sha256} = digest.finish()
      info.checksums = [
        {algorithm: 'SHA256', value: sha256, type: 'FULL_OBJECT'},
        {algorithm: 'MD5', value: md5, type: 'FULL_OBJECT'},
      ]
    }
    return info
  }

  /** A read's failure in the user's words when the file is not there (NO_SUCH_KEY), else as it came. */
  private missing(error: unknown, key: string): never {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`No object at ${this.uri}${key}.`, {code: 'NO_SUCH_KEY', details: {key}})
    throw error
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    const file = this.pathOf(key)
    const handle = await fs.open(file, 'r').catch((error: unknown) => this.missing(error, key))
    return handle.createReadStream({start: options.range?.start, end: options.range?.end, signal: options.signal})
  }

  async readBytes(key: string, options: ReadOptions = {}): Promise<Buffer> {
    // A whole file in one call, into a buffer of its own (transferable to a worker thread without a copy).
    if (!options.range) {
      return fs.readFile(this.pathOf(key), {signal: options.signal}).catch((error: unknown) => this.missing(error, key))
    }
    const chunks: Buffer[] = []
    for await (const chunk of await this.read(key, options)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  async write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options: WriteOptions = {}): Promise<WriteResult> {
    const target = this.pathOf(key)
    await makeDirectory(path.dirname(target))
    // The temp name ends in `.tmp`, not the target's extension: a crash can leave it behind, and a reader's
    // `*.parquet` glob (DuckDB matches dotfiles) must never pick up a half-written file.
    // Host and process in the name let a later write into the folder remove what a killed run left (once per folder).
    if (!this.swept.has(path.dirname(target))) {
      this.swept.add(path.dirname(target))
      await sweepTemps(path.dirname(target))
    }
    const temp = path.join(path.dirname(target), `${LOCAL_TEMP_MARK}${HOST_TAG}-${process.pid}-${randomBytes(6).toString('hex')}-${path.basename(target)}.tmp`)
    const digest = new BodyDigest()
    const source = typeof body === 'string' || body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : Readable.from(body)
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        digest.update(chunk)
        options.onProgress?.(digest.size)
        callback(null, chunk)
      },
    })
    try {
      const out = createWriteStream(temp, {flags: 'wx'})
      await pipeline(source, tap, out, {signal: options.signal})
      const handle = await fs.open(temp, 'r+')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
      await fs.rename(temp, target)
    } catch (error) {
      await fs.rm(temp, {force: true})
      // A failed write (ENOSPC, EIO) names no file; the error a user sees should.
      if ((error as NodeJS.ErrnoException).syscall && !(error as NodeJS.ErrnoException).path) Object.assign(error as Error, {path: target})
      throw error
    }
    const {md5, sha256} = digest.finish()
    const info = await this.head(key)
    return {key, size: digest.size, etag: info?.etag, md5, sha256, parts: 0}
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>): Promise<DeleteResult> {
    const result: DeleteResult = {deleted: [], errors: []}
    // unlink, not fs.rm (an lstat first, then the unlink), several at once: compact deletes thousands of inputs.
    // A key already gone counts as deleted (as S3's DeleteObjects says); a folder is an error, as before.
    await forEachLimit(keys, DELETE_CONCURRENCY, async (key) => {
      try {
        await fs.unlink(this.pathOf(key)).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        })
        result.deleted.push(key)
      } catch (error) {
        result.errors.push({key, code: (error as NodeJS.ErrnoException).code ?? 'ERROR', message: (error as Error).message})
      }
    })
    return result
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    await this.write(toKey, createReadStream(this.pathOf(fromKey)))
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    const target = this.pathOf(toKey)
    await makeDirectory(path.dirname(target))
    await fs.rename(this.pathOf(fromKey), target)
  }

  sub(prefix: string): Storage {
    return new LocalStorage(this.pathOf(prefix))
  }

  async close(): Promise<void> {}
}
