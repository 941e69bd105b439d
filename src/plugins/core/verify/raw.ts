import type {ManifestInput} from '../manifest/manifest.js'
import type {DataSource} from '../sources/types.js'
import type {Storage} from '../storage/types.js'
import {type BucketKind, type BucketSpan, bucketOf} from './buckets.js'
import {forEachLimit} from '../kit/concurrency.js'

/** Raw objects of one bucket, as listed: counts only, so a listing of millions of keys stays small. */
export interface RawBucketListing {
  bucket: BucketSpan
  objects: number
  bytes: number
}

/** Records decoded from one bucket's raw objects. */
export interface RawBucketCount {
  objects: number
  records: number
  /** Objects the source could not decode (convert quarantines them, so their records are not expected). */
  undecodable: {key: string; reason: string}[]
  /** The objects read, as convert records its inputs (`verify --adopt` writes them into a manifest). */
  inputs: ManifestInput[]
  bytes: number
}

/**
 * Lists every raw object of the source and counts them per bucket of `kind`, telling `onProgress` the raw objects
 * found every 10,000 and, once listed, all of them (`done`). `exclude` leaves out keys that are not
 * raw objects (the outputs' when they lie under the raw location, manifests: storage/overlap.ts).
 */
export async function listRawBuckets(
  storage: Storage,
  source: DataSource,
  kind: BucketKind,
  onProgress?: (keys: number, done: boolean) => void,
  exclude: (key: string) => boolean = () => false,
): Promise<Map<string, RawBucketListing>> {
  const buckets = new Map<string, RawBucketListing>()
  let keys = 0
  for await (const object of storage.listMany(source.layout.allPrefixes())) {
    if (exclude(object.key)) continue
    const time = source.layout.timeFromKey(object.key)
    if (!time) continue
    const bucket = bucketOf(kind, time)
    const entry = buckets.get(bucket.label) ?? {bucket, objects: 0, bytes: 0}
    entry.objects++
    entry.bytes += object.size
    buckets.set(bucket.label, entry)
    if (++keys % 10_000 === 0) onProgress?.(keys, false)
  }
  // The count at the end, not the last round ten thousand.
  onProgress?.(keys, true)
  return buckets
}

/**
 * Re-reads one bucket's raw objects (listed again by the source's prefixes for the bucket's span) and decodes
 * them with the source, counting records. Objects are streamed with bounded concurrency; none is held whole.
 */
export async function countRawBucket(storage: Storage, source: DataSource, bucket: BucketSpan, options: {concurrency?: number; exclude?: (key: string) => boolean} = {}): Promise<RawBucketCount> {
  const objects: {key: string; size: number; etag?: string; time: Date}[] = []
  for await (const object of storage.listMany(source.layout.prefixesFor({from: bucket.start, to: bucket.end}))) {
    if (options.exclude?.(object.key)) continue
    const time = source.layout.timeFromKey(object.key)
    if (time && time >= bucket.start && time < bucket.end) objects.push({key: object.key, size: object.size, etag: object.etag, time})
  }
  const result: RawBucketCount = {objects: objects.length, records: 0, undecodable: [], inputs: objects.map(({key, size, etag}) => ({key, size, etag})), bytes: objects.reduce((sum, object) => sum + object.size, 0)}
  await forEachLimit(objects, options.concurrency ?? 8, async (object) => {
    let records = 0
    try {
      for await (const _record of source.decode(await storage.read(object.key), object)) records++
      result.records += records
    } catch (error) {
      result.undecodable.push({key: object.key, reason: (error as Error).message})
    }
  })
  result.undecodable.sort((a, b) => (a.key < b.key ? -1 : 1))
  return result
}
