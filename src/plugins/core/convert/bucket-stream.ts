import {pMapIterable} from 'p-map'

import type {QuarantineEntry} from '../manifest/manifest.js'
import type {SchemaViolation} from '../schema/validator.js'
import type {ObjectInfo, Storage} from '../storage/types.js'
import type {OutputCompression} from './buckets.js'
import type {ChunkObject, ChunkResult} from './chunk-encoder.js'
import type {EncoderPool} from './encoder-pool.js'

/** One input object of a bucket, with its time from the key. */
export interface BucketInput extends ObjectInfo {
  time?: number
}

/** Tallies of one bucket's encoding, filled in as its stream is consumed. */
export interface BucketTally {
  objectsDone: number
  records: number
  bytesIn: number
  jsonlBytes: number
  quarantined: QuarantineEntry[]
  recordsChecked: number
  recordsInvalid: number
  violations: SchemaViolation[]
}

/** Options of {@link encodeBucket}. */
export interface EncodeBucketOptions {
  storage: Storage
  pool: EncoderPool
  compression: OutputCompression
  level: number
  validate: boolean
  /** GETs in flight (and fetched objects waiting) at most. */
  concurrency: number
  /** Raw bytes per chunk (one gzip member / zstd frame); chunking depends only on the objects, so output is reproducible. */
  chunkBytes?: number
  chunkObjects?: number
  signal?: AbortSignal
  /** Called as each object has been read (before its chunk is encoded): progress finer than chunks. */
  onFetched?: (fetched: number) => void
  /** Called after each quarantined object with the running total; throw to stop the bucket. */
  onQuarantine?: (entry: QuarantineEntry) => void
}

/** Reads an object whole into a buffer of its own (transferable to a worker without touching shared pools). */
async function fetchObject(storage: Storage, object: BucketInput, signal?: AbortSignal): Promise<ChunkObject> {
  const base = {key: object.key, size: object.size, etag: object.etag, time: object.time}
  if (object.size === 0) return {...base, body: new Uint8Array(0)}
  return {...base, body: await storage.readBytes(object.key, {signal})}
}

/**
 * Groups fetched objects into chunks by size and count, in order. The first chunks are smaller (a quarter, then half
 * of `maxBytes`) so every encoder thread gets work, and the first output flows, soon after the first GETs return.
 * The last 2 × `maxBytes` of the bucket (`totalBytes`, from the listing) go in quarter-size chunks too, so the
 * threads finish about together instead of one waiting on another's last chunk. Chunking depends only on the
 * objects' sizes — not on the number of threads — so the output stays reproducible.
 */
async function* chunksOf(objects: AsyncIterable<ChunkObject>, maxBytes: number, maxObjects: number, totalBytes: number): AsyncIterable<ChunkObject[]> {
  let chunk: ChunkObject[] = []
  let bytes = 0
  let remaining = totalBytes
  let limit = maxBytes / 4
  for await (const object of objects) {
    chunk.push(object)
    bytes += object.body.byteLength
    remaining -= object.size
    if (bytes >= limit || chunk.length >= maxObjects) {
      yield chunk
      chunk = []
      bytes = 0
      limit = remaining < 2 * maxBytes ? maxBytes / 4 : Math.min(maxBytes, limit * 2)
    }
  }
  if (chunk.length > 0) yield chunk
}

/**
 * The output bytes of one bucket, streamed: objects are fetched with bounded concurrency in order, grouped into
 * chunks, encoded on the pool (both cores) and yielded in order as independent compressed members. Memory is
 * bounded by `concurrency` objects plus four chunks per encoder thread, whatever the bucket's size.
 */
export async function* encodeBucket(inputs: BucketInput[], tally: BucketTally, options: EncodeBucketOptions): AsyncIterable<Uint8Array> {
  // p-map's ordered iterable: at most `concurrency` calls started and not yet consumed (its backpressure), results in
  // input order, a failure thrown at its own turn.
  let fetchedCount = 0
  const fetched = pMapIterable(
    inputs,
    async (object) => {
      const read = await fetchObject(options.storage, object, options.signal)
      options.onFetched?.(++fetchedCount)
      return read
    },
    {concurrency: Math.max(1, options.concurrency)},
  )
  const totalBytes = inputs.reduce((sum, input) => sum + input.size, 0)
  const chunks = chunksOf(fetched, options.chunkBytes ?? 4 * 1024 * 1024, options.chunkObjects ?? 256, totalBytes)
  const encoded = pMapIterable(
    chunks,
    (objects, id) => {
      const bytes = objects.reduce((sum, object) => sum + object.body.byteLength, 0)
      return options.pool.encode({id, objects, compression: options.compression, level: options.level, validate: options.validate}).then((result) => ({result, count: objects.length, bytes}))
    },
    {concurrency: Math.max(2, options.pool.size * 4)},
  )
  let emitted = 0
  for await (const {result, count, bytes} of encoded) {
    absorb(tally, result, count, bytes)
    for (const entry of result.quarantined) options.onQuarantine?.(entry)
    emitted++
    yield result.data
  }
  if (emitted === 0) {
    // A bucket whose every object was quarantined still gets a valid (empty) output.
    const empty = await options.pool.encode({id: 0, objects: [], compression: options.compression, level: options.level, validate: false})
    yield empty.data
  }
}

function absorb(tally: BucketTally, result: ChunkResult, objects: number, bytes: number): void {
  tally.objectsDone += objects
  tally.records += result.records
  tally.bytesIn += bytes
  tally.jsonlBytes += result.jsonlBytes
  tally.quarantined.push(...result.quarantined)
  tally.recordsChecked += result.recordsChecked
  tally.recordsInvalid += result.recordsInvalid
  mergeViolations(tally.violations, result.violations)
}

/** Adds violations into a running list: counts summed per field path and keyword, the first example kept. */
export function mergeViolations(into: SchemaViolation[], more: SchemaViolation[]): void {
  for (const violation of more) {
    const existing = into.find((candidate) => candidate.path === violation.path && candidate.keyword === violation.keyword)
    if (existing) existing.count += violation.count
    else into.push({...violation})
  }
  into.sort((a, b) => b.count - a.count || a.path.localeCompare(b.path))
}
