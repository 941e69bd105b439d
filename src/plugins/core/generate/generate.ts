import {formatBytes} from '../command/units.js'
import {UsageError} from '../errors/errors.js'
import {forEachLimit} from '../kit/concurrency.js'
import type {Logger} from '../progress/logger.js'
import type {DataSource, TimeRange} from '../sources/types.js'
import type {Storage} from '../storage/types.js'

/** Options of {@link writeGenerated}. */
export interface GenerateRunOptions {
  range: TimeRange
  seed: number
  /** The source's own unit per hour (objects, records or frames); the source's default when unset. */
  rate?: number
  /** Writes in flight at once (default 16). */
  concurrency?: number
  logger?: Logger
  signal?: AbortSignal
}

/** What `bucketwright generate` wrote: the JSON contract of the command. */
export interface GenerateResult {
  location: string
  source: string
  from: string
  to: string
  seed: number
  rate?: number
  objects: number
  /** Records written, when the source's generator counts them; `null` otherwise. */
  records: number | null
  bytes: number
  seconds: number
  recordsPerSecond: number | null
  megabytesPerSecond: number
}

/**
 * Writes a source's synthetic objects for a time range to a storage, with `concurrency` writes in flight. The
 * generator runs ahead while writes are pending, but never more than `concurrency` objects are held at once.
 */
export async function writeGenerated(source: DataSource, storage: Storage, options: GenerateRunOptions): Promise<GenerateResult> {
  if (!source.generate) {
    throw new UsageError(`Source "${source.name}" has no synthetic data generator.`, {code: 'NO_GENERATOR', nextSteps: ['Run `bucketwright sources` and pick a source whose plugin provides generate().']})
  }
  const concurrency = options.concurrency ?? 16
  const started = performance.now()
  let objects = 0
  let bytes = 0
  let records = 0
  let counted = true
  let lastLog = started
  const generated = async function* () {
    for await (const object of source.generate!({range: options.range, seed: options.seed, rate: options.rate})) {
      if (object.records === undefined) counted = false
      else records += object.records
      yield object
    }
  }
  await forEachLimit(generated(), concurrency, async (object) => {
    const size = typeof object.body === 'string' ? Buffer.byteLength(object.body) : object.body.byteLength
    await storage.write(object.key, object.body, {signal: options.signal, contentType: 'application/json'})
    objects++
    bytes += size
    const now = performance.now()
    if (options.logger && now - lastLog > 5_000) {
      lastLog = now
      options.logger.info(`Generated ${objects} objects (${formatBytes(bytes)}) so far`)
    }
  })
  const seconds = (performance.now() - started) / 1000
  return {
    location: storage.uri,
    source: source.name,
    from: options.range.from.toISOString(),
    to: options.range.to.toISOString(),
    seed: options.seed,
    rate: options.rate,
    objects,
    records: counted ? records : null,
    bytes,
    seconds: Math.round(seconds * 1000) / 1000,
    recordsPerSecond: counted && seconds > 0 ? Math.round(records / seconds) : null,
    megabytesPerSecond: seconds > 0 ? Math.round((bytes / 1e6 / seconds) * 10) / 10 : 0,
  }
}
