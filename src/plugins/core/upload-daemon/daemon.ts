import {rename, rmdir, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {type BucketwrightError, UserError} from '../errors/errors.js'
import {toBucketwrightError} from '../errors/normalise.js'
import type {Logger} from '../progress/logger.js'
import {isValidBucketName} from '../storage/location.js'
import {headBucket} from '../storage/s3/bucket.js'
import type {S3Connection} from '../storage/s3/s3-client.js'
import {S3Storage} from '../storage/s3/storage.js'
import type {HashWorker} from './hash-worker.js'
import {LIST_THRESHOLD, listKeyRange} from './remote-index.js'
import type {RemoteObject} from '../storage/s3/same-content.js'
import {type Candidate, type Pending, scanRoot, type ScanResult} from './scan.js'
import {Semaphore, type ShipOutcome, Shipper} from './shipper.js'

/** Everything the daemon needs to know, from flags and environment. */
export interface UploadDaemonOptions {
  /** Absolute, real path of the root. */
  root: string
  intervalSeconds: number
  stabilitySeconds: number
  concurrency: number
  includeTemp: boolean
  /** `--exclude` globs (see scan.ts). */
  exclude: string[]
  /**
   * `--prune-empty-dirs`: remove the directories the daemon itself emptied (it shipped and deleted their last file).
   * Off by default: a writer that made its folder once must find it there for its next file.
   */
  pruneEmptyDirs?: boolean
  /** `--keep`: ship and keep the local files (a copy, never a move). */
  keep?: boolean
  /** Local bucket directory → real bucket name. */
  bucketMap: Record<string, string>
  partSize: number
  /** Files up to this many bytes go up in one PUT. */
  singlePutLimit: number
  endpoint?: string
  region: string
  profile?: string
  /** Where counters are written for `upload-daemon status` (atomically, at most once a second). */
  stateFile?: string
}

/** Running totals since the daemon started: what `status` shows and `--json` returns. */
export interface UploadCounters {
  scans: number
  uploaded: number
  uploadedBytes: number
  /** Files whose content the store already had: deleted locally without a second upload. */
  alreadyThere: number
  failed: number
  /** Files whose copy in S3 is verified but that could not be deleted locally (kept; deleted on a later scan). */
  deleteFailed: number
  /** Files that changed while they were read or sent: kept, retried when stable. */
  changed: number
  /** Files that vanished between the scan and their upload (removed or renamed by someone else). */
  vanished: number
  /**
   * With `--keep`: files this daemon already shipped (or found in the bucket) and that are unchanged since (same
   * size, mtime and inode): not read or compared again.
   */
  unchangedSinceShipped: number
  /** Files not yet stable in the last scan. */
  unstable: number
  /** Files skipped in the last scan because their bucket is missing, invalid or unreachable. */
  bucketSkipped: number
  /** Files held back in the last scan because another local file maps to the same bucket and key. */
  collisions: number
  /** Entries the last scan could not read or cannot ship as they are (unreadable, name not UTF-8, key too long). */
  scanErrors: number
  inFlight: number
}

/**
 * Files a scan left unshipped because of an error the user must see: failed uploads and deletes, missing or invalid
 * buckets, collisions, unreadable or unshippable entries. `upload-daemon --once` exits 1 when this is not zero.
 */
export function unshippedByError(counts: Pick<UploadCounters, 'failed' | 'deleteFailed' | 'bucketSkipped' | 'collisions' | 'scanErrors'>): number {
  return counts.failed + counts.deleteFailed + counts.bucketSkipped + counts.collisions + counts.scanErrors
}

/** The state file's contents. */
export interface DaemonState {
  pid: number
  root: string
  startedAt: string
  updatedAt: string
  phase: 'starting' | 'scanning' | 'idle' | 'stopping' | 'stopped'
  lastScan?: {startedAt: string; durationMs: number}
  lastError?: string
  counters: UploadCounters
}

/** One scan's figures: the counters' per-scan part, with the files considered and the time taken. */
export type ScanSummary = Omit<UploadCounters, 'scans' | 'inFlight'> & {candidates: number; durationMs: number}

/** Parses `--bucket-map local=real` values; the real names must be valid S3 bucket names. */
export function parseBucketMap(entries: string[]): {map: Record<string, string>; problems: string[]} {
  const map: Record<string, string> = {}
  const problems: string[] = []
  for (const entry of entries) {
    const eq = entry.indexOf('=')
    if (eq <= 0 || eq === entry.length - 1) problems.push(`"${entry}" is not local=real`)
    else if (!isValidBucketName(entry.slice(eq + 1))) problems.push(`"${entry.slice(eq + 1)}" (in "${entry}") is not a valid S3 bucket name`)
    else map[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return {map, problems}
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

/**
 * The upload daemon: scans the root, ships stable files with bounded concurrency, logs every upload, skip and
 * failure, keeps counters, and stops cleanly on its signal (single PUTs in flight finish, multipart uploads are
 * aborted, nothing unverified is deleted). A failure never stops the scan; the file is retried on the next one.
 */
export class UploadDaemon {
  readonly counters: UploadCounters = {
    scans: 0,
    uploaded: 0,
    uploadedBytes: 0,
    alreadyThere: 0,
    failed: 0,
    deleteFailed: 0,
    changed: 0,
    vanished: 0,
    unchangedSinceShipped: 0,
    unstable: 0,
    bucketSkipped: 0,
    collisions: 0,
    scanErrors: 0,
    inFlight: 0,
  }
  private readonly shipper: Shipper
  private readonly storages = new Map<string, S3Storage>()
  private readonly startedAt = new Date()
  private readonly warned = new Set<string>()
  /**
   * With `--keep`: the files shipped or proven in the bucket, as they were then (size, mtime, inode), so that later
   * scans of this run do not read and compare them again. Rebuilt each scan from the files still there.
   */
  private shipped = new Map<string, Pick<Candidate, 'size' | 'mtimeMs' | 'ino'>>()
  private phase: DaemonState['phase'] = 'starting'
  private lastScan?: DaemonState['lastScan']
  private lastError?: string
  private stateWritten = 0
  private stateWriting?: Promise<void>

  constructor(
    private readonly options: UploadDaemonOptions,
    private readonly connection: S3Connection,
    private readonly logger: Logger,
    hasher: HashWorker,
  ) {
    const partsBudget = Math.max(4, Math.min(32, options.concurrency))
    this.shipper = new Shipper({
      storage: (bucket) => this.storage(bucket),
      partSize: options.partSize,
      singlePutLimit: options.singlePutLimit,
      partsInFlight: new Semaphore(partsBudget),
      partsBudget,
      hasher,
      keep: options.keep,
    })
  }

  /**
   * Scans until `signal` is aborted; with `once`, a single scan. In the foreground a scan that fails as a whole (the
   * root became unreadable) is an ERROR and the next one tries again: one bad directory must not make systemd
   * restart the daemon in a loop. With `once` it is the run's error.
   */
  async run(signal: AbortSignal, once = false): Promise<UploadCounters> {
    for (;;) {
      // Stopped before a scan began (a SIGTERM during the start-up checks): no scan starts.
      if (signal.aborted) break
      try {
        await this.scan(signal)
      } catch (error) {
        if (once) throw error
        const converted = toBucketwrightError(error)
        this.lastError = converted.message
        this.logger.error(`Scan ${this.counters.scans} failed, retried in ${this.options.intervalSeconds} s: ${converted.message}${converted.nextSteps[0] ? ` ${converted.nextSteps[0]}` : ''}`, {code: converted.code})
      }
      if (once || signal.aborted) break
      this.phase = 'idle'
      await this.writeState(true)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.intervalSeconds * 1000)
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {once: true})
      })
      if (signal.aborted) break
    }
    this.phase = 'stopped'
    await this.writeState(true)
    return this.counters
  }

  /** Marks the state as stopping (shown by `status` while uploads drain). */
  stopping(): void {
    this.phase = 'stopping'
    void this.writeState(true)
  }

  /** Records an error worth showing in `status` (credential problems on EC2, for example). */
  noteError(message: string): void {
    this.lastError = message
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    this.logger.warn(message)
  }

  /** The storage of a bucket's whole key space, on the daemon's one connection (made once per bucket). */
  private storage(bucket: string): S3Storage {
    let storage = this.storages.get(bucket)
    if (!storage) {
      storage = new S3Storage(this.connection, bucket, '', {partSize: this.options.partSize, endpoint: this.options.endpoint, region: this.options.region, profile: this.options.profile})
      this.storages.set(bucket, storage)
    }
    return storage
  }

  /** Resolves the bucket a top-level directory goes to, or reports why it cannot. */
  private bucketFor(bucketDir: string): string | undefined {
    const mapped = this.options.bucketMap[bucketDir]
    if (mapped) return mapped
    return isValidBucketName(bucketDir) ? bucketDir : undefined
  }

  /** One scan: walk, group by bucket, check each bucket, then ship every stable file. */
  async scan(signal: AbortSignal): Promise<ScanSummary> {
    const started = Date.now()
    this.phase = 'scanning'
    this.counters.scans++
    const summary: ScanSummary = {
      candidates: 0,
      uploaded: 0,
      uploadedBytes: 0,
      alreadyThere: 0,
      failed: 0,
      deleteFailed: 0,
      changed: 0,
      vanished: 0,
      unchangedSinceShipped: 0,
      unstable: 0,
      bucketSkipped: 0,
      collisions: 0,
      scanErrors: 0,
      durationMs: 0,
    }
    const scan = await this.walk()
    summary.unstable = scan.skipped.unstable
    summary.scanErrors = scan.problems.length
    for (const warning of scan.warnings) {
      if (warning.reason === 'vanished') {
        this.logger.warn(`${warning.path} vanished while the scan looked at it (removed or renamed by someone else); nothing to ship.`, {file: warning.path})
        continue
      }
      const what = {symlink: 'a symbolic link (links are never followed)', 'not-a-file': 'not a regular file', 'outside-bucket': 'directly under the root, so it has no bucket directory'}[warning.reason as 'symlink']
      this.warnOnce(`${warning.reason}:${warning.path}`, `Skipped ${warning.path}: ${what}.`)
    }
    for (const problem of scan.problems) this.logger.error(problem.message, {file: problem.path, reason: problem.reason})
    if (summary.unstable > 0) this.logger.warn(`${summary.unstable} file(s) modified less than ${this.options.stabilitySeconds} s ago: left for the next scan.`)
    let candidates = this.withoutCollisions(scan.candidates, scan.pending, summary)
    const shippedBefore = this.shipped
    this.shipped = new Map()
    if (this.options.keep) {
      candidates = candidates.filter((candidate) => {
        const then = shippedBefore.get(candidate.path)
        if (!then || then.size !== candidate.size || then.mtimeMs !== candidate.mtimeMs || then.ino !== candidate.ino) return true
        this.shipped.set(candidate.path, then)
        summary.unchangedSinceShipped++
        return false
      })
      this.counters.unchangedSinceShipped = summary.unchangedSinceShipped
    }
    summary.candidates = candidates.length

    const byBucket = new Map<string, Candidate[]>()
    for (const candidate of candidates) {
      const list = byBucket.get(candidate.bucketDir) ?? []
      list.push(candidate)
      byBucket.set(candidate.bucketDir, list)
    }
    const pool = new Semaphore(this.options.concurrency)
    /** Directories this scan deleted a shipped file from: the only ones `--prune-empty-dirs` may remove. */
    const emptiedFrom = new Set<string>()
    const shipping: Promise<void>[] = []

    const shipOne = async (bucket: string, candidate: Candidate, remote: RemoteObject | null | undefined) => {
      await pool.acquire()
      if (signal.aborted) return pool.release()
      this.counters.inFlight++
      try {
        const outcome = await this.shipper.ship({bucket, candidate, remote}, signal)
        this.record(summary, bucket, candidate, outcome)
        if (outcome.status === 'uploaded' || outcome.status === 'already-there') {
          if (this.options.keep) this.shipped.set(candidate.path, {size: candidate.size, mtimeMs: candidate.mtimeMs, ino: candidate.ino})
          else if (!outcome.deleteError) emptiedFrom.add(path.dirname(candidate.path))
        }
      } catch (error) {
        summary.failed++
        this.counters.failed++
        const converted = toBucketwrightError(error)
        this.lastError = converted.message
        // What the user can do (e.g. the IAM action to grant) belongs on the same line: operators read logs, not JSON.
        const hint = converted.cause_ === 'user' && converted.nextSteps[0] ? ` ${converted.nextSteps[0]}` : ''
        this.logger.error(`Upload of ${candidate.path} to s3://${bucket}/${candidate.key} failed, retried next scan: ${converted.message}${hint}`, {file: candidate.path, bucket, key: candidate.key, code: converted.code})
      } finally {
        this.counters.inFlight--
        pool.release()
        void this.writeState(false)
      }
    }

    await Promise.all(
      [...byBucket].map(async ([bucketDir, candidates]) => {
        const bucket = this.bucketFor(bucketDir)
        if (!bucket) {
          summary.bucketSkipped += candidates.length
          this.logger.error(`Directory "${bucketDir}" is not a valid S3 bucket name; ${candidates.length} file(s) under it skipped. Map it to a real bucket: --bucket-map ${bucketDir}=<bucket>.`, {
            bucketDir,
            files: candidates.length,
          })
          return
        }
        const problem = await this.checkBucket(bucket, signal)
        if (problem) {
          summary.bucketSkipped += candidates.length
          this.logger.error(`${problem.message} Skipped ${candidates.length} file(s) under ${path.join(this.options.root, bucketDir)}; retried next scan.`, {bucket, code: problem.code, files: candidates.length})
          return
        }
        // Files of one directory share one ranged listing instead of a HEAD each.
        const byDirectory = new Map<string, Candidate[]>()
        for (const candidate of candidates) {
          const directory = candidate.key.slice(0, candidate.key.lastIndexOf('/') + 1)
          const list = byDirectory.get(directory) ?? []
          list.push(candidate)
          byDirectory.set(directory, list)
        }
        const listings = new Semaphore(4)
        await Promise.all(
          [...byDirectory.values()].map(async (group) => {
            let known = new Map<string, RemoteObject | null>()
            if (group.length >= LIST_THRESHOLD) {
              group.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
              await listings.acquire()
              try {
                known = await listKeyRange(
                  this.storage(bucket),
                  group.map((candidate) => candidate.key),
                  signal,
                )
              } catch (error) {
                // Not fatal: every file then gets its own HEAD.
                this.logger.debug(`Listing s3://${bucket}/${group[0].key}… failed (${(error as Error).message}); using HEAD per file.`)
              } finally {
                listings.release()
              }
            }
            for (const candidate of group) shipping.push(shipOne(bucket, candidate, known.get(candidate.key)))
          }),
        )
      }),
    )
    await Promise.all(shipping)
    if (this.options.pruneEmptyDirs) await this.removeEmptiedDirectories([...emptiedFrom])

    summary.durationMs = Date.now() - started
    this.counters.unstable = summary.unstable
    this.counters.bucketSkipped = summary.bucketSkipped
    this.counters.collisions = summary.collisions
    this.counters.scanErrors = summary.scanErrors
    this.lastScan = {startedAt: new Date(started).toISOString(), durationMs: summary.durationMs}
    const errors = unshippedByError(summary)
    if (summary.candidates > 0 || errors > 0) {
      const held = [
        summary.deleteFailed > 0 ? `${summary.deleteFailed} not deleted` : '',
        summary.bucketSkipped > 0 ? `${summary.bucketSkipped} skipped for their bucket` : '',
        summary.collisions > 0 ? `${summary.collisions} held back by key collisions` : '',
        summary.scanErrors > 0 ? `${summary.scanErrors} unreadable or unshippable` : '',
      ].filter(Boolean)
      const message = `Scan ${this.counters.scans} done in ${(summary.durationMs / 1000).toFixed(1)} s: ${summary.uploaded} uploaded (${formatBytes(summary.uploadedBytes)}), ${summary.alreadyThere} already there, ${summary.failed} failed, ${summary.changed} changed while read, ${summary.unstable} not yet stable${held.length > 0 ? `, ${held.join(', ')}` : ''}. Totals: ${this.counters.uploaded} uploaded, ${this.counters.failed} failed.`
      if (errors > 0) this.logger.warn(message, {scan: this.counters.scans, ...summary})
      else this.logger.info(message, {scan: this.counters.scans, ...summary})
    }
    await this.writeState(true)
    return summary
  }

  /** Walks the root; a root that cannot be read is a UserError naming it (the scan fails, the daemon goes on). */
  private async walk(): Promise<ScanResult> {
    const {root} = this.options
    try {
      return await scanRoot(root, {stabilitySeconds: this.options.stabilitySeconds, includeTemp: this.options.includeTemp, exclude: this.options.exclude})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new UserError(`Cannot list the root ${root}: ${code === 'ENOENT' ? 'it no longer exists' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message}.`, {
        code: 'ROOT_UNREADABLE',
        nextSteps: [code === 'ENOENT' ? `Create it again (mkdir -p ${root}).` : `Let the daemon's user read ${root} (chmod/chown).`],
        details: {root, errno: code},
        cause: error,
      })
    }
  }

  /**
   * Leaves out every file whose bucket and key another local file also maps to (two directories mapped to one
   * bucket with --bucket-map, a directory named like another's mapped bucket): uploading both would keep one and
   * delete both. Neither is shipped or deleted; one ERROR names them all. Files not yet stable count too: shipping
   * the stable one now would let the other overwrite it later.
   */
  private withoutCollisions(candidates: Candidate[], pending: Pending[], summary: ScanSummary): Candidate[] {
    // Within one directory every key is its own (names that are not UTF-8 are left out by the scan): only
    // directories that share a bucket can collide, so the common case costs one pass over the directory names.
    const dirs = new Set<string>()
    for (const file of candidates) dirs.add(file.bucketDir)
    for (const file of pending) dirs.add(file.bucketDir)
    const dirsByBucket = new Map<string, string[]>()
    for (const dir of dirs) {
      const bucket = this.bucketFor(dir)
      if (bucket) dirsByBucket.set(bucket, [...(dirsByBucket.get(bucket) ?? []), dir])
    }
    const shared = new Set([...dirsByBucket.values()].filter((list) => list.length > 1).flat())
    if (shared.size === 0) return candidates
    const byTarget = new Map<string, Pending[]>()
    for (const file of [...candidates, ...pending]) {
      if (!shared.has(file.bucketDir)) continue
      const target = `s3://${this.bucketFor(file.bucketDir)}/${file.key}`
      const list = byTarget.get(target)
      if (list) list.push(file)
      else byTarget.set(target, [file])
    }
    const held = new Set<string>()
    for (const [target, files] of byTarget) {
      if (files.length < 2) continue
      const paths = files.map((file) => file.path).sort()
      for (const file of paths) held.add(file)
      this.logger.error(
        `${paths.length} local files map to ${target}: ${paths.join(' and ')}. None of them is uploaded or deleted. Rename all but one, or change --bucket-map so that each directory has its own bucket.`,
        {target, files: paths},
      )
    }
    summary.collisions = held.size
    return held.size === 0 ? candidates : candidates.filter((candidate) => !held.has(candidate.path))
  }

  private record(summary: ScanSummary, bucket: string, candidate: Candidate, outcome: ShipOutcome): void {
    const target = `s3://${bucket}/${candidate.key}`
    const deleted = this.options.keep ? 'local file kept (--keep)' : outcome.deleteError ? `local file NOT deleted: ${outcome.deleteError.message}` : 'local file deleted'
    if (outcome.deleteError) {
      summary.deleteFailed++
      this.counters.deleteFailed++
      this.lastError = outcome.deleteError.message
    }
    const log = (message: string, fields: Record<string, unknown>) =>
      outcome.deleteError ? this.logger.error(`${message} ${outcome.deleteError.nextSteps[0] ?? ''}`.trim(), {...fields, code: outcome.deleteError.code}) : this.logger.info(message, fields)
    switch (outcome.status) {
      case 'uploaded': {
        summary.uploaded++
        summary.uploadedBytes += outcome.bytes
        this.counters.uploaded++
        this.counters.uploadedBytes += outcome.bytes
        const how = outcome.verifiedBy === 'store-digest' ? 'verified by the digest the store reports' : outcome.verifiedBy === 'read-back' ? 'verified by reading it back' : 'verified'
        log(`Uploaded ${candidate.path} → ${target} (${formatBytes(outcome.bytes)}${outcome.method === 'multipart' ? ', multipart' : ''}, ${how}; ${deleted})`, {
          file: candidate.path,
          bucket,
          key: candidate.key,
          bytes: outcome.bytes,
          verifiedBy: outcome.verifiedBy,
        })
        break
      }
      case 'already-there': {
        summary.alreadyThere++
        this.counters.alreadyThere++
        log(`${target} already holds the same content as ${candidate.path}; ${outcome.deleteError || this.options.keep ? deleted : 'local file deleted without uploading'}; not uploaded again.`, {
          file: candidate.path,
          bucket,
          key: candidate.key,
        })
        break
      }
      case 'vanished': {
        summary.vanished++
        this.counters.vanished++
        this.logger.warn(`${candidate.path} vanished before it could be read (removed or renamed by someone else); nothing to ship.`, {file: candidate.path, bucket, key: candidate.key})
        break
      }
      case 'changed': {
        summary.changed++
        this.counters.changed++
        this.logger.warn(`${candidate.path} changed while it was read or uploaded (still being written?); kept, uploaded again once stable.`, {file: candidate.path, bucket, key: candidate.key})
        break
      }
      case 'aborted': {
        this.logger.warn(`Upload of ${candidate.path} aborted on shutdown (multipart upload aborted); the local file is kept.`, {file: candidate.path, bucket, key: candidate.key})
        break
      }
    }
  }

  /** HeadBucket once per bucket per scan: a missing or forbidden bucket is one ERROR, not one per file. */
  private async checkBucket(bucket: string, signal: AbortSignal): Promise<BucketwrightError | undefined> {
    return headBucket(this.connection, bucket, {endpoint: this.options.endpoint, region: this.options.region, profile: this.options.profile}, signal)
  }

  /**
   * `--prune-empty-dirs`: removes the directories this scan emptied by deleting shipped files, deepest first, and
   * each parent that removing them emptied in turn, up to but never including a bucket directory or the root. A
   * directory found empty (made by the user, or emptied by someone else) is never in the list. rmdir only ever
   * removes an empty directory, so a file or folder a writer just created there stops it.
   */
  private async removeEmptiedDirectories(directories: string[]): Promise<void> {
    const root = this.options.root
    const ordered = [...new Set(directories)].sort((a, b) => b.length - a.length)
    for (let directory of ordered) {
      for (;;) {
        const relative = path.relative(root, directory)
        // The root itself, a bucket directory, or anything not strictly inside the root: never removed.
        if (!relative || relative.startsWith('..') || path.isAbsolute(relative) || !relative.includes(path.sep)) break
        try {
          await rmdir(directory)
        } catch {
          break
        }
        directory = path.dirname(directory)
      }
    }
  }

  /** The state for `status`. */
  state(): DaemonState {
    return {
      pid: process.pid,
      root: this.options.root,
      startedAt: this.startedAt.toISOString(),
      updatedAt: new Date().toISOString(),
      phase: this.phase,
      lastScan: this.lastScan,
      lastError: this.lastError,
      counters: {...this.counters},
    }
  }

  /** Writes the state file atomically (temp + rename); throttled to once a second unless forced. */
  async writeState(force: boolean): Promise<void> {
    const file = this.options.stateFile
    if (!file) return
    if (!force && Date.now() - this.stateWritten < 1000) return
    this.stateWritten = Date.now()
    const previous = this.stateWriting
    const write = (async () => {
      await previous?.catch(() => {})
      const temporary = `${file}.${process.pid}.tmp`
      await writeFile(temporary, JSON.stringify(this.state(), null, 2) + '\n')
      await rename(temporary, file)
    })()
    this.stateWriting = write.catch(() => {})
    await write.catch((error) => this.logger.debug(`Could not write the state file ${file}: ${(error as Error).message}`))
  }
}
