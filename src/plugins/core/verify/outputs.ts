import type {OutputCompression, OutputFormat} from '../convert/buckets.js'
import {forEachLimit} from '../kit/concurrency.js'
import {isPendingMarker, type OutputManifest, readManifestOrPending} from '../manifest/manifest.js'
import type {Storage} from '../storage/types.js'
import {type BucketKind, type BucketSpan, bucketOf, kindOfSpan, parseBucketKey} from './buckets.js'

/** How an output file is stored: the formats convert writes. */
export type {OutputCompression, OutputFormat}

/** One output file of the dataset, with the bucket it covers and its manifest (if any). */
export interface OutputFile {
  key: string
  size: number
  format: OutputFormat
  compression: OutputCompression
  bucket: BucketSpan
  /** The text in the key that names the bucket (to guess a missing neighbour's key). */
  labelInKey?: string
  manifest?: OutputManifest
  /** Set when `_manifests/<key>.json` exists but is not a readable manifest. */
  manifestUnreadable?: boolean
  /**
   * Set when the output has no manifest but convert's pending marker (at `_manifests/<key>.json`): a convert run
   * wrote it and stopped before its manifest. Ours, not made by another tool: the next convert run rebuilds it.
   */
  interrupted?: boolean
}

/** A manifest whose output file is gone: the bucket was converted once and its file deleted or lost since. */
export interface OrphanManifest {
  manifestKey: string
  /** The output the manifest stands for (its key without `_manifests/` and `.json`). */
  outputKey: string
  /** Absent when the manifest is not readable (its output is gone all the same). */
  manifest?: OutputManifest
  /** From the manifest's `bucket`, else from the output key; absent when neither names one. */
  bucket?: BucketSpan
}

/** What lies under an output location. */
export interface OutputInventory {
  files: OutputFile[]
  orphanManifests: OrphanManifest[]
  /** Data-looking files whose key names no time bucket (reported, not verified). */
  unbucketed: string[]
  kind?: BucketKind
}

// Not plain `.json`: raw objects (bustimes__….json) are not outputs, even where an output location holds them.
const DATA_FILE = /\.(jsonl|ndjson)(\.gz|\.zst)?$|\.parquet$/

/** Format and compression from a key's extension. */
export function formatOf(key: string): {format: OutputFormat; compression: OutputCompression} | undefined {
  if (!DATA_FILE.test(key)) return undefined
  if (key.endsWith('.parquet')) return {format: 'parquet', compression: 'none'}
  return {format: 'jsonl', compression: key.endsWith('.gz') ? 'gzip' : key.endsWith('.zst') ? 'zstd' : 'none'}
}

/** Hidden for Athena/Hive and for us: any path segment starting with `_` or `.` (manifests, temp files). */
function isHidden(key: string): boolean {
  return key.split('/').some((part) => part.startsWith('_') || part.startsWith('.'))
}

function spanFromManifest(manifest: OutputManifest | undefined): BucketSpan | undefined {
  const bucket = manifest?.bucket
  if (!bucket?.from || !bucket.to) return undefined
  const from = new Date(bucket.from)
  const to = new Date(bucket.to)
  const kind = kindOfSpan(from, to)
  if (!kind) return undefined
  return {...bucketOf(kind, from), label: bucket.key || bucketOf(kind, from).label}
}

/**
 * Lists the outputs under a location with their manifests (`_manifests/<key>.json`). The bucket of a file comes
 * from its manifest's `bucket.from/to` when present, else from its key. Manifests without an output are returned
 * as orphans: each is a bucket whose file was lost. `exclude` leaves out keys that are not outputs (the raw location's,
 * when it lies under the outputs: storage/overlap.ts).
 */
export async function inventoryOutputs(storage: Storage, options: {concurrency?: number; exclude?: (key: string) => boolean} = {}): Promise<OutputInventory> {
  const dataFiles: {key: string; size: number}[] = []
  const manifestKeys = new Set<string>()
  for await (const object of storage.list('')) {
    if (options.exclude?.(object.key)) continue
    if (object.key.startsWith('_manifests/') && object.key.endsWith('.json')) manifestKeys.add(object.key)
    else if (!isHidden(object.key) && formatOf(object.key)) dataFiles.push({key: object.key, size: object.size})
  }
  const files: OutputFile[] = []
  const unbucketed: string[] = []
  await forEachLimit(dataFiles, options.concurrency ?? 16, async ({key, size}) => {
    const manifestKey = `_manifests/${key}.json`
    const hasManifest = manifestKeys.delete(manifestKey)
    // A pending marker is no manifest: it only tells an interrupted output of ours from one made by another tool.
    const read = hasManifest ? await readManifestOrPending(storage, key) : undefined
    const interrupted = isPendingMarker(read) ? true : undefined
    const manifest = isPendingMarker(read) ? undefined : read
    const parsed = parseBucketKey(key)
    const bucket = spanFromManifest(manifest) ?? parsed
    if (!bucket) {
      unbucketed.push(key)
      return
    }
    const manifestUnreadable = hasManifest && !read ? true : undefined
    files.push({key, size, ...formatOf(key)!, bucket: {kind: bucket.kind, label: bucket.label, start: bucket.start, end: bucket.end}, labelInKey: parsed?.match, manifest, manifestUnreadable, interrupted})
  })
  const orphanManifests: OrphanManifest[] = []
  for (const manifestKey of manifestKeys) {
    const outputKey = manifestKey.slice('_manifests/'.length, -'.json'.length)
    const manifest = await readManifestOrPending(storage, outputKey)
    // A marker without its output: a convert run stopped before writing it. Nothing was lost; convert writes it.
    if (isPendingMarker(manifest)) continue
    orphanManifests.push({manifestKey, outputKey, manifest, bucket: spanFromManifest(manifest) ?? parseBucketKey(outputKey)})
  }
  files.sort((a, b) => a.bucket.start.getTime() - b.bucket.start.getTime() || (a.key < b.key ? -1 : 1))
  const kinds = new Set(files.map((file) => file.bucket.kind))
  return {files, orphanManifests, unbucketed: unbucketed.sort(), kind: kinds.size === 1 ? [...kinds][0] : files[0]?.bucket.kind}
}
