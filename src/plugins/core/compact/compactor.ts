import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {ownsUnit, type Shard} from '../command/shard.js'
import {isProcessAlive} from '../config/run-lock.js'
import {type DuckDB, openDuckDB} from '../duckdb/duckdb.js'
import {Spool} from '../duckdb/spool.js'
import {BucketwrightError, UserError, VerificationError} from '../errors/errors.js'
import {inputsDigest} from '../manifest/manifest.js'
import {makeDirectory} from '../storage/make-directory.js'
import {type RequestCounts, uploadRequests} from '../storage/requests.js'
import type {Storage} from '../storage/types.js'
import {ageCheck} from './age.js'
import {corruptMergedFile, crashPoint} from './faults.js'
import {type ListedInput, PartitionCommit} from './commit.js'
import {type Partition, type PartitionScheme, pendingKeyFor} from './layout.js'
import {type CompactionManifest, type CompactionOutput, readCompactionManifest} from './manifest.js'
import {type ColumnType, columnDifference, combineChecksums, inspectParquet, type MergeStrategy, mergeToParquet, sameChecksum} from './merge.js'
import type {PartitionResult} from './result.js'

/** Settings of a compaction run (the command's flags, parsed). */
export interface CompactOptions {
  minAgeMs: number
  timeZone: string
  minFiles: number
  targetSizeBytes: number
  /** Rows per Parquet row group (DuckDB's default when unset). */
  rowGroupSize?: number
  /** Memory of the whole process in bytes; DuckDB gets most of it. */
  memoryLimitBytes: number
  /** Disk the S3 spool may use, in bytes. */
  diskBudgetBytes: number
  threads?: number
  dryRun: boolean
  shard: Shard
  /** How the input checksum is taken (default `single-pass`). */
  strategy: MergeStrategy
  /** Keys per delete request (S3 allows 1,000). */
  deleteBatchSize: number
  now: Date
  tool: {name: string; version: string}
}

/** A partition found by the listing, with what the listing saw of it. */
export interface PartitionSummary {
  partition: Partition
  files: number
  bytes: number
  compactedFiles: number
  newest: Date
  /** The partition's objects as the discovery listing saw them (kept while the listing is not too large). */
  objects?: ListedInput[]
}

const WORK_PREFIX = 'bw-compact-'

/** Removes the temp roots of compact runs that were killed (SIGKILL, OOM, power loss) and could not clean up. */
async function sweepDeadRuns(): Promise<void> {
  const names = await fs.readdir(os.tmpdir()).catch(() => [] as string[])
  for (const name of names) {
    const pid = Number(new RegExp(`^${WORK_PREFIX}(\\d+)-`).exec(name)?.[1])
    if (!pid || pid === process.pid || isProcessAlive(pid)) continue
    await fs.rm(path.join(os.tmpdir(), name), {recursive: true, force: true}).catch(() => {})
  }
}

/** Up to this many listed keys, discovery keeps the objects, and the first look at each partition needs no LIST. */
const KEEP_LISTING = 200_000

/** Memory of the process outside DuckDB's buffer pool: Node, the SDK, DuckDB's own bookkeeping. */
const NODE_RESERVE_BYTES = 160 * 1024 ** 2

/**
 * Compacts the partitions of one location: per partition list → merge → verify → record → delete, resumable at
 * every step (see {@link CompactionManifest} for the states). Holds one DuckDB for the whole run.
 */
export class Compactor {
  private db?: Promise<DuckDB>
  /** This run's temp root: spool, DuckDB spill and merged files, all removed at the end (or by a later run). */
  private workRoot?: Promise<string>
  private readonly spool: Spool
  private readonly spoolOptions: {budgetBytes: number; tempRoot?: string}
  private readonly committer: PartitionCommit
  private partitionsDone = 0
  /** Keys seen by {@link discover}: its LIST requests are part of a dry run's estimate. */
  listedKeys = 0
  /** Spooled file → object key, to name objects (not temp files) in errors. */
  private pathNames = new Map<string, string>()

  constructor(
    private readonly storage: Storage,
    private readonly scheme: PartitionScheme,
    private readonly options: CompactOptions,
  ) {
    this.spoolOptions = {budgetBytes: options.diskBudgetBytes}
    this.spool = new Spool(storage, this.spoolOptions)
    this.committer = new PartitionCommit(storage, scheme, options, (partition) => this.listPartition(partition))
  }

  /** Lists the location once and returns this shard's partitions in key order, with counts and bytes. */
  async discover(onProgress?: (keys: number) => void): Promise<PartitionSummary[]> {
    // Open DuckDB while the listing waits on storage; a failure surfaces where it is used.
    if (!this.options.dryRun) this.duck().catch(() => {})
    const found = new Map<string, PartitionSummary>()
    let keys = 0
    for await (const info of this.storage.list('')) {
      if (++keys % 1000 === 0) onProgress?.(keys)
      const kind = this.scheme.classify(info.key)
      if (!kind || !ownsUnit(this.options.shard, kind.partition.id)) continue
      let summary = found.get(kind.partition.id)
      if (!summary) found.set(kind.partition.id, (summary = {partition: kind.partition, files: 0, bytes: 0, compactedFiles: 0, newest: info.lastModified, objects: []}))
      if (keys > KEEP_LISTING) summary.objects = undefined
      summary.objects?.push({key: info.key, size: info.size, etag: info.etag, format: kind.format, compacted: kind.compacted, lastModified: info.lastModified})
      summary.files++
      summary.bytes += info.size
      if (kind.compacted) summary.compactedFiles++
      if (info.lastModified > summary.newest) summary.newest = info.lastModified
    }
    this.listedKeys = keys
    if (keys > KEEP_LISTING) for (const summary of found.values()) summary.objects = undefined
    return [...found.values()].sort((a, b) => (a.partition.id < b.partition.id ? -1 : a.partition.id > b.partition.id ? 1 : 0))
  }

  /** Compacts one partition, first finishing or undoing an interrupted earlier run of it. Never throws. */
  async compact(summary: PartitionSummary, report: (message: string) => void = () => {}): Promise<PartitionResult> {
    const {partition} = summary
    const started = performance.now()
    const result: PartitionResult = {partition: partition.id, layout: partition.layout, date: partition.date, status: 'failed', inputs: [], inputBytes: 0, outputs: [], deleted: 0, kept: []}
    try {
      // After a recovery the partition changed: list it again instead of using the discovery listing.
      const recovered = await this.recover(partition, result, report)
      await this.compactListed(partition, result, report, recovered ? undefined : summary.objects)
    } catch (error) {
      const known = error instanceof BucketwrightError
      result.status = known && error.exitCode === 3 ? 'verification-failed' : 'failed'
      // Errors from DuckDB (an unreadable input, mostly) come with the SQL quoted below the first line.
      const message = this.readable((error as Error).message)
      result.error = {
        code: known ? (error.code ?? 'ERROR') : 'MERGE_FAILED',
        message: known ? message : message.split('\n')[0],
        nextSteps: known ? error.nextSteps : [`Fix or set aside the object named above, then run compact again; no input of ${partition.id} was deleted.`],
      }
      result.reason = result.error.message
    } finally {
      await this.spool.close()
      if (this.workRoot) await fs.rm(path.join(await this.workRoot, String(this.partitionsDone)), {recursive: true, force: true})
      this.partitionsDone++
    }
    result.seconds = Math.round(performance.now() - started) / 1000
    return result
  }

  /** Finishes (`verified`) or rolls back (`committing`) what an interrupted run left. */
  private async recover(partition: Partition, result: PartitionResult, report: (message: string) => void): Promise<boolean> {
    const previous = await readCompactionManifest(this.storage, partition)
    if (!previous || previous.state === 'done') return false
    if (this.options.dryRun) {
      result.reason = `an interrupted run (${previous.state}) would first be ${previous.state === 'verified' ? 'finished' : 'rolled back'}`
      return false
    }
    if (previous.state === 'committing') {
      report('rolling back an interrupted run')
      await this.committer.removeOutputs(previous)
      result.recovered = 'rolled-back'
      return true
    }
    report('finishing an interrupted run')
    const {deleted, kept} = await this.committer.finish(partition, previous, report)
    this.record(result, previous)
    result.recovered = 'finished'
    result.deleted += deleted
    result.kept.push(...kept)
    return true
  }

  private record(result: PartitionResult, manifest: CompactionManifest): void {
    result.status = 'compacted'
    result.rows = manifest.checksum.rows
    result.checksum = manifest.checksum.sum
    result.outputs = manifest.outputs.map(({key, size, rows}) => ({key, size, rows}))
  }

  private async compactListed(partition: Partition, result: PartitionResult, report: (message: string) => void, listed?: ListedInput[]): Promise<void> {
    const inputs = listed ?? (await this.listPartition(partition))
    result.inputs = inputs.map(({key, size, etag}) => ({key, size, etag}))
    result.inputBytes = inputs.reduce((sum, input) => sum + input.size, 0)
    const fresh = inputs.filter((input) => !input.compacted)
    const newest = inputs.reduce((max, input) => (input.lastModified > max ? input.lastModified : max), new Date(0))
    const age = ageCheck({date: partition.date, newest, now: this.options.now, minAgeMs: this.options.minAgeMs, zone: this.options.timeZone})
    // Nothing new: up to date, or just brought there by finishing an interrupted run (the result says so).
    if (fresh.length === 0) return result.recovered === 'finished' ? undefined : this.skip(result, 'up-to-date', inputs.length === 0 ? 'no inputs left' : 'only compacted files')
    if (!age.old) return this.skip(result, 'too-recent', age.reason)
    if (inputs.length < this.options.minFiles) return this.skip(result, 'too-few-files', `${inputs.length} input(s), --min-files is ${this.options.minFiles}`)
    if (this.options.dryRun) {
      result.status = 'would-compact'
      result.requests = this.estimate(partition, inputs)
      return
    }
    const manifest = await this.mergeAndVerify(partition, inputs, report)
    await this.committer.commit(partition, manifest, report)
    const {deleted, kept} = await this.committer.finish(partition, manifest, report)
    this.record(result, manifest)
    result.deleted += deleted
    result.kept.push(...kept)
  }

  private skip(result: PartitionResult, status: PartitionResult['status'], reason?: string): void {
    result.status = status
    result.reason = reason
  }

  /** Every current object of a partition, earlier compacted files included. */
  private async listPartition(partition: Partition): Promise<ListedInput[]> {
    const inputs: ListedInput[] = []
    for (const prefix of partition.prefixes) {
      for await (const info of this.storage.list(prefix)) {
        const kind = this.scheme.classify(info.key)
        if (kind?.partition.id !== partition.id) continue
        inputs.push({key: info.key, size: info.size, etag: info.etag, format: kind.format, compacted: kind.compacted, lastModified: info.lastModified})
      }
    }
    return inputs
  }

  /** The run's DuckDB, opened once (loading it takes a while: {@link discover} starts it while it lists). */
  private duck(): Promise<DuckDB> {
    // --memory-limit bounds the process: DuckDB's buffers get what is left after Node and DuckDB's own overhead.
    const limitMb = Math.max(64, Math.floor(Math.min(this.options.memoryLimitBytes * 0.75, this.options.memoryLimitBytes - NODE_RESERVE_BYTES) / 1024 ** 2))
    this.db ??= this.root().then(async (root) => {
      const db = await openDuckDB({memoryLimit: `${limitMb}MiB`, threads: this.options.threads, tempDir: path.join(root, 'spill')})
      // Footers are read when the schemas are merged and again by the scan: parse each once.
      await db.run('SET parquet_metadata_cache = true')
      return db
    })
    return this.db
  }

  /**
   * The temp root of this run, `bw-compact-<pid>-…`: the Spool and DuckDB's spill go inside it, so that one removal
   * cleans everything; roots left by killed runs (their pid gone) are removed when the next run starts.
   */
  private root(): Promise<string> {
    this.workRoot ??= (async () => {
      await sweepDeadRuns()
      const root = await fs.mkdtemp(path.join(os.tmpdir(), `${WORK_PREFIX}${process.pid}-`))
      this.spoolOptions.tempRoot = root
      return root
    })()
    return this.workRoot
  }

  private async workDir(): Promise<string> {
    const dir = path.join(await this.root(), String(this.partitionsDone))
    await makeDirectory(dir)
    return dir
  }

  /** Merges the inputs into local files and checks them against the inputs; nothing is stored yet. */
  private async mergeAndVerify(partition: Partition, inputs: ListedInput[], report: (message: string) => void): Promise<CompactionManifest> {
    const db = await this.duck()
    const work = await this.workDir()
    if (!this.storage.localPath) report(`fetching ${inputs.length} files`)
    const paths = await this.spool.paths(inputs)
    this.pathNames = new Map(paths.map((file, index) => [file, inputs[index].key]))
    const merged = await mergeToParquet(
      db,
      inputs.map((input, index) => ({path: paths[index], format: input.format})),
      path.join(work, 'out'),
      {targetSizeBytes: this.options.targetSizeBytes, rowGroupSize: this.options.rowGroupSize, strategy: this.options.strategy, onStage: (stage) => report(`${stage} ${inputs.length} files`)},
    )
    await Promise.all(paths.map((file) => this.spool.release(file)))
    crashPoint('after-merge')
    await this.checkUnchanged(partition, inputs)
    if (merged.files[0]) await corruptMergedFile(db, merged.files[0])

    report('verifying')
    const digest = inputsDigest(inputs)
    const keys = this.scheme.outputKeys(partition, merged.files.length, digest)
    const inputKeys = new Set(inputs.map((input) => input.key))
    const outputs: (CompactionOutput & {file: string})[] = []
    let columns: ColumnType[] = []
    for (const [index, file] of merged.files.entries()) {
      const read = await inspectParquet(db, file)
      if (index === 0) columns = read.columns
      const difference = columnDifference(columns, read.columns)
      if (difference) throw this.verificationFailed(partition, `${keys[index]}: ${difference}`)
      outputs.push({
        key: keys[index],
        pendingKey: inputKeys.has(keys[index]) ? pendingKeyFor(keys[index], digest) : undefined,
        size: read.size,
        md5: '',
        sha256: '',
        rows: read.checksum.rows,
        checksum: read.checksum,
        file,
      })
    }
    if (merged.footerRows !== undefined && merged.footerRows !== merged.inputs.rows) {
      throw this.verificationFailed(partition, `the inputs' Parquet footers declare ${merged.footerRows} rows, but ${merged.inputs.rows} were read`)
    }
    const written = combineChecksums(outputs.map((output) => output.checksum))
    if (!sameChecksum(written, merged.inputs)) {
      throw this.verificationFailed(partition, `the new files hold ${written.rows} rows (checksum ${written.sum}), the inputs ${merged.inputs.rows} (checksum ${merged.inputs.sum})`)
    }
    crashPoint('after-verify')
    const now = new Date().toISOString()
    return {
      manifestVersion: 1,
      kind: 'compaction',
      tool: this.options.tool,
      partition: partition.id,
      layout: partition.layout,
      date: partition.date,
      state: 'committing',
      createdAt: now,
      updatedAt: now,
      inputsDigest: digest,
      inputs: inputs.map(({key, size, etag}) => ({key, size, etag})),
      checksum: merged.inputs,
      columns,
      outputs: outputs as CompactionOutput[],
    }
  }

  /**
   * An input replaced while it was read leaves no way to know which version was merged (and the manifest would
   * name the other): then nothing is stored, and the next run merges whatever is there.
   */
  private async checkUnchanged(partition: Partition, inputs: ListedInput[]): Promise<void> {
    const now = new Map((await this.listPartition(partition)).map((info) => [info.key, info.etag]))
    const changed = inputs.find((input) => now.get(input.key) !== input.etag)
    if (!changed) return
    throw new UserError(`${this.storage.uri}${changed.key} ${now.has(changed.key) ? 'changed' : 'disappeared'} while ${partition.id} was being compacted; nothing was stored and no input was deleted.`, {
      code: 'INPUT_CHANGED',
      nextSteps: ['Run compact again once the writer of that partition has finished (or raise --min-age).'],
      details: {partition: partition.id, key: changed.key},
    })
  }

  /** DuckDB names spooled temp files in its errors; users know the objects by their keys. */
  private readable(message: string): string {
    let out = message
    for (const [file, key] of this.pathNames) if (out.includes(file)) out = out.replaceAll(file, `${this.storage.uri}${key}`)
    return out
  }

  private verificationFailed(partition: Partition, what: string): VerificationError {
    return new VerificationError(`Compacting ${partition.id} did not verify: ${what}. Nothing was stored and no input was deleted.`, {
      code: 'COMPACT_VERIFY_FAILED',
      nextSteps: [`Check the inputs of ${partition.id} (e.g. with bucketwright verify), then run compact again.`],
      details: {partition: partition.id},
    })
  }

  /** The requests compacting a partition makes, for `--dry-run`. */
  private estimate(partition: Partition, inputs: ListedInput[]): RequestCounts {
    const bytes = inputs.reduce((sum, input) => sum + input.size, 0)
    const outputs = Math.max(1, Math.ceil(bytes / this.options.targetSizeBytes))
    const putsPerOutput = uploadRequests(Math.min(bytes / outputs, this.options.targetSizeBytes))
    const pages = partition.prefixes.length + Math.floor(inputs.length / 1000)
    const collisions = inputs.filter((input) => input.compacted && partition.layout === 'staging').length
    return {
      list: 2 * pages,
      // Inputs that are not local files are fetched first.
      get: (this.storage.localPath ? 0 : inputs.length) + 1,
      head: 1 + 2 * outputs,
      // The outputs, one manifest each, and the three states of the compaction manifest.
      put: outputs * putsPerOutput + outputs + 3,
      copy: collisions,
      delete: Math.ceil(inputs.length / this.options.deleteBatchSize) + (inputs.some((input) => input.compacted) ? 1 : 0),
    }
  }

  async close(): Promise<void> {
    await this.spool.close()
    if (this.db) await (await this.db.catch(() => undefined))?.close()
    if (this.workRoot) await fs.rm(await this.workRoot, {recursive: true, force: true})
  }
}
