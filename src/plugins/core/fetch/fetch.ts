import {UsageError} from '../errors/errors.js'
import {forEachLimit} from '../kit/concurrency.js'
import type {Logger} from '../progress/logger.js'
import type {DataSource, TimeRange} from '../sources/types.js'
import {locationOverlap} from '../storage/overlap.js'
import type {Storage} from '../storage/types.js'

/** Options of {@link fetchRange}. */
export interface FetchOptions {
  range: TimeRange
  /** Downloads in flight at once (default 16). */
  concurrency?: number
  logger?: Logger
  signal?: AbortSignal
}

/** What a fetch listed and copied (without the cache counters, which the command adds). */
export interface FetchSummary {
  /** The prefixes listed: only those of the range. */
  prefixes: string[]
  objects: number
  bytes: number
  /** Objects under the listed prefixes whose key time falls outside the range (skipped). */
  outsideRange: number
}

/**
 * Copies a source's raw objects whose key time falls in `[from, to)` from `from` to `to`, under the same keys.
 * Only the range's prefixes (`layout.prefixesFor`) are listed; reads go through whatever `from` is — with the
 * read-through cache, a second fetch of the same objects makes no GET.
 */
export async function fetchRange(source: DataSource, from: Storage, to: Storage, options: FetchOptions): Promise<FetchSummary> {
  const prefixes = source.layout.prefixesFor(options.range)
  const start = options.range.from.getTime()
  const end = options.range.to.getTime()
  const concurrency = options.concurrency ?? 16
  const summary: FetchSummary = {prefixes, objects: 0, bytes: 0, outsideRange: 0}
  // Copies are never fetched again: a destination inside the location is left out of the listing (storage/overlap.ts).
  // One that is, or holds, the prefixes to fetch, or where copies (same keys) would land inside the location, is
  // refused before anything is written.
  const overlap = await locationOverlap(from, to)
  const within = overlap.inputPrefix
  const held = overlap.locationInOutput(prefixes)
  if (overlap.kind === 'same' || held !== undefined || (within !== undefined && prefixes.some((prefix) => prefix.startsWith(within) || within.startsWith(prefix)))) {
    throw new UsageError(
      overlap.kind === 'same'
        ? `${to.uri} is the location fetched from: fetch would copy every object onto itself.`
        : held === undefined
          ? `Copies under ${to.uri} would land inside ${from.uri}, the location fetched from (keys under ${within}).`
          : `${to.uri} holds the objects to fetch (${held}): it is left out of the listing of ${from.uri}, so nothing would be fetched.`,
      {
        code: overlap.kind === 'same' ? 'OUTPUT_IS_INPUT' : held === undefined ? 'OUTPUT_IN_INPUT' : 'OUTPUT_HOLDS_INPUT',
        nextSteps: ['Fetch into a directory outside the source location (or into a folder of its own inside it, which is left out of the listing).'],
        details: {location: from.uri, destination: to.uri},
      },
    )
  }
  options.logger?.info(`Listing ${prefixes.length} prefix(es) of ${from.uri} for ${source.name}`)
  const inRange = async function* () {
    for await (const info of from.listMany(prefixes, {signal: options.signal})) {
      if (overlap.excludesInput(info.key)) continue
      const time = source.layout.timeFromKey(info.key)?.getTime()
      if (time === undefined || time < start || time >= end) summary.outsideRange++
      else yield info
    }
  }
  await forEachLimit(inRange(), concurrency, async (info) => {
    const written = await to.write(info.key, await from.read(info.key, {signal: options.signal}), {signal: options.signal})
    summary.objects++
    summary.bytes += written.size
  })
  return summary
}
