import {createHash} from 'node:crypto'
import {closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats, unlinkSync} from 'node:fs'
import {type FileHandle, open} from 'node:fs/promises'
import path from 'node:path'

import {BucketwrightError, RemoteError, UserError} from '../errors/errors.js'
import {compareContent, crc32Base64, digestBody, type LocalDigests, remoteFromHead, type RemoteObject, wantedDigests, type WantedDigests} from '../storage/s3/same-content.js'
import type {S3Storage, S3UploadOptions} from '../storage/s3/storage.js'
import type {VerifiedBy} from '../storage/s3/write-check.js'
import {contentTypeFor} from './content-type.js'
import {digestFile} from './file-digest.js'
import {type HashWorker, sharedBuffer} from './hash-worker.js'
import type {Candidate} from './scan.js'

/**
 * What happened to one file: `uploaded` (and verified), `already-there` (the bucket proved to hold these bytes),
 * `changed` (modified while read or sent: kept for a later scan), `vanished` (gone before it could be read),
 * `aborted` (stopped by shutdown).
 */
export type ShipStatus = 'uploaded' | 'already-there' | 'changed' | 'vanished' | 'aborted'

/** The outcome of shipping one file. */
export interface ShipOutcome {
  status: ShipStatus
  /** Bytes sent (0 when the object was already there). */
  bytes: number
  /** How the upload went up: one PUT or a multipart upload. */
  method?: 'put' | 'multipart'
  /** How the stored copy was verified (uploads only). */
  verifiedBy?: VerifiedBy
  /** The copy in S3 is verified, but the local file could not be deleted. */
  deleteError?: BucketwrightError
}

/** A counting semaphore; `acquire(n)` takes n units at once (FIFO, so a large request is not starved). */
export class Semaphore {
  private waiting: {units: number; resolve: () => void}[] = []
  constructor(private available: number) {}
  async acquire(units = 1): Promise<void> {
    if (this.waiting.length === 0 && this.available >= units) {
      this.available -= units
      return
    }
    await new Promise<void>((resolve) => this.waiting.push({units, resolve}))
  }
  release(units = 1): void {
    this.available += units
    while (this.waiting.length > 0 && this.waiting[0].units <= this.available) {
      const next = this.waiting.shift()!
      this.available -= next.units
      next.resolve()
    }
  }
}

/** The file changed (shrank) while it was read: kept, and shipped on a later scan once stable. */
class FileChanged extends Error {}

/** A local file the daemon cannot open: a user error naming the file, never a bug. */
function unreadable(file: string, error: NodeJS.ErrnoException): UserError {
  return new UserError(`Cannot read ${file}: ${error.code === 'EACCES' || error.code === 'EPERM' ? 'permission denied' : error.message}.`, {
    code: 'FILE_UNREADABLE',
    nextSteps: [`Let the daemon's user read it (chmod/chown), or leave it out with --exclude.`],
    details: {file, errno: error.code},
    cause: error,
  })
}

const GONE = ['ENOENT', 'ENOTDIR']

/** Small files are read synchronously (see readSmall); above this, reads go through the thread pool. */
const SYNC_READ_LIMIT = 1024 * 1024

/** Settings of a {@link Shipper}. */
export interface ShipperOptions {
  /** The storage of a bucket's whole key space; every bucket's on the daemon's one connection. */
  storage: (bucket: string) => S3Storage
  /** Multipart part size (8 MiB: below the 11 MiB PUT body limit of some S3-compatible servers). */
  partSize: number
  /** Files up to this size go up in one PUT; larger ones as multipart uploads. Lowered for good after a 413. */
  singlePutLimit: number
  /** Memory for bodies in flight above SYNC_READ_LIMIT, in units of `partSize`. */
  partsInFlight: Semaphore
  /** The capacity of `partsInFlight`. */
  partsBudget: number
  /** Hashes bodies above SYNC_READ_LIMIT off the JS thread. */
  hasher: HashWorker
  /** `--keep`: never delete the local file (a copy, not a move). */
  keep?: boolean
}

/** The bucket, key and local file one upload is about. */
export interface ShipTarget {
  bucket: string
  candidate: Candidate
  /** From this scan's listing: the object there (`null`: listed, nothing there; `undefined`: not listed → HEAD). */
  remote: RemoteObject | null | undefined
}

function sameFile(a: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>, b: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino
}

/**
 * Ships one local file to its key: reads it once (hashing as it reads), skips the upload when the store already has
 * the same content, uploads otherwise, verifies what the store kept, and deletes the local file only when the upload
 * is verified and the file was not touched meanwhile (size, mtime and inode compared before and after).
 */
export class Shipper {
  private singlePutLimit: number

  constructor(private readonly options: ShipperOptions) {
    this.singlePutLimit = options.singlePutLimit
  }

  async ship(target: ShipTarget, signal: AbortSignal): Promise<ShipOutcome> {
    const {size} = target.candidate
    try {
      if (size <= SYNC_READ_LIMIT && size <= this.singlePutLimit) return await this.shipSmall(target)
      return await this.shipLarge(target, signal)
    } catch (error) {
      if (error instanceof FileChanged || (error as Error).name === 'SourceChanged') return {status: 'changed', bytes: 0}
      throw error
    }
  }

  /**
   * After a verified upload (or a proof that the bucket already held the bytes): deletes the local file when it is
   * still exactly the one that was read — `changed` when it is not. A file that cannot be deleted (a read-only
   * directory) stays, with the reason in `deleteError`; its copy in S3 is verified all the same.
   */
  private finish(file: string, before: Stats, outcome: ShipOutcome): ShipOutcome {
    if (outcome.status !== 'uploaded' && outcome.status !== 'already-there') return outcome
    let after: Stats
    try {
      after = lstatSync(file)
    } catch {
      return {...outcome, status: 'changed'}
    }
    if (!after.isFile() || !sameFile(after, before)) return {...outcome, status: 'changed'}
    if (this.options.keep) return outcome
    try {
      unlinkSync(file)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return outcome
      return {
        ...outcome,
        deleteError: new UserError(
          `Cannot delete ${file} after its verified upload: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied (its directory is not writable)' : code === 'EROFS' ? 'the file system is read-only' : (error as Error).message}.`,
          {
            code: 'DELETE_FAILED',
            nextSteps: [`Let the daemon's user write to ${path.dirname(file)}; the next scan finds the copy in S3 and deletes the file then.`],
            details: {file, errno: code},
          },
        ),
      }
    }
    return outcome
  }

  /**
   * Opens without following a link and reads a small file whole. Synchronous on purpose: on a local, page-cached
   * file each call takes microseconds, while a thread-pool round trip costs tens of microseconds of the JS thread
   * on a busy machine, and small files go by thousands. When the file is gone or changed since the scan, the
   * outcome to report instead.
   */
  private readSmall(candidate: Candidate): {body: Buffer; before: Stats} | ShipOutcome {
    let fd: number
    try {
      fd = openSync(candidate.path, constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch (error) {
      return openFailed(candidate.path, error as NodeJS.ErrnoException)
    }
    try {
      const before = fstatSync(fd)
      if (!before.isFile() || !sameFile(before, candidate) || before.size > SYNC_READ_LIMIT) return {status: 'changed', bytes: 0}
      const body = Buffer.allocUnsafe(before.size)
      let filled = 0
      while (filled < body.length) {
        const bytesRead = readSync(fd, body, filled, body.length - filled, filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      // Shorter than its size a moment ago: truncated while we read; leave it for a later scan.
      return filled === before.size ? {body, before} : {status: 'changed', bytes: 0}
    } finally {
      closeSync(fd)
    }
  }

  private async remoteOf(target: ShipTarget): Promise<RemoteObject | undefined> {
    if (target.remote !== undefined) return target.remote ?? undefined
    return remoteFromHead(await this.options.storage(target.bucket).headObject(target.candidate.key, {checksum: true}))
  }

  /** What every upload of the daemon asks of S3Storage.upload: its object's Content-Type, and a corrupted object left alone. */
  private uploadOptions(target: ShipTarget): S3UploadOptions {
    return {contentType: contentTypeFor(target.candidate.key), singlePutLimit: this.singlePutLimit, keepCorrupted: true}
  }

  /**
   * A small file whole in memory: one read, MD5 + CRC32, one HEAD at most, one PUT (in parts only when the store
   * refuses it: see Upload). No shutdown signal: a single PUT in flight finishes.
   */
  private async shipSmall(target: ShipTarget): Promise<ShipOutcome> {
    const read = this.readSmall(target.candidate)
    if ('status' in read) return read
    const {body, before} = read
    const md5 = createHash('md5').update(body).digest('hex')
    const crc32 = crc32Base64(body)
    const remote = await this.remoteOf(target)
    if (remote && compareContent(remote, digestBody(body, wantedDigests(remote, body.length, this.options.partSize), {size: body.length, md5, crc32})) === 'same') {
      return this.finish(target.candidate.path, before, {status: 'already-there', bytes: 0})
    }
    const done = await this.options.storage(target.bucket).upload(target.candidate.key, body, {
      contentType: contentTypeFor(target.candidate.key),
      singlePutLimit: this.singlePutLimit,
      keepCorrupted: true,
      md5,
      sha256: false,
      crc32,
      digest: async (wanted) => digestBody(body, wanted, {size: body.length}),
    })
    return this.finish(target.candidate.path, before, this.uploaded(done))
  }

  /** The outcome of a verified upload (and a store that refused a PUT this large gets parts from now on). */
  private uploaded(done: {sent: {size: number}; parts: number; putRefused?: boolean; verifiedBy: VerifiedBy}): ShipOutcome {
    if (done.putRefused) this.singlePutLimit = Math.min(this.singlePutLimit, done.sent.size - 1)
    return {status: 'uploaded', bytes: done.sent.size, method: done.parts > 0 ? 'multipart' : 'put', verifiedBy: done.verifiedBy}
  }

  /**
   * A file above SYNC_READ_LIMIT: compared with the object there (read once for that, only when the sizes match),
   * then uploaded by S3Storage.upload reading it by position — one PUT up to the single-PUT limit, else parts — in
   * buffers from the daemon's shared memory budget, hashed on the worker thread.
   */
  private async shipLarge(target: ShipTarget, signal: AbortSignal): Promise<ShipOutcome> {
    const opened = await openUnchanged(target)
    if (!('handle' in opened)) return opened
    const {handle, before} = opened
    try {
      return this.finish(target.candidate.path, before, await this.uploadLarge(target, handle, before, signal))
    } finally {
      await handle.close()
    }
  }

  private async uploadLarge(target: ShipTarget, handle: FileHandle, before: Stats, signal: AbortSignal): Promise<ShipOutcome> {
    const {candidate} = target
    const remote = await this.remoteOf(target)
    const {size} = before
    if (remote && remote.size === size) {
      const {digests, bytesRead} = await digestFile(handle, size, wantedDigests(remote, size, this.options.partSize))
      if (bytesRead !== size) return {status: 'changed', bytes: 0}
      if (compareContent(remote, digests) === 'same') return {status: 'already-there', bytes: 0}
    }
    const storage = this.options.storage(target.bucket)
    const upload = (singlePutLimit: number) =>
      storage.upload(candidate.key, fileSource(handle, size), {
        ...this.uploadOptions(target),
        singlePutLimit,
        // Stopping the daemon aborts a multipart upload (its parts removed); a single PUT in flight finishes.
        signal: size > singlePutLimit ? signal : undefined,
        sha256: false,
        partDigest: async (bytes) => (await this.options.hasher.digest(bytes)).md5,
        lender: this.lender,
        // The store attests something else than the ETag expected: read the file again for that digest.
        digest: async (wanted: WantedDigests): Promise<LocalDigests> => {
          const {digests, bytesRead} = await digestFile(handle, size, wanted)
          if (bytesRead !== size) throw new FileChanged()
          return digests
        },
      })
    try {
      try {
        return this.uploaded(await upload(this.singlePutLimit))
      } catch (error) {
        // A large PUT cut off (a store that closes the connection on a body it will not take, a flaky link): the
        // multipart upload retries part by part.
        if (size > this.singlePutLimit || !(error instanceof RemoteError) || error.code === 'WRITE_UNVERIFIED' || signal.aborted) throw error
        return this.uploaded(await upload(0))
      }
    } catch (error) {
      if (signal.aborted) return {status: 'aborted', bytes: 0}
      throw error instanceof BucketwrightError || error instanceof FileChanged || (error as Error).name === 'SourceChanged'
        ? error
        : new RemoteError(`Upload of ${candidate.path} failed: ${(error as Error).message}`, {code: 'UPLOAD_FAILED', cause: error})
    }
  }

  /**
   * Buffers for the bodies of files above SYNC_READ_LIMIT, from the memory budget shared by every upload (in units
   * of the part size; a whole file in one PUT takes as many as it needs, up to the budget), in shared memory so the
   * hash worker reads them without a copy.
   */
  private readonly lender = {
    borrow: async (length: number): Promise<Buffer> => {
      const units = Math.min(Math.max(1, Math.ceil(length / this.options.partSize)), this.options.partsBudget)
      await this.options.partsInFlight.acquire(units)
      const buffer = sharedBuffer(length)
      this.borrowed.set(buffer, units)
      return buffer
    },
    giveBack: (buffer: Buffer): void => {
      const units = this.borrowed.get(buffer)
      if (units === undefined) return
      this.borrowed.delete(buffer)
      this.options.partsInFlight.release(units)
    },
  }
  private readonly borrowed = new WeakMap<Buffer, number>()
}

/** An open file as a body read by position (see Upload's RangeSource). */
function fileSource(handle: FileHandle, size: number) {
  return {size, read: async (into: Buffer, position: number) => (await handle.read(into, 0, into.length, position)).bytesRead}
}

/**
 * Why a file could not be opened, as an outcome: gone since the scan (`vanished`), replaced by a link (`changed`:
 * links are never followed); anything else — permission denied above all — is a {@link UserError} naming the file.
 */
function openFailed(file: string, error: NodeJS.ErrnoException): ShipOutcome {
  if (GONE.includes(error.code ?? '')) return {status: 'vanished', bytes: 0}
  if (error.code === 'ELOOP') return {status: 'changed', bytes: 0}
  throw unreadable(file, error)
}

/**
 * Opens a candidate without following links and checks it is still the file the scan saw (same size, mtime, inode);
 * when it is gone, became a link, or changed, the outcome to report instead (retried next scan).
 */
async function openUnchanged(target: ShipTarget): Promise<{handle: FileHandle; before: Stats} | ShipOutcome> {
  let handle: FileHandle
  try {
    handle = await open(target.candidate.path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (error) {
    return openFailed(target.candidate.path, error as NodeJS.ErrnoException)
  }
  try {
    const before = await handle.stat()
    if (before.isFile() && sameFile(before, target.candidate)) return {handle, before}
  } catch (error) {
    await handle.close()
    throw error
  }
  await handle.close()
  return {status: 'changed', bytes: 0}
}
