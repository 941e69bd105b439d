import pLimit from 'p-limit'

import {UsageError} from '../errors/errors.js'
import type {DataSource, TimeRange} from '../sources/types.js'
import {pagesOf} from '../storage/list-many.js'
import {foreignKeysInOutput, inputsOf, type LocationOverlap, outputHoldsInputError} from '../storage/overlap.js'
import type {ObjectInfo, Storage} from '../storage/types.js'
import {type BucketSize, bucketsBetween, type TimeBucket} from './buckets.js'
import type {BucketInput} from './bucket-stream.js'

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
  /** LIST requests made for the window (pages; prefixes the probe had already listed cost none). */
  requests: number
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

const DAY_MS = 86_400_000
/** Listings in flight per round of the search for a location's last day. */
const PROBES = 8

/** Where one key location of a source (the legacy root level, `raw/`…) has objects; `undefined` when it has none. */
export type LocationSpans = Map<string, TimeRange | undefined>

/** A probe under way: where objects start (soon), and where they end (after a search). See {@link startProbe}. */
export interface Probe {
  /**
   * Each location's span with its start found and its end provisionally `now`; resolves after one listing per
   * location. The same map is narrowed in place when {@link done} settles, so listings started later skip the empty
   * days after the end.
   */
  started: Promise<LocationSpans>
  /** The final spans and the LIST requests the probe made. */
  done: Promise<{spans: LocationSpans; requests: number}>
  /**
   * The keys of `prefix` when the probe's first page of its location already holds all of them (the page went past
   * the prefix, or was the whole location), else `undefined`: a short archive's first windows need no LIST at all.
   * Valid once {@link started} has resolved.
   */
  known(prefix: string): ObjectInfo[] | undefined
}

/** The first page of a location's keys as the probe listed it (at most its page size, {@link PROBE_PAGE} keys). */
interface ProbePage {
  infos: ObjectInfo[]
  /** The page holds every key of the location. */
  complete: boolean
}

/** Keys the probe reads from the start of each location: one LIST page. */
const PROBE_PAGE = 1000

/** Options of {@link startProbe}. */
export interface ProbeOptions {
  signal?: AbortSignal
  /** Keys of the probe's first page of each location (default 1,000). */
  pageSize?: number
  /** Keys that are not input (the output's, manifests: {@link LocationOverlap.excludesInput}); never counted. */
  exclude?: (key: string) => boolean
}

/** S3's order of keys: by their UTF-8 bytes (which JavaScript's `<` matches only for keys below U+D800). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/**
 * Finds, for each of the source's key locations, the time of its first object (from its first page of keys, which
 * sort by time) and the end of its last object's day: from that page when it held the whole location, else by a
 * search over days with one-key listings that start after each day's prefix, 8 in parallel per round — a few dozen
 * LIST requests per location instead of listing every empty day. A location whose prefixes are not by day gets no
 * end (`now`) unless its first page held all of it. Listing then skips each location's days outside its span. The
 * starts are known after one round trip ({@link Probe.started}): listing the first windows need not wait for the
 * search for the end.
 */
export function startProbe(storage: Storage, source: DataSource, now: Date, options: ProbeOptions = {}): Probe {
  const {signal, pageSize = PROBE_PAGE, exclude = () => false} = options
  let requests = 0
  const spans: LocationSpans = new Map()
  const pages = new Map<string, ProbePage>()
  const locations = source.layout.allPrefixes()
  const started = Promise.all(
    locations.map(async (location) => {
      requests++
      let earliest: number | undefined
      const infos: ObjectInfo[] = []
      let complete = true
      for await (const info of storage.list(location, {signal})) {
        infos.push(info)
        if (infos.length >= pageSize) {
          complete = false
          break
        }
      }
      for (const info of inputsOf(infos, exclude)) {
        const time = source.layout.timeFromKey(info.key)?.getTime()
        if (time !== undefined && (earliest === undefined || time < earliest)) earliest = time
      }
      pages.set(location, {infos, complete})
      spans.set(location, earliest === undefined ? undefined : {from: new Date(earliest), to: now})
    }),
  ).then(() => spans)
  const done = started.then(async () => {
    await Promise.all(
      locations.map(async (location) => {
        const span = spans.get(location)
        if (span) spans.set(location, {from: span.from, to: lastDayInPage(location) ?? (await lastDayEnd(location, span.from.getTime()))})
      }),
    )
    return {spans, requests}
  })

  /** The end of the last day with objects when the probe's page was the whole location and ends in a dated key. */
  function lastDayInPage(location: string): Date | undefined {
    const page = pages.get(location)
    const inputs = page?.complete ? inputsOf(page.infos, exclude) : []
    const time = inputs.length > 0 ? source.layout.timeFromKey(inputs.at(-1)!.key)?.getTime() : undefined
    if (!page || time === undefined) return undefined
    let latest = time
    for (const info of inputs) latest = Math.max(latest, source.layout.timeFromKey(info.key)?.getTime() ?? latest)
    return new Date(Math.min(now.getTime(), (Math.floor(latest / DAY_MS) + 1) * DAY_MS))
  }

  /** The end of the last day with objects at `location` (at most `now`). */
  async function lastDayEnd(location: string, earliest: number): Promise<Date> {
    const dayPrefix = (day: number) => source.layout.prefixesFor({from: new Date(day * DAY_MS), to: new Date((day + 1) * DAY_MS)}).find((prefix) => prefix.startsWith(location) && prefix !== location)
    const keysAfter = async (day: number): Promise<boolean> => {
      requests++
      for await (const info of storage.list(location, {startAfter: dayPrefix(day), pageSize: 1, signal})) {
        if (!exclude(info.key)) return true
        // The output (or a manifest) lies after the day: look past it a page at a time, not a key a request.
        for await (const page of pagesOf(storage, location, {startAfter: info.key, signal})) {
          requests++
          if (page.some((later) => !exclude(later.key))) return true
        }
        return false
      }
      return false
    }
    let low = Math.floor(earliest / DAY_MS)
    let high = Math.floor(now.getTime() / DAY_MS)
    if (dayPrefix(low) === undefined) return now
    // A search in rounds of PROBES parallel listings (the answer is monotonic: keys after day d for every d up to
    // the last day), so a 5-year range takes 4 round trips instead of 11.
    while (low < high) {
      const step = Math.max(1, Math.ceil((high - low) / (PROBES + 1)))
      const days: number[] = []
      for (let day = low + step; day <= high && days.length < PROBES; day += step) days.push(day)
      const found = await Promise.all(days.map(keysAfter))
      const firstEmpty = found.indexOf(false)
      if (firstEmpty === -1) low = days.at(-1)!
      else {
        if (firstEmpty > 0) low = days[firstEmpty - 1]
        high = days[firstEmpty] - 1
      }
    }
    return new Date(Math.min(now.getTime(), (low + 1) * DAY_MS))
  }

  const known = (prefix: string): ObjectInfo[] | undefined => {
    for (const [location, page] of pages) {
      if (!prefix.startsWith(location)) continue
      const last = page.infos.at(-1)?.key
      // Keys come in key order: a page that ends past every key of the prefix holds all of them.
      if (page.complete || (last !== undefined && !last.startsWith(prefix) && byteOrder(last, prefix) > 0)) {
        return page.infos.filter((info) => info.key.startsWith(prefix))
      }
    }
    return undefined
  }

  // Whoever awaits only one of the two must not leave the other's failure unhandled.
  started.catch(() => {})
  done.catch(() => {})
  return {started, done, known}
}

/** {@link startProbe}, waiting for the whole search. */
export async function probeLocations(storage: Storage, source: DataSource, now: Date, options: ProbeOptions = {}): Promise<{spans: LocationSpans; requests: number}> {
  return startProbe(storage, source, now, options).done
}

/** The whole span of the locations that have objects, or `undefined` when none has any. */
export function overallSpan(spans: LocationSpans): TimeRange | undefined {
  const ranges = [...spans.values()].filter((span): span is TimeRange => span !== undefined)
  if (ranges.length === 0) return undefined
  return {from: new Date(Math.min(...ranges.map((r) => r.from.getTime()))), to: new Date(Math.max(...ranges.map((r) => r.to.getTime())))}
}

/** Whether a prefix may hold objects of `[from, to)`, given where its location has objects. */
function worthListing(prefix: string, from: Date, to: Date, spans?: LocationSpans): boolean {
  if (!spans) return true
  const location = [...spans.keys()].filter((candidate) => prefix.startsWith(candidate)).sort((a, b) => b.length - a.length)[0]
  if (location === undefined) return true
  const span = spans.get(location)
  return span !== undefined && span.from < to && span.to > from
}

/** Options of {@link listWindows}. */
export interface ListWindowsOptions {
  /** Prefix listings in flight at once, across all windows being listed (default 32). */
  prefixConcurrency?: number
  /**
   * Prefixes that may be listed ahead of the window being converted (default 64; at least the next window is
   * always listed): the bound on the keys held in memory, with the windows' own size.
   */
  prefixesAhead?: number
  signal?: AbortSignal
  onKeys?: (keysFound: number) => void
  /** Where each key location has objects ({@link probeLocations}): days outside are not listed. */
  spans?: LocationSpans
  /**
   * Settles when `spans` is final ({@link Probe.done}): until then only the first window is listed, so no day past
   * the last object's is listed on provisional spans.
   */
  spansFinal?: Promise<unknown>
  /** A prefix's keys when they are known without a LIST ({@link Probe.known}). */
  known?: (prefix: string) => ObjectInfo[] | undefined
  /** Keys that are not input (the output's, manifests: {@link LocationOverlap.excludesInput}); the probe's too. */
  exclude?: (key: string) => boolean
}

/**
 * Lists window after window by the source's day prefixes, yielding the windows in order. All windows being listed
 * share one pool of `prefixConcurrency` listings, served in window order, and windows are started while fewer than
 * `prefixesAhead` of their prefixes wait to be consumed — so the pool stays full across window boundaries (S3
 * latency, not window size, sets the pace) while only those windows' keys are ever in memory. Objects outside
 * `range` or of no bucket are dropped.
 */
export async function* listWindows(storage: Storage, source: DataSource, windows: Iterable<ListingWindow>, range: TimeRange, options: ListWindowsOptions = {}): AsyncIterable<ListedWindow> {
  // One pool of listings for every window, served in the order asked (p-limit's queue is first in, first out).
  const slots = pLimit(Math.max(1, options.prefixConcurrency ?? 32))
  const exclude = options.exclude ?? (() => false)
  const ahead = options.prefixesAhead ?? 64
  // Leaving early (an error, a consumer that stops) cancels the listings still in flight for later windows.
  const stop = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
  let keysFound = 0

  const listWindow = (window: ListingWindow): {listed: Promise<ListedWindow>; prefixes: number} => {
    const from = new Date(Math.max(window.from.getTime(), range.from.getTime()))
    const to = new Date(Math.min(window.to.getTime(), range.to.getTime()))
    const prefixes = source.layout.prefixesFor({from, to}).filter((prefix) => worthListing(prefix, from, to, options.spans))
    const listed = (async () => {
      let requests = 0
      // Each prefix's keys in key order; prefixes in the source's order, as listMany would yield them.
      const listings = await Promise.all(
        prefixes.map(
          (prefix) =>
            options.known?.(prefix) ??
            slots(async () => {
              const infos: ObjectInfo[] = []
              for await (const page of pagesOf(storage, prefix, {signal})) {
                requests++
                for (const info of page) infos.push(info)
              }
              return infos
            }),
        ),
      )
      const objects = new Map<string, BucketInput[]>(window.buckets.map((bucket) => [bucket.key, []]))
      // A key can come twice only from prefixes that overlap (one starts with another); bustimes' never do.
      const seen = prefixes.some((prefix, i) => prefixes.some((other, j) => i !== j && other.startsWith(prefix))) ? new Set<string>() : undefined
      const start = from.getTime()
      const end = to.getTime()
      let keys = 0
      for (const listing of listings) {
        for (const info of inputsOf(listing.splice(0), exclude) as BucketInput[]) {
          const time = source.layout.timeFromKey(info.key)?.getTime()
          if (time === undefined || time < start || time >= end) continue
          const bucket = window.buckets.length === 1 ? window.buckets[0] : window.buckets.find((candidate) => time >= candidate.from.getTime() && time < candidate.to.getTime())
          if (!bucket || seen?.has(info.key)) continue
          seen?.add(info.key)
          info.time = time
          objects.get(bucket.key)!.push(info)
          keys++
        }
      }
      for (const list of objects.values()) list.sort((a, b) => a.time! - b.time! || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      return {window, objects, requests, keys}
    })()
    // A failure surfaces when the window's turn comes; until then it must not count as unhandled.
    listed.catch(() => {})
    return {listed, prefixes: prefixes.length}
  }

  const pending: {listed: Promise<ListedWindow>; prefixes: number}[] = []
  let waitingPrefixes = 0
  const upcoming = windows[Symbol.iterator]()
  let exhausted = false
  let final = options.spansFinal === undefined
  // Before the spans are final only the first window starts: it holds the first objects, so the run need not wait
  // for the search; later ones might lie past the last object's day (up to 64 wasted LISTs measured slower on a
  // short archive than the ~5 round trips they save on a long one).
  let windowsStarted = 0
  const topUp = () => {
    while (!exhausted && (final || windowsStarted === 0) && (pending.length === 0 || waitingPrefixes < ahead)) {
      windowsStarted++
      const next = upcoming.next()
      if (next.done) {
        exhausted = true
        return
      }
      const job = listWindow(next.value)
      pending.push(job)
      waitingPrefixes += job.prefixes
    }
  }
  try {
    for (;;) {
      topUp()
      if (pending.length === 0 && !exhausted && !final) {
        await options.spansFinal!.catch(() => {}) // its failure is the caller's to report
        final = true
        topUp()
      }
      const head = pending.shift()
      if (!head) return
      waitingPrefixes -= head.prefixes
      topUp()
      const listed = await head.listed
      keysFound += listed.keys
      options.onKeys?.(keysFound)
      yield listed
    }
  } finally {
    stop.abort()
    upcoming.return?.()
  }
}

/** Digits each key-template token stands for. */
const TOKEN_WIDTH: Record<string, number> = {'{YYYY}': 4, '{WW}': 2, '{MM}': 2, '{DD}': 2, '{HH}': 2}
const TOKENS = /(\{(?:YYYY|WW|MM|DD|HH)\})/

/** Whether some key rendered from `template` starts with `prefix` (tokens stand for digits). */
function templateMayStartWith(template: string, prefix: string): boolean {
  let at = 0
  for (const part of template.split(TOKENS)) {
    const width = TOKEN_WIDTH[part]
    for (let i = 0; i < (width ?? part.length) && at < prefix.length; i++, at++) {
      if (width === undefined ? part[i] !== prefix[at] : !/\d/.test(prefix[at])) return false
    }
  }
  return at >= prefix.length
}

/** Whether a key is one `template` renders. */
function templateMatcher(template: string): (key: string) => boolean {
  const pattern = template
    .split(TOKENS)
    .map((part) => (TOKEN_WIDTH[part] ? `\\d{${TOKEN_WIDTH[part]}}` : part.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`)))
    .join('')
  const regex = new RegExp(`^${pattern}$`)
  return (key) => regex.test(key)
}

/**
 * Refuses locations where convert would read its outputs back as raw objects, write over one, or skip one unseen:
 * the output is the input or holds one of the source's key locations (`s3://b/` → `s3://b/raw/` for bustimes); the
 * output lies around the input and --key-template reaches into it (`./data/raw` → `./data` with
 * `raw/{YYYY}-{MM}-{DD}.jsonl.gz`); or the output lies in the listed input and holds objects of the source that
 * convert did not write. Otherwise an output folder inside the input is simply left out of its listing
 * ({@link LocationOverlap.excludesInput}).
 */
export async function checkConvertLocations(overlap: LocationOverlap, output: Storage, source: DataSource, keyTemplate: string, locations: {input: string; output: string}): Promise<void> {
  const what = 'convert would read its own outputs back as raw objects'
  if (overlap.kind === 'same') throw outputHoldsInputError(locations, what)
  const held = overlap.locationInOutput(source.layout.allPrefixes())
  if (held !== undefined) throw outputHoldsInputError(locations, `${what}, or leave out the raw objects it holds`, `the source's objects (${held})`)
  const within = overlap.inputPrefix
  if (within !== undefined && (templateMayStartWith(keyTemplate, within) || templateMayStartWith(`_manifests/${keyTemplate}.json`, within))) {
    throw new UsageError(`--key-template "${keyTemplate}" puts outputs under ${within} of ${locations.output}, inside the input location ${locations.input}: they would be read back as raw objects.`, {
      code: 'OUTPUT_IN_INPUT',
      nextSteps: [`Choose a --key-template outside ${within}, or an output location outside the input (or inside it, e.g. ${locations.input}v2/).`],
      details: {...locations, keyTemplate},
    })
  }
  if (!overlap.listedIn(source.layout.allPrefixes())) return
  const foreign = await foreignKeysInOutput(output, overlap, {isInput: (key) => source.layout.timeFromKey(key) !== undefined, isOutput: templateMatcher(keyTemplate)})
  if (foreign.length > 0) throw outputHoldsInputError(locations, `convert leaves the output location out of its listing, so they would not be converted`, `objects convert did not write (${foreign.join(', ')})`)
}
