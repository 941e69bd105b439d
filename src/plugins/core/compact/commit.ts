import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'

import {RemoteError, VerificationError} from '../errors/errors.js'
import {type ManifestInput, manifestKeyFor, type OutputManifest} from '../manifest/manifest.js'
import type {Storage} from '../storage/types.js'
import {crashPoint} from './faults.js'
import {compactionManifestKey, type InputFormat, type Partition, type PartitionScheme} from './layout.js'
import {type CompactionManifest, type CompactionOutput, writeCompactionManifest} from './manifest.js'

/** An input as listed, with its format. */
export interface ListedInput extends ManifestInput {
  format: InputFormat
  compacted: boolean
  lastModified: Date
}

const PARQUET_TYPE = 'application/vnd.apache.parquet'

/**
 * The storing half of a compaction, after the merged files are verified: record the plan, store the outputs,
 * mark them verified, then (also when a rerun finds a `verified` manifest) move pending outputs into place and
 * delete exactly the inputs that were merged. See {@link CompactionManifest} for the states.
 */
export class PartitionCommit {
  constructor(
    private readonly storage: Storage,
    private readonly scheme: PartitionScheme,
    private readonly options: {deleteBatchSize: number},
    /** Lists the partition's current objects (the same listing compaction started from). */
    private readonly list: (partition: Partition) => Promise<ListedInput[]>,
  ) {}

  /** Records the plan, stores every output (at its pending key when its key holds an input), records them stored. */
  async commit(partition: Partition, manifest: CompactionManifest, report: (message: string) => void): Promise<void> {
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
  async removeOutputs(manifest: CompactionManifest): Promise<void> {
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
  async finish(partition: Partition, manifest: CompactionManifest, report: (message: string) => void): Promise<{deleted: number; kept: string[]}> {
    for (const output of manifest.outputs) {
      const at = await this.storage.head(output.pendingKey ?? output.key)
      if (output.pendingKey && !at) {
        // A pending file goes away by being moved into place: then its key holds the same bytes (same ETag on
        // local disk; on S3 a copy's ETag is the MD5 of the body).
        const moved = await this.storage.head(output.key)
        if (moved && (moved.etag === output.etag || moved.etag === output.md5)) continue
      } else if (at && (!output.etag || at.etag === output.etag)) {
        if (output.pendingKey) await this.storage.move(output.pendingKey, output.key)
        continue
      }
      throw new VerificationError(`${this.storage.uri}${output.pendingKey ?? output.key} is missing or changed since it was verified; no input of ${partition.id} was deleted.`, {
        code: 'COMPACT_OUTPUT_CHANGED',
        nextSteps: [
          `Restore the file, then run compact again; ${compactionManifestKey(partition)} names it with its size and checksums.`,
          `Or, if every input listed in that manifest is still there unchanged, delete the manifest to compact ${partition.id} from scratch.`,
        ],
        details: {partition: partition.id, key: output.key},
      })
    }
    for (const output of manifest.outputs) await this.writeOutputManifest(partition, manifest, output)

    const outputKeys = new Set(manifest.outputs.map((output) => output.key))
    const listed = new Map((await this.list(partition)).map((info) => [info.key, info.etag]))
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
    await this.removeEmptyFolders(partition)
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

  /** Files on disk leave a deleted partition's folder behind; object stores have no folders. Non-empty ones stay. */
  private async removeEmptyFolders(partition: Partition): Promise<void> {
    if (!this.storage.localPath) return
    for (const prefix of partition.prefixes) if (prefix.endsWith('/')) await fs.rmdir(this.storage.localPath(prefix)).catch(() => {})
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
}
