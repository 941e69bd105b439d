import type {ManifestInput} from '../manifest/manifest.js'
import type {Storage} from '../storage/types.js'
import {type CompactLayout, compactionManifestKey, type Partition} from './layout.js'
import type {ColumnType, RowChecksum} from './merge.js'

/**
 * How far a partition's compaction got; the states are written in this order and drive what a rerun does:
 * - `committing`: written before the first output is stored. A rerun removes the outputs it names (none of them
 *   replaced anything: outputs whose key held an input went to a pending key) and starts over.
 * - `verified`: every output is stored and its ETag recorded. A rerun checks them, moves pending outputs over the
 *   inputs they replace, and deletes the remaining inputs — only those whose ETag is still the listed one.
 * - `done`: the inputs are gone; the manifest stays as the record of what the outputs hold.
 */
export type CompactionState = 'committing' | 'verified' | 'done'

/** One output file of a compaction. */
export interface CompactionOutput {
  key: string
  /** Where the file is stored until the input under `key` may be replaced (staging re-compaction). */
  pendingKey?: string
  size: number
  md5: string
  sha256: string
  /** The stored object's ETag (at `pendingKey` when there is one); recorded in `verified`. */
  etag?: string
  rows: number
  checksum: RowChecksum
}

/** The compaction manifest of one partition, at `_manifests/<partition>/_compaction.json`. */
export interface CompactionManifest {
  manifestVersion: 1
  kind: 'compaction'
  tool: {name: string; version: string}
  partition: string
  layout: CompactLayout
  date?: string
  state: CompactionState
  createdAt: string
  updatedAt: string
  /** `inputsDigest` of the inputs: part of the output names, so a rerun knows its own files. */
  inputsDigest: string
  /** Every input merged, with size and ETag as listed: exactly these are deleted, nothing that changed since. */
  inputs: ManifestInput[]
  /** Checksum of the inputs' rows, equal to the outputs' combined checksum. */
  checksum: RowChecksum
  columns: ColumnType[]
  outputs: CompactionOutput[]
  /** Inputs deleted by the run that finished it. */
  deleted?: number
  /** Inputs left in place because they changed after the listing (merged again next time). */
  kept?: string[]
}

/** Reads a partition's compaction manifest; `undefined` when there is none or it cannot be parsed. */
export async function readCompactionManifest(storage: Storage, partition: Partition): Promise<CompactionManifest | undefined> {
  const key = compactionManifestKey(partition)
  if (!(await storage.head(key))) return undefined
  try {
    const manifest = JSON.parse((await storage.readBytes(key)).toString('utf8')) as CompactionManifest
    return manifest.kind === 'compaction' ? manifest : undefined
  } catch {
    return undefined
  }
}

/** Writes a partition's compaction manifest (atomically, like every storage write). */
export async function writeCompactionManifest(storage: Storage, partition: Partition, manifest: CompactionManifest): Promise<void> {
  manifest.updatedAt = new Date().toISOString()
  await storage.write(compactionManifestKey(partition), JSON.stringify(manifest, null, 2) + '\n', {contentType: 'application/json'})
}
