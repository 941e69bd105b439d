import {createHash} from 'node:crypto'
import {closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats, unlinkSync} from 'node:fs'
import {type FileHandle, open} from 'node:fs/promises'
import path from 'node:path'

import {BucketwrightError, RemoteError, UserError, VerificationError} from '../errors/errors.js'
import {etagParts, multipartEtag} from '../storage/s3/etag.js'
import {FastPathError, type FastHead} from '../storage/s3/fast-s3.js'
import type {S3Storage} from '../storage/s3/storage.js'
import type {S3Transport} from '../storage/s3/transport.js'
import {contentTypeFor} from './content-type.js'
import {type BodyDigests, type HashWorker, sharedBuffer} from './hash-worker.js'
import {compareContent, crc32Base64, digestBody, digestFile, type LocalDigests, type RemoteObject, wantedDigests, type WantedDigests} from './same-content.js'
import type {Candidate} from './scan.js'
import {type VerifiedBy, verifyWrite} from './verify-write.js'

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

/** The store refused a body this large in one PUT (HTTP 413); the file goes up as a multipart upload instead. */
class TooLargeForOnePut extends Error {}

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
  endpoint?: string
  region?: string
  profile?: string
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

  private context(operation: string, bucket: string, key: string) {
    return {operation, bucket, key, endpoint: this.options.endpoint, region: this.options.region, profile: this.options.profile}
  }

  async ship(target: ShipTarget, signal: AbortSignal): Promise<ShipOutcome> {
    const {size} = target.candidate
    try {
      if (size <= SYNC_READ_LIMIT && size <= this.singlePutLimit) return await this.shipSmall(target)
      if (size <= this.singlePutLimit) {
        const outcome = await this.shipWhole(target)
        if (outcome) return outcome
      }
      return await this.shipLarge(target, signal)
    } catch (error) {
      if (error instanceof FileChanged) return {status: 'changed', bytes: 0}
      throw error
    }
  }

  /**
   * One PUT of a file above SYNC_READ_LIMIT, read through the thread pool within the memory budget. `undefined`
   * when the store refuses a body this large: the caller then uses a multipart upload (and so do later files).
   */
  private async shipWhole(target: ShipTarget): Promise<ShipOutcome | undefined> {
    const units = Math.min(Math.ceil(target.candidate.size / this.options.partSize), this.options.partsBudget)
    await this.options.partsInFlight.acquire(units)
    try {
      const opened = await openUnchanged(target)
      if (!('handle' in opened)) return opened
      const {handle, before} = opened
      let body: Buffer
      try {
        body = sharedBuffer(before.size)
        let filled = 0
        while (filled < body.length) {
          const {bytesRead} = await handle.read(body, filled, body.length - filled, filled)
          if (bytesRead === 0) return {status: 'changed', bytes: 0}
          filled += bytesRead
        }
      } finally {
        await handle.close()
      }
      let outcome: ShipOutcome
      try {
        outcome = await this.shipSmallBody(target, body, await this.options.hasher.digest(body))
      } catch (error) {
        if (error instanceof TooLargeForOnePut) {
          this.singlePutLimit = Math.min(this.singlePutLimit, body.length - 1)
          return undefined
        }
        // A large PUT cut off (a store that closes the connection on a body it will not take, a flaky link): the
        // multipart upload retries part by part.
        if (error instanceof RemoteError) return undefined
        throw error
      }
      return this.finish(target.candidate.path, before, outcome)
    } finally {
      this.options.partsInFlight.release(units)
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
    return remoteOf(await this.options.storage(target.bucket).headObject(target.candidate.key, {checksum: true}))
  }

  /** A small file whole in memory: one read, MD5 + CRC32, one HEAD at most, one PUT. */
  private async shipSmall(target: ShipTarget): Promise<ShipOutcome> {
    const read = this.readSmall(target.candidate)
    if ('status' in read) return read
    const {body, before} = read
    return this.finish(target.candidate.path, before, await this.shipSmallBody(target, body))
  }

  private async shipSmallBody(target: ShipTarget, body: Buffer, digests?: BodyDigests): Promise<ShipOutcome> {
    const md5 = digests?.md5 ?? createHash('md5').update(body).digest()
    let local: LocalDigests = {size: body.length, md5: md5.toString('hex'), crc32: digests?.crc32 ?? crc32Base64(body)}
    const remote = await this.remoteOf(target)
    if (remote) {
      local = digestBody(body, wantedDigests(remote, body.length, this.options.partSize), local)
      if (compareContent(remote, local) === 'same') return {status: 'already-there', bytes: 0}
    }
    const {bucket, candidate} = target
    let stored: {etag?: string; serverSideEncryption?: string}
    // A body the store refuses as too large for one PUT (413) is not sent again: it goes up in parts instead.
    const tooLarge = (error: unknown) =>
      (error instanceof FastPathError && error.status === 413) || (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 413 || (error as Error).name === 'EntityTooLarge'
    try {
      stored = await this.options
        .storage(bucket)
        .requests()
        .send(
          this.context('PutObject', bucket, candidate.key),
          (transport) => transport.put(bucket, candidate.key, body, md5.toString('base64'), {crc32: local.crc32, contentType: contentTypeFor(candidate.key)}),
          async (error) => {
            if (tooLarge(error)) throw new TooLargeForOnePut()
            return undefined
          },
          tooLarge,
        )
    } catch (error) {
      throw tooLarge(error) ? new TooLargeForOnePut() : error
    }
    // The ETag of exactly these bytes settles it (the common case, kept free of the general check's allocations).
    const verifiedBy = stored.etag === local.md5 ? 'etag' : await this.verifyStored(bucket, candidate.key, stored, local, local.md5!, async (wanted) => digestBody(body, wanted, {size: body.length}))
    return {status: 'uploaded', bytes: body.length, method: 'put', verifiedBy}
  }

  /** Checks what the store kept against the bytes sent (see {@link verifyWrite}). */
  private verifyStored(
    bucket: string,
    key: string,
    answer: {etag?: string; serverSideEncryption?: string},
    local: LocalDigests,
    expectedEtag: string,
    digest: (wanted: WantedDigests) => Promise<LocalDigests>,
    signal?: AbortSignal,
  ): Promise<VerifiedBy> {
    const {partSize} = this.options
    return verifyWrite({storage: this.options.storage(bucket), bucket, key, answer, size: local.size, expectedEtag, partSize, local, digest, signal})
  }

  /** Multipart: parts read at their offsets, each with its MD5 (Content-MD5); the whole verified by verifyWrite. */
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
    const {bucket, candidate} = target
    const remote = await this.remoteOf(target)
    if (remote && remote.size === before.size) {
      const {digests, bytesRead} = await digestFile(handle, before.size, wantedDigests(remote, before.size, this.options.partSize))
      if (bytesRead !== before.size) return {status: 'changed', bytes: 0}
      if (compareContent(remote, digests) === 'same') return {status: 'already-there', bytes: 0}
    }
    const {partSize, partsInFlight} = this.options
    const requests = this.options.storage(bucket).requests()
    // Each request on the lean path, then through the SDK (see requests.ts); an abort stops at once.
    const call = <T>(operation: string, request: (transport: S3Transport) => Promise<T>): Promise<T> => requests.send(this.context(operation, bucket, candidate.key), request)
    const uploadId = await call('CreateMultipartUpload', (transport) => transport.createMultipart(bucket, candidate.key, {contentType: contentTypeFor(candidate.key)}, signal))
    if (!uploadId) throw new RemoteError(`S3 started no multipart upload for s3://${bucket}/${candidate.key} (no UploadId in its answer).`, {code: 'UPLOAD_FAILED'})
    const count = Math.ceil(before.size / partSize)
    const digests: Buffer[] = Array.from({length: count})
    const etags: string[] = Array.from({length: count})
    let completed = false
    try {
      const uploadPart = async (index: number) => {
        await partsInFlight.acquire()
        try {
          if (signal.aborted) throw new Error('aborted')
          const offset = index * partSize
          const length = Math.min(partSize, before.size - offset)
          const buffer = sharedBuffer(length)
          let filled = 0
          while (filled < length) {
            const {bytesRead} = await handle.read(buffer, filled, length - filled, offset + filled)
            if (bytesRead === 0) throw new FileChanged()
            filled += bytesRead
          }
          const {md5} = await this.options.hasher.digest(buffer)
          digests[index] = md5
          const out = await call('UploadPart', (transport) => transport.uploadPart(bucket, candidate.key, uploadId, index + 1, buffer, md5.toString('base64'), signal))
          const etag = out.etag
          // A part ETag that is an MD5 of other bytes: abort before completing, so that an object already under the
          // key is not replaced. Any other form is no digest: the whole object is verified after completion by what
          // the store attests (see verifyWrite), down to reading it back.
          if (etagParts(etag) === 0 && etag !== md5.toString('hex') && !out.serverSideEncryption?.startsWith('aws:kms')) {
            throw new VerificationError(
              `Part ${index + 1} of s3://${bucket}/${candidate.key} was stored with ETag ${etag}, the MD5 of other bytes than the ${md5.toString('hex')} sent; the upload is aborted and the local file kept.`,
              {
                code: 'UPLOAD_CORRUPTED',
                nextSteps: ['It is uploaded again on the next scan. If this repeats, the S3-compatible server mishandles uploads (e.g. stores aws-chunked framing).'],
                details: {bucket, key: candidate.key, part: index + 1, etag, expected: md5.toString('hex')},
              },
            )
          }
          etags[index] = etag ?? ''
        } finally {
          partsInFlight.release()
        }
      }
      // Up to 4 parts of one file at once; the shared semaphore bounds the memory of all uploads together.
      let next = 0
      await Promise.all(
        Array.from({length: Math.min(4, count)}, async () => {
          while (next < count) await uploadPart(next++)
        }),
      )
      const done = await call('CompleteMultipartUpload', (transport) => transport.completeMultipart(bucket, candidate.key, uploadId, etags, signal))
      completed = true
      const expected = multipartEtag(digests)
      const local: LocalDigests = {size: before.size, multipart: new Map([[partSize, expected]])}
      const verifiedBy = await this.verifyStored(
        bucket,
        candidate.key,
        {etag: done.etag, serverSideEncryption: done.serverSideEncryption},
        local,
        expected,
        async (wanted) => {
          // The store attests something else than the multipart ETag: read the file again for that digest.
          const {digests: more, bytesRead} = await digestFile(handle, before.size, wanted)
          if (bytesRead !== before.size) throw new FileChanged()
          return more
        },
        signal,
      )
      return {status: 'uploaded', bytes: before.size, method: 'multipart', verifiedBy}
    } catch (error) {
      // Never leave the parts behind: they cost storage and no reader can see them. (After completion there are no
      // parts left, and the object stays: it is never deleted, whatever its verification found.)
      if (!completed) await requests.send(this.context('AbortMultipartUpload', bucket, candidate.key), (transport) => transport.abortMultipart(bucket, candidate.key, uploadId)).catch(() => {})
      if (signal.aborted) return {status: 'aborted', bytes: 0}
      throw error instanceof BucketwrightError || error instanceof FileChanged ? error : new RemoteError(`Upload of ${candidate.path} failed: ${(error as Error).message}`, {code: 'UPLOAD_FAILED', cause: error})
    }
  }
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

/** What a HEAD says about the object, for the same-content rules; `undefined` when there is none. */
function remoteOf(head: FastHead | undefined): RemoteObject | undefined {
  return head && {size: head.size, etag: head.etag, checksums: head.checksums, checksumType: head.checksumType, serverSideEncryption: head.serverSideEncryption}
}
