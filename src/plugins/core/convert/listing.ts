import type {DataSource, TimeRange} from '../sources/types.js'
import type {Storage} from '../storage/types.js'
import {type BucketSize, bucketsBetween, type TimeBucket} from './buckets.js'
import type {BucketInput} from './bucket-stream.js'
import {orderedMap} from './ordered.js'

/** A span listed at once: one bucket, or a whole day of hour buckets (sources lay keys out by day). */
export interface ListingWindow {
  from: Date
  to: Date
  buckets: TimeBucket[]
}

/** The buckets of one window with their objects, sorted by time then key (snapshot order). */
export interface ListedWindow {
  window: ListingWindow
  objects: Map<string, BucketInput[]>
  prefixes: number
  keys: number
}

/** Groups the buckets of a range into listing windows (buckets of a day or longer are their own window). */
export function* listingWindows(size: BucketSize, range: TimeRange, template: string, keep: (bucket: TimeBucket) => boolean): Iterable<ListingWindow> {
  if (size !== 'hour') {
    for (const bucket of bucketsBetween(size, range.from, range.to, template)) if (keep(bucket)) yield {from: bucket.from, to: bucket.to, buckets: [bucket]}
    return
  }
  for (const day of bucketsBetween('day', range.from, range.to, '')) {
    const buckets = [...bucketsBetween('hour', day.from, day.to, template)].filter(keep)
    if (buckets.length > 0) yield {from: day.from, to: day.to, buckets}
  }
}

/** The earliest object time of a source under a storage: the first keys of each of its prefixes (keys sort by time). */
export async function earliestObject(storage: Storage, source: DataSource, signal?: AbortSignal): Promise<Date | undefined> {
  let earliest: number | undefined
  await Promise.all(
    source.layout.allPrefixes().map(async (prefix) => {
      let seen = 0
      for await (const info of storage.list(prefix, {signal})) {
        const time = source.layout.timeFromKey(info.key)?.getTime()
        if (time !== undefined && (earliest === undefined || time < earliest)) earliest = time
        if (++seen >= 1000) break
      }
    }),
  )
  return earliest === undefined ? undefined : new Date(earliest)
}

const DAY_MS = 86_400_000

/**
 * The end of the day of the source's latest object (capped at `now`), found by a binary search over days with
 * one-key listings that start after each day's prefix: about a dozen LIST requests per key location instead of
 * listing every empty day up to now. Falls back to `now` when the layout's prefixes are not by day.
 */
export async function latestObjectEnd(storage: Storage, source: DataSource, earliest: Date, now: Date, signal?: AbortSignal): Promise<{end: Date; requests: number}> {
  const firstDay = Math.floor(earliest.getTime() / DAY_MS)
  const lastDay = Math.floor(now.getTime() / DAY_MS)
  let requests = 0
  // Key locations (root level, raw/) are searched at once: a dozen round trips in all, not a dozen each.
  const perLocation = await Promise.all(
    source.layout.allPrefixes().map(async (location): Promise<number | undefined> => {
      const dayPrefix = (day: number) => source.layout.prefixesFor({from: new Date(day * DAY_MS), to: new Date((day + 1) * DAY_MS)}).find((prefix) => prefix.startsWith(location) && prefix !== location)
      const keysAfter = async (day: number): Promise<boolean> => {
        const prefix = dayPrefix(day)
        if (prefix === undefined) return true
        requests++
        for await (const _info of storage.list(location, {startAfter: prefix, signal})) return true
        return false
      }
      if (dayPrefix(firstDay) === undefined) return lastDay
      if (!(await keysAfter(firstDay))) return undefined
      let low = firstDay
      let high = lastDay
      while (low < high) {
        const middle = Math.ceil((low + high) / 2)
        if (await keysAfter(middle)) low = middle
        else high = middle - 1
      }
      return low
    }),
  )
  const latest = Math.max(firstDay, ...perLocation.filter((day): day is number => day !== undefined))
  return {end: new Date(Math.min(now.getTime(), (latest + 1) * DAY_MS)), requests}
}

/** Options of {@link listWindows}. */
export interface ListWindowsOptions {
  /** Listings in flight per window. */
  prefixConcurrency?: number
  /** Windows listed ahead of the one being converted. */
  lookahead?: number
  signal?: AbortSignal
  onKeys?: (keysFound: number) => void
}

/**
 * Lists window after window by the source's day prefixes, in parallel, a few windows ahead of the consumer, so
 * only those windows' keys are ever in memory. Objects outside `range` or of no bucket are dropped.
 */
export function listWindows(storage: Storage, source: DataSource, windows: Iterable<ListingWindow>, range: TimeRange, options: ListWindowsOptions = {}): AsyncIterable<ListedWindow> {
  let keysFound = 0
  return orderedMap(windows, 1 + (options.lookahead ?? 2), async (window) => {
    const from = new Date(Math.max(window.from.getTime(), range.from.getTime()))
    const to = new Date(Math.min(window.to.getTime(), range.to.getTime()))
    const prefixes = source.layout.prefixesFor({from, to})
    const objects = new Map<string, BucketInput[]>(window.buckets.map((bucket) => [bucket.key, []]))
    let keys = 0
    const seen = new Set<string>()
    for await (const info of storage.listMany(prefixes, {concurrency: options.prefixConcurrency ?? 16, signal: options.signal})) {
      const time = source.layout.timeFromKey(info.key)?.getTime()
      if (time === undefined || time < from.getTime() || time >= to.getTime()) continue
      const bucket = window.buckets.find((candidate) => time >= candidate.from.getTime() && time < candidate.to.getTime())
      if (!bucket || seen.has(info.key)) continue
      seen.add(info.key)
      objects.get(bucket.key)!.push({...info, time})
      keys++
      if (++keysFound % 500 === 0) options.onKeys?.(keysFound)
    }
    options.onKeys?.(keysFound)
    for (const list of objects.values()) list.sort((a, b) => a.time! - b.time! || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return {window, objects, prefixes: prefixes.length, keys}
  })
}
