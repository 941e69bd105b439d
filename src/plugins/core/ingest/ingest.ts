import {createReadStream, createWriteStream} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import {pipeline as streamPipeline, type Readable, type Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import zlib from 'node:zlib'

import {parseSegmentName, SEGMENT_SUFFIX, segmentBaseName, type SegmentCompression, segmentHour, segmentKey, segmentName, segmentPrefix} from '../etl/segments.js'
import type {Logger} from '../progress/logger.js'
import {readLines} from '../sources/codec.js'
import {makeDirectory} from '../storage/make-directory.js'
import type {Storage} from '../storage/types.js'
import type {FeedCounts, FeedEvent, FeedGap, FeedItem, FeedReport, MalformedFrame} from './feed.js'

/** A segment ingest moved to ready/. */
export interface ReadySegment {
  key: string
  lines: number
  bytes: number
  /** Why it was closed: size, age, hour (the UTC hour changed), end (input ended or a stop signal), recovered (left by a crashed run). */
  reason: 'size' | 'age' | 'hour' | 'end' | 'recovered'
  /** Bytes stored, when compressed (`bytes` counts the lines uncompressed). */
  storedBytes?: number
  /** Feeds: what happened while the segment was active (also in its metadata, {@link metaKey}). */
  feed?: FeedCounts
  /** Feeds: the segment's metadata, `raw/meta/<source>/<segment>.json`, written before the segment became ready. */
  metaKey?: string
}

/** The metadata ingest writes beside a feed's segment (`raw/meta/<source>/<segment>.json`). */
export interface SegmentMeta {
  segment: string
  source: string
  url: string
  lines: number
  bytes: number
  compression: SegmentCompression
  counts: FeedCounts
  gaps: FeedGap[]
  malformed: MalformedFrame[]
  reconnects: {connection: number; at: string; reason: string}[]
}

/** The `--json` result of `bucketwright ingest`. */
export interface IngestResult {
  source: string
  location: string
  lines: number
  bytes: number
  segments: ReadySegment[]
  /** Feeds: frames, gaps, malformed frames and reconnects of the whole run. */
  feed?: FeedReport
}

/** Options of {@link ingest}. */
export interface IngestOptions {
  raw: Storage
  source: string
  /** NDJSON bytes (stdin, a file), or a live feed's lines and events ({@link feed}). */
  input: Readable | AsyncIterable<Uint8Array> | AsyncIterable<FeedItem>
  /** With a feed as input: its report (counts, gaps, malformed frames), returned in the result. */
  feed?: FeedReport
  /** Compress segments as they become ready (the active segment stays plain, so a crash can cut it back to a line). */
  compression?: SegmentCompression
  /** Close a segment once it holds this many bytes (default 100 MB). */
  rotateBytes: number
  /** Close a segment this long after it was opened (default 10 minutes). */
  rotateAgeMs: number
  /** Write buffered lines at least this often (default 1 s): a crash loses at most this batch. */
  flushEveryMs?: number
  /** Also write once this many bytes are buffered (default 1 MiB). */
  batchBytes?: number
  /** Where active segments are kept when `raw` is not local files (S3 objects cannot be appended to). */
  spoolDir: string
  signal?: AbortSignal
  logger?: Logger
}

/**
 * Where the active segment lives and how it becomes ready. A store of local files: in `raw/active/<source>/` beside
 * the others, made ready by an atomic rename. Any other store (S3): on local disk in the spool directory, made ready by one whole-object upload
 * to `raw/ready/` (a PUT or multipart upload is visible only complete), then removed locally — so ready/ never holds
 * part of a segment, and a crash leaves the flushed lines on local disk for the next start to upload.
 */
interface SegmentPlace {
  activeDir: string
  /** Where the active segment is, for the user. */
  shown: string
  /** Makes the active file ready under its name (with the compression's suffix); returns its key and stored size. */
  promote(file: string, name: string): Promise<{key: string; storedBytes: number}>
  /** Hour-scoped names already used in the store, so a new segment never reuses one. */
  usedNumbers(hour: string): Promise<number[]>
  /** Whether a segment of this name (any compression) is in ready/ or processing/ already. */
  promoted(name: string): Promise<boolean>
}

function compressor(compression: SegmentCompression): Transform | undefined {
  if (compression === 'gzip') return zlib.createGzip()
  if (compression === 'zstd') return zlib.createZstdCompress()
  return undefined
}

function placeFor(options: IngestOptions): SegmentPlace {
  const {raw, source} = options
  const compression = options.compression ?? 'none'
  const readyName = (name: string) => segmentBaseName(name) + SEGMENT_SUFFIX[compression]
  const promoted = async (name: string) => {
    const parsed = parseSegmentName(name)!
    for (const stage of ['ready', 'processing'] as const) {
      for await (const info of raw.list(`${segmentPrefix(stage, source)}${segmentBaseName(parsed.name)}.`)) if (parseSegmentName(info.key)?.n === parsed.n) return true
    }
    return false
  }
  const usedIn = async (stages: ('active' | 'ready' | 'processing')[], hour: string) => {
    const numbers: number[] = []
    for (const stage of stages) for await (const info of raw.list(`${segmentPrefix(stage, source)}segment_${hour}_`)) numbers.push(parseSegmentName(info.key)?.n ?? 0)
    return numbers
  }
  if (raw.localPath) {
    const pathOf = (key: string) => raw.localPath!(key)
    return {
      activeDir: pathOf(segmentPrefix('active', source)),
      shown: raw.uri + segmentPrefix('active', source),
      async promote(file, name) {
        const key = segmentKey('ready', source, readyName(name))
        await makeDirectory(path.dirname(pathOf(key)))
        const compress = compressor(compression)
        if (!compress) {
          await fs.rename(file, pathOf(key))
          return {key, storedBytes: (await fs.stat(pathOf(key))).size}
        }
        // Compressed beside the active file, synced, then renamed into ready/: ready/ never holds part of it. A crash
        // before the plain file is removed leaves it active; the next start sees the ready copy and drops it.
        const partial = `${file}${SEGMENT_SUFFIX[compression].slice('.ndjson'.length)}.partial`
        await pipeline(createReadStream(file), compress, createWriteStream(partial))
        const handle = await fs.open(partial, 'r')
        await handle.datasync().finally(() => handle.close())
        const storedBytes = (await fs.stat(partial)).size
        await fs.rename(partial, pathOf(key))
        await fs.rm(file, {force: true})
        return {key, storedBytes}
      },
      usedNumbers: (hour) => usedIn(['active', 'ready', 'processing'], hour),
      promoted,
    }
  }
  const activeDir = path.join(options.spoolDir, 'raw', 'active', source)
  return {
    activeDir,
    shown: activeDir,
    async promote(file, name) {
      const key = segmentKey('ready', source, readyName(name))
      const compress = compressor(compression)
      // pipeline, not pipe: a read error fails the upload instead of leaving it waiting.
      const body = compress ? streamPipeline(createReadStream(file), compress, () => {}) : createReadStream(file)
      const written = await raw.write(key, body, {contentType: compression === 'none' ? 'application/x-ndjson' : compression === 'gzip' ? 'application/gzip' : 'application/zstd'})
      await fs.rm(file, {force: true})
      return {key, storedBytes: written.size}
    },
    usedNumbers: (hour) => usedIn(['ready', 'processing'], hour),
    promoted,
  }
}

/** The active segment: an open file, appended in batches and synced after each. */
class ActiveSegment {
  bytes = 0
  lines = 0
  /** Feed events recorded while it was active (gaps, malformed frames, reconnects), for its metadata. */
  readonly events: FeedEvent[] = []
  readonly openedAt = Date.now()
  readonly hour: string

  private constructor(
    readonly file: string,
    readonly name: string,
    private readonly handle: fs.FileHandle,
  ) {
    this.hour = parseSegmentName(name)!.name.slice(8, 19)
  }

  /**
   * Opens a new segment whose number was never used in this hour: above every number in the store and at least the
   * milliseconds since the hour began, so a segment etl already consumed and deleted is never named again.
   */
  static async open(place: SegmentPlace, now = new Date()): Promise<ActiveSegment> {
    const hour = segmentHour(now)
    await makeDirectory(place.activeDir)
    const local = (await fs.readdir(place.activeDir))
      .map((name) => parseSegmentName(name))
      .filter((parsed) => parsed && segmentHour(parsed.hour) === hour)
      .map((parsed) => parsed!.n)
    let n = Math.max(now.getTime() % 3_600_000, ...local.map((x) => x + 1), ...(await place.usedNumbers(hour)).map((x) => x + 1))
    for (;;) {
      const name = segmentName(now, n)
      const file = path.join(place.activeDir, name)
      try {
        return new ActiveSegment(file, name, await fs.open(file, 'wx'))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        n++
      }
    }
  }

  async append(text: string, lines: number): Promise<void> {
    await this.handle.write(text)
    await this.handle.datasync()
    this.bytes += Buffer.byteLength(text)
    this.lines += lines
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}

/**
 * Segments left in the active directory by a run that crashed: cut back to their last complete line (a torn final
 * write), then made ready like any other; empty ones are removed.
 */
async function recoverActive(place: SegmentPlace): Promise<ReadySegment[]> {
  const recovered: ReadySegment[] = []
  let names: string[]
  try {
    names = (await fs.readdir(place.activeDir)).filter((name) => parseSegmentName(name)).sort()
  } catch {
    return recovered
  }
  // Compressed copies a crash interrupted: the plain segment beside each is still there and is made ready again.
  for (const name of await fs.readdir(place.activeDir)) if (name.endsWith('.partial')) await fs.rm(path.join(place.activeDir, name), {force: true})
  for (const name of names) {
    const file = path.join(place.activeDir, name)
    if (await place.promoted(name)) {
      // Made ready (compressed or uploaded) just before a crash, which left the active copy: it is there already.
      await fs.rm(file, {force: true})
      continue
    }
    const body = await fs.readFile(file)
    const end = body.lastIndexOf(0x0a) + 1
    if (end === 0) {
      await fs.rm(file, {force: true})
      continue
    }
    if (end < body.length) await fs.truncate(file, end)
    let lines = 0
    for (let i = body.indexOf(0x0a); i !== -1 && i < end; i = body.indexOf(0x0a, i + 1)) lines++
    const {key, storedBytes} = await place.promote(file, name)
    recovered.push({key, lines, bytes: end, reason: 'recovered', ...(key.endsWith('.ndjson') ? {} : {storedBytes})})
  }
  return recovered
}

/**
 * Reads NDJSON lines and writes them into segments: buffered, appended in batches (each synced to disk), rotated
 * to ready/ at a size, an age or a new UTC hour, and when the input ends or the signal fires. Returns every segment
 * made ready, including those recovered from a crashed run at start.
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const place = placeFor(options)
  const flushEveryMs = options.flushEveryMs ?? 1000
  const batchBytes = options.batchBytes ?? 1 << 20
  const result: IngestResult = {source: options.source, location: options.raw.uri, lines: 0, bytes: 0, segments: await recoverActive(place), ...(options.feed ? {feed: options.feed} : {})}
  for (const segment of result.segments) options.logger?.warn(`Recovered ${segment.key} (${segment.lines} lines) left active by an earlier run.`)
  options.logger?.info(`Reading lines into ${place.shown} (ready at ${options.rotateBytes} bytes or ${options.rotateAgeMs / 1000} s).`)

  let active: ActiveSegment | undefined
  let batch: string[] = []
  // Feed events, each before the line at `index` of the batch: recorded in the segment that line goes to.
  let batchEvents: {index: number; event: FeedEvent}[] = []
  // Events that came after the last line written while no segment was active: they go to the next one.
  let carried: FeedEvent[] = []
  let batchSize = 0
  let lastFlush = Date.now()
  // One chain of writes, so the timer and the reader never interleave appends or rotations.
  let work: Promise<void> = Promise.resolve()
  let failure: unknown

  const rotate = async (reason: ReadySegment['reason']) => {
    if (!active) return
    const closing = active
    active = undefined
    await closing.close()
    if (closing.lines === 0) {
      await fs.rm(closing.file, {force: true})
      carried.push(...closing.events)
      return
    }
    const ready: ReadySegment = {key: '', lines: closing.lines, bytes: closing.bytes, reason}
    if (options.feed) {
      // Written before the segment is ready, so every ready segment of a feed has its metadata.
      const meta = segmentMeta(closing, options)
      ready.feed = meta.counts
      ready.metaKey = `raw/meta/${options.source}/${segmentBaseName(closing.name)}.json`
      await options.raw.write(ready.metaKey, JSON.stringify(meta, null, 2) + '\n', {contentType: 'application/json'})
    }
    const {key, storedBytes} = await place.promote(closing.file, closing.name)
    ready.key = key
    if ((options.compression ?? 'none') !== 'none') ready.storedBytes = storedBytes
    result.segments.push(ready)
    const noted = ready.feed && (ready.feed.gaps > 0 || ready.feed.malformed > 0) ? `; ${ready.feed.gaps} gap(s), ${ready.feed.malformed} malformed frame(s)` : ''
    options.logger?.info(`${key}: ${closing.lines} lines, ${closing.bytes} bytes (${reason}${noted})`)
  }
  const flush = async () => {
    lastFlush = Date.now()
    const lines = batch
    const events = batchEvents
    batch = []
    batchEvents = []
    batchSize = 0
    // Cut the batch at line boundaries so no segment grows past the rotation size (unless one line alone does).
    let chunk = ''
    let chunkBytes = 0
    let chunkLines = 0
    let chunkEvents: FeedEvent[] = carried
    carried = []
    let nextEvent = 0
    const write = async () => {
      if (chunkLines === 0) return
      active ??= await ActiveSegment.open(place)
      await active.append(chunk, chunkLines)
      active.events.push(...chunkEvents)
      result.lines += chunkLines
      result.bytes += chunkBytes
      chunk = ''
      chunkBytes = 0
      chunkLines = 0
      chunkEvents = []
    }
    for (const [i, line] of lines.entries()) {
      const bytes = Buffer.byteLength(line)
      if ((active?.bytes ?? 0) + chunkBytes + bytes > options.rotateBytes && (active?.bytes ?? 0) + chunkBytes > 0) {
        await write()
        await rotate('size')
      }
      while (nextEvent < events.length && events[nextEvent].index <= i) chunkEvents.push(events[nextEvent++].event)
      chunk += line
      chunkBytes += bytes
      chunkLines++
    }
    await write()
    // Events after the batch's last line belong to the segment active when they came, else to the next one.
    const trailing = [...chunkEvents, ...events.slice(nextEvent).map((entry) => entry.event)]
    if (active) active.events.push(...trailing)
    else carried.push(...trailing)
    if (active && active.bytes >= options.rotateBytes) await rotate('size')
  }
  const tick = () => {
    work = work
      .then(async () => {
        // Age first: lines that arrive after a segment's time is up belong in the next one.
        if (active && Date.now() - active.openedAt >= options.rotateAgeMs) await rotate('age')
        else if (active && active.hour !== segmentHour(new Date())) await rotate('hour')
        if (Date.now() - lastFlush >= flushEveryMs) await flush()
      })
      .catch((error) => {
        failure ??= error
      })
  }
  const timer = setInterval(tick, Math.max(50, Math.min(flushEveryMs, options.rotateAgeMs) / 4))
  const input = options.input as Readable
  // A feed ends by itself when the signal aborts, after handing over every frame it received.
  const stop = () => (!options.feed && typeof input.destroy === 'function' ? input.destroy() : undefined)
  options.signal?.addEventListener('abort', stop, {once: true})
  const take = async (text: string) => {
    batch.push(text + '\n')
    batchSize += text.length + 1
    if (batchSize >= batchBytes) {
      work = work.then(flush)
      await work
    }
  }
  try {
    try {
      if (options.feed) {
        for await (const item of options.input as AsyncIterable<FeedItem>) {
          if (failure) throw failure
          if ('line' in item) await take(item.line)
          else batchEvents.push({index: batch.length, event: item.event})
        }
      } else {
        for await (const line of readLines(input)) {
          if (failure) throw failure
          if (line.text.length === 0) continue
          await take(line.text)
        }
      }
    } catch (error) {
      // A stop signal destroys the input mid-read; what was read is still written below.
      if (!options.signal?.aborted) throw error
    }
    clearInterval(timer)
    await work
    if (failure) throw failure
    await flush()
    if (active) active.events.push(...carried)
    await rotate('end')
    return result
  } finally {
    clearInterval(timer)
    options.signal?.removeEventListener('abort', stop)
    if (active) await (active as ActiveSegment).close().catch(() => {})
  }
}

/** The metadata of a feed's segment: its counts, and every gap, malformed frame and reconnect while it was active. */
function segmentMeta(segment: ActiveSegment, options: IngestOptions): SegmentMeta {
  const compression = options.compression ?? 'none'
  const meta: SegmentMeta = {
    segment: segmentBaseName(segment.name) + SEGMENT_SUFFIX[compression],
    source: options.source,
    url: options.feed!.url,
    lines: segment.lines,
    bytes: segment.bytes,
    compression,
    counts: {frames: segment.lines, gaps: 0, missing: 0, malformed: 0, reconnects: 0},
    gaps: [],
    malformed: [],
    reconnects: [],
  }
  for (const event of segment.events) {
    if (event.kind === 'gap') {
      meta.counts.gaps++
      if (event.gap.missing > 0) meta.counts.missing += event.gap.missing
      meta.gaps.push(event.gap)
    } else if (event.kind === 'malformed') {
      meta.counts.malformed++
      meta.counts.frames++
      meta.malformed.push(event.frame)
    } else {
      meta.counts.reconnects++
      meta.reconnects.push({connection: event.connection, at: event.at, reason: event.reason})
    }
  }
  return meta
}
