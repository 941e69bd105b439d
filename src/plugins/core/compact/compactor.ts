import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {ownsUnit, type Shard} from '../command/shard.js'
import {type DuckDB, openDuckDB} from '../duckdb/duckdb.js'
import {Spool} from '../duckdb/spool.js'
import {BucketwrightError, RemoteError, VerificationError} from '../errors/errors.js'
import {inputsDigest, type ManifestInput, manifestKeyFor, type OutputManifest} from '../manifest/manifest.js'
import {LocalStorage} from '../storage/local.js'
import type {Storage} from '../storage/types.js'
import {ageCheck} from './age.js'
import {corruptMergedFile, crashPoint} from './faults.js'
import {compactionManifestKey, type InputFormat, type Partition, type PartitionScheme, pendingKeyFor} from './layout.js'
import {type CompactionManifest, type CompactionOutput, readCompactionManifest, writeCompactionManifest} from './manifest.js'
import {type ColumnType, columnDifference, combineChecksums, inspectParquet, type MergeStrategy, mergeToParquet, sameChecksum} from './merge.js'
import type {PartitionResult, RequestCounts} from './result.js'

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
}

/** An input as listed, with its format. */
interface ListedInput extends ManifestInput {
  format: InputFormat
  compacted: boolean
  lastModified: Date
}

const PARQUET_TYPE = 'application/vnd.apache.parquet'

/** Memory of the process outside DuckDB's buffer pool: Node, the SDK, DuckDB's own bookkeeping. */
const NODE_RESERVE_BYTES = 160 * 1024 ** 2


/**
 * Compacts the partitions of one location: per partition list → merge → verify → record → delete, resumable at
 * every step (see {@link CompactionManifest} for the states). Holds one DuckDB for the whole run.
 */
export class Compactor {
  private db?: DuckDB
  private workRoot?: string
  private spool: Spool
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
    this.spool = new Spool(storage, {budgetBytes: options.diskBudgetBytes})
  }

  /** Lists the location once and returns this shard's partitions in key order, with counts and bytes. */
  async discover(onProgress?: (keys: number) => void): Promise<PartitionSummary[]> {
    const found = new Map<string, PartitionSummary>()
    let keys = 0
    for await (const info of this.storage.list('')) {
      if (++keys % 1000 === 0) onProgress?.(keys)
      const kind = this.scheme.classify(info.key)
      if (!kind || !ownsUnit(this.options.shard, kind.partition.id)) continue
      let summary = found.get(kind.partition.id)
      if (!summary) found.set(kind.partition.id, (summary = {partition: kind.partition, files: 0, bytes: 0, compactedFiles: 0, newest: info.lastModified}))
      summary.files++
      summary.bytes += info.size
      if (kind.compacted) summary.compactedFiles++
      if (info.lastModified > summary.newest) summary.newest = info.lastModified
    }
    this.listedKeys = keys
    return [...found.values()].sort((a, b) => (a.partition.id < b.partition.id ? -1 : a.partition.id > b.partition.id ? 1 : 0))
  }

  /** Compacts one partition, first finishing or undoing an interrupted earlier run of it. Never throws. */
  async compact(summary: PartitionSummary, report: (message: string) => void = () => {}): Promise<PartitionResult> {
    const {partition} = summary
    const started = performance.now()
    const result: PartitionResult = {partition: partition.id, layout: partition.layout, date: partition.date, status: 'failed', inputs: [], inputBytes: 0, outputs: [], deleted: 0, kept: []}
    try {
      await this.recover(partition, result, report)
      await this.compactListed(partition, result, report)
    } catch (error) {
      const known = error instanceof BucketwrightError
      result.status = known && error.exitCode === 3 ? 'verification-failed' : 'failed'
      result.error = {code: known ? (error.code ?? 'ERROR') : 'UNEXPECTED', message: this.readable((error as Error).message)}
      result.reason = result.error.message
    } finally {
      await this.spool.close()
      if (this.workRoot) await fs.rm(path.join(this.workRoot, String(this.partitionsDone)), {recursive: true, force: true})
      this.partitionsDone++
    }
    result.seconds = Math.round(performance.now() - started) / 1000
    return result
  }

  /** Finishes (`verified`) or rolls back (`committing`) what an interrupted run left. */
  private async recover(partition: Partition, result: PartitionResult, report: (message: string) => void): Promise<void> {
    const previous = await readCompactionManifest(this.storage, partition)
    if (!previous || previous.state === 'done' || this.options.dryRun) return
    if (previous.state === 'committing') {
      report('rolling back an interrupted run')
      await this.removeOutputs(previous)
      result.recovered = 'rolled-back'
      return
    }
    report('finishing an interrupted run')
    const {deleted, kept} = await this.finish(partition, previous, report)
    this.record(result, previous)
    result.recovered = 'finished'
    result.deleted += deleted
    result.kept.push(...kept)
  }

  private record(result: PartitionResult, manifest: CompactionManifest): void {
    result.status = 'compacted'
    result.rows = manifest.checksum.rows
    result.checksum = manifest.checksum.sum
    result.outputs = manifest.outputs.map(({key, size, rows}) => ({key, size, rows}))
  }

  private async compactListed(partition: Partition, result: PartitionResult, report: (message: string) => void): Promise<void> {
    const inputs = await this.listPartition(partition)
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
    await this.commit(partition, manifest, report)
    const {deleted, kept} = await this.finish(partition, manifest, report)
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

  private async duck(): Promise<DuckDB> {
    // --memory-limit bounds the process: DuckDB's buffers get what is left after Node and DuckDB's own overhead.
    const limitMb = Math.max(64, Math.floor(Math.min(this.options.memoryLimitBytes * 0.75, this.options.memoryLimitBytes - NODE_RESERVE_BYTES) / 1024 ** 2))
    if (!this.db) {
      this.db = await openDuckDB({memoryLimit: `${limitMb}MiB`, threads: this.options.threads})
      // Footers are read when the schemas are merged and again by the scan: parse each once.
      await this.db.run('SET parquet_metadata_cache = true')
    }
    return this.db
  }

  private async workDir(): Promise<string> {
    this.workRoot ??= await fs.mkdtemp(path.join(os.tmpdir(), 'bw-compact-'))
    const dir = path.join(this.workRoot, String(this.partitionsDone))
    await fs.mkdir(dir, {recursive: true})
    return dir
  }

  /** Merges the inputs into local files and checks them against the inputs; nothing is stored yet. */
  private async mergeAndVerify(partition: Partition, inputs: ListedInput[], report: (message: string) => void): Promise<CompactionManifest> {
    const db = await this.duck()
    const work = await this.workDir()
    if (this.storage.kind === 's3') report(`fetching ${inputs.length} files`)
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
      outputs.push({key: keys[index], pendingKey: inputKeys.has(keys[index]) ? pendingKeyFor(keys[index], digest) : undefined, size: read.size, md5: '', sha256: '', rows: read.checksum.rows, checksum: read.checksum, file})
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

  /** Records the plan, stores every output (at its pending key when its key holds an input), records them stored. */
  private async commit(partition: Partition, manifest: CompactionManifest, report: (message: string) => void): Promise<void> {
    await writeCompactionManifest(this.storage, partition, manifest)
    crashPoint('after-commit')
    for (const [index, output] of (manifest.outputs as (CompactionOutput & {file?: string})[]).entries()) {
      report(`storing ${index + 1}/${manifest.outputs.length} ${output.key}`)
      const stored = await this.storage.write(output.pendingKey ?? output.key, createReadStream(output.file!), {contentType: PARQUET_TYPE})
      if (stored.size !== output.size) {
        throw new RemoteError(`Stored ${stored.size} bytes of ${output.key}, expected ${output.size}; no input was deleted.`, {code: 'WRITE_SHORT', nextSteps: ['Run compact again.']})
      }
      Object.assign(output, {md5: stored.md5, sha256: stored.sha256, etag: stored.etag})
      delete output.file
    }
    crashPoint('after-upload')
    manifest.state = 'verified'
    await writeCompactionManifest(this.storage, partition, manifest)
    crashPoint('after-verified')
  }

  /** Undoes a run that stopped while storing: its outputs go, its inputs were never touched. */
  private async removeOutputs(manifest: CompactionManifest): Promise<void> {
    const keys = manifest.outputs.map((output) => output.pendingKey ?? output.key)
    const result = await this.storage.delete(keys)
    if (result.errors.length > 0) {
      throw new RemoteError(`Could not remove ${result.errors[0].key} of an interrupted compaction: ${result.errors[0].message}`, {code: 'DELETE_FAILED', nextSteps: ['Run compact again.']})
    }
  }

  /**
   * From `verified` to `done`: checks the stored outputs, moves pending ones into place, writes their manifests,
   * deletes exactly the listed inputs whose ETag is unchanged (batched), then marks the partition done.
   */
  private async finish(partition: Partition, manifest: CompactionManifest, report: (message: string) => void): Promise<{deleted: number; kept: string[]}> {
    for (const output of manifest.outputs) {
      const at = await this.storage.head(output.pendingKey ?? output.key)
      if (output.pendingKey && !at) {
        // A pending file is removed only by moving it into place, so its absence means it was moved.
        if (await this.storage.head(output.key)) continue
      } else if (at && (!output.etag || at.etag === output.etag)) {
        if (output.pendingKey) await this.storage.move(output.pendingKey, output.key)
        continue
      }
      throw new VerificationError(`${this.storage.uri}${output.pendingKey ?? output.key} is missing or changed since it was verified; no input of ${partition.id} was deleted.`, {
        code: 'COMPACT_OUTPUT_CHANGED',
        nextSteps: [`Inspect ${compactionManifestKey(partition)}; remove it to compact ${partition.id} from scratch.`],
        details: {partition: partition.id, key: output.key},
      })
    }
    for (const output of manifest.outputs) await this.writeOutputManifest(partition, manifest, output)

    const outputKeys = new Set(manifest.outputs.map((output) => output.key))
    const listed = new Map((await this.listPartition(partition)).map((info) => [info.key, info.etag]))
    const toDelete: string[] = []
    const kept: string[] = []
    for (const input of manifest.inputs) {
      if (outputKeys.has(input.key) || !listed.has(input.key)) continue
      if (listed.get(input.key) === input.etag) toDelete.push(input.key)
      else kept.push(input.key)
    }
    let deleted = 0
    for (let start = 0; start < toDelete.length; start += this.options.deleteBatchSize) {
      const batch = toDelete.slice(start, start + this.options.deleteBatchSize)
      report(`deleting inputs ${start + 1}–${start + batch.length} of ${toDelete.length}`)
      const out = await this.storage.delete(batch)
      if (out.errors.length > 0) {
        throw new RemoteError(`Could not delete ${out.errors.length} input(s) of ${partition.id}, e.g. ${out.errors[0].key}: ${out.errors[0].message}. The compacted files are verified; a rerun finishes the deletion.`, {
          code: 'DELETE_FAILED',
          nextSteps: ['Check the s3:DeleteObject permission on the location, then run compact again.'],
        })
      }
      deleted += out.deleted.length
      if (start === 0) crashPoint('mid-delete')
    }
    if (this.storage instanceof LocalStorage) await this.removeEmptyFolders(partition)
    // Earlier compacted files merged into this one take their manifests with them.
    const superseded = manifest.inputs.filter((input) => !outputKeys.has(input.key) && this.scheme.classify(input.key)?.compacted)
    if (superseded.length > 0) await this.storage.delete(superseded.map((input) => manifestKeyFor(input.key)))
    crashPoint('before-done')
    manifest.state = 'done'
    manifest.deleted = deleted
    manifest.kept = kept
    await writeCompactionManifest(this.storage, partition, manifest)
    return {deleted, kept}
  }

  /** On local disk a deleted partition leaves its folder behind; S3 has no folders. Non-empty ones stay. */
  private async removeEmptyFolders(partition: Partition): Promise<void> {
    const storage = this.storage as LocalStorage
    for (const prefix of partition.prefixes) if (prefix.endsWith('/')) await fs.rmdir(storage.pathOf(prefix)).catch(() => {})
  }

  /** The core per-output manifest (what verify and audits read), beside every compacted file. */
  private async writeOutputManifest(partition: Partition, manifest: CompactionManifest, output: CompactionOutput): Promise<void> {
    const record: OutputManifest = {
      manifestVersion: 1,
      tool: manifest.tool,
      command: 'compact',
      createdAt: manifest.createdAt,
      output: {key: output.key, size: output.size, md5: output.md5, sha256: output.sha256, etag: output.etag, format: 'parquet', compression: 'zstd'},
      bucket: {key: partition.id, from: partition.date, to: partition.date},
      inputs: manifest.inputs,
      inputsDigest: manifest.inputsDigest,
      counts: {objects: manifest.inputs.length, records: output.rows, quarantined: 0, partitionRecords: manifest.checksum.rows},
      quarantined: [],
      extra: {rowChecksum: output.checksum, partitionChecksum: manifest.checksum, compactionManifest: compactionManifestKey(partition), columns: manifest.columns},
    }
    await this.storage.write(manifestKeyFor(output.key), JSON.stringify(record, null, 2) + '\n', {contentType: 'application/json'})
  }

  /** The requests compacting a partition makes, for `--dry-run`. */
  private estimate(partition: Partition, inputs: ListedInput[]): RequestCounts {
    const bytes = inputs.reduce((sum, input) => sum + input.size, 0)
    const outputs = Math.max(1, Math.ceil(bytes / this.options.targetSizeBytes))
    const partSize = 8 * 1024 ** 2
    const parts = Math.max(1, Math.ceil(Math.min(bytes, this.options.targetSizeBytes) / partSize)) * outputs
    const pages = partition.prefixes.length + Math.floor(inputs.length / 1000)
    const collisions = inputs.filter((input) => input.compacted && partition.layout === 'staging').length
    return {
      list: 2 * pages,
      get: (this.storage.kind === 's3' ? inputs.length : 0) + 1,
      head: 1 + 2 * outputs,
      // Parts (or single PUTs) of the outputs, one manifest each, and three states of the compaction manifest.
      put: parts + (outputs > 1 || parts > outputs ? outputs : 0) + outputs + 3,
      copy: collisions,
      delete: Math.ceil(inputs.length / this.options.deleteBatchSize) + (inputs.some((input) => input.compacted) ? 1 : 0),
    }
  }

  async close(): Promise<void> {
    await this.spool.close()
    await this.db?.close()
    if (this.workRoot) await fs.rm(this.workRoot, {recursive: true, force: true})
  }
}

