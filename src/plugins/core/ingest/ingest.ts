import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type {Readable} from 'node:stream'

import {parseSegmentName, segmentHour, segmentKey, segmentName, segmentPrefix} from '../etl/segments.js'
import type {Logger} from '../progress/logger.js'
import {readLines} from '../sources/codec.js'
import {makeDirectory} from '../storage/make-directory.js'
import type {Storage} from '../storage/types.js'

/** A segment ingest moved to ready/. */
export interface ReadySegment {
  key: string
  lines: number
  bytes: number
  /** Why it was closed: size, age, hour (the UTC hour changed), end (input ended or a stop signal), recovered (left by a crashed run). */
  reason: 'size' | 'age' | 'hour' | 'end' | 'recovered'
}

/** The `--json` result of `bucketwright ingest`. */
export interface IngestResult {
  source: string
  location: string
  lines: number
  bytes: number
  segments: ReadySegment[]
}

/** Options of {@link ingest}. */
export interface IngestOptions {
  raw: Storage
  source: string
  input: Readable | AsyncIterable<Uint8Array>
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
  promote(file: string, name: string): Promise<string>
  /** Hour-scoped names already used in the store, so a new segment never reuses one. */
  usedNumbers(hour: string): Promise<number[]>
}

function placeFor(options: IngestOptions): SegmentPlace {
  const {raw, source} = options
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
        const key = segmentKey('ready', source, name)
        await makeDirectory(path.dirname(pathOf(key)))
        await fs.rename(file, pathOf(key))
        return key
      },
      usedNumbers: (hour) => usedIn(['active', 'ready', 'processing'], hour),
    }
  }
  const activeDir = path.join(options.spoolDir, 'raw', 'active', source)
  return {
    activeDir,
    shown: activeDir,
    async promote(file, name) {
      const key = segmentKey('ready', source, name)
      await raw.write(key, createReadStream(file), {contentType: 'application/x-ndjson'})
      await fs.rm(file, {force: true})
      return key
    },
    usedNumbers: (hour) => usedIn(['ready', 'processing'], hour),
  }
}

/** The active segment: an open file, appended in batches and synced after each. */
class ActiveSegment {
  bytes = 0
  lines = 0
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
    const local = (await fs.readdir(place.activeDir)).map((name) => parseSegmentName(name)).filter((parsed) => parsed && segmentHour(parsed.hour) === hour).map((parsed) => parsed!.n)
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
  for (const name of names) {
    const file = path.join(place.activeDir, name)
    const body = await fs.readFile(file)
    const end = body.lastIndexOf(0x0a) + 1
    if (end === 0) {
      await fs.rm(file, {force: true})
      continue
    }
    if (end < body.length) await fs.truncate(file, end)
    let lines = 0
    for (let i = body.indexOf(0x0a); i !== -1 && i < end; i = body.indexOf(0x0a, i + 1)) lines++
    recovered.push({key: await place.promote(file, name), lines, bytes: end, reason: 'recovered'})
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
  const result: IngestResult = {source: options.source, location: options.raw.uri, lines: 0, bytes: 0, segments: await recoverActive(place)}
  for (const segment of result.segments) options.logger?.warn(`Recovered ${segment.key} (${segment.lines} lines) left active by an earlier run.`)
  options.logger?.info(`Reading lines into ${place.shown} (ready at ${options.rotateBytes} bytes or ${options.rotateAgeMs / 1000} s).`)

  let active: ActiveSegment | undefined
  let batch: string[] = []
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
      return
    }
    const key = await place.promote(closing.file, closing.name)
    result.segments.push({key, lines: closing.lines, bytes: closing.bytes, reason})
    options.logger?.info(`${key}: ${closing.lines} lines, ${closing.bytes} bytes (${reason})`)
  }
  const flush = async () => {
    lastFlush = Date.now()
    if (batch.length === 0) return
    const lines = batch
    batch = []
    batchSize = 0
    // Cut the batch at line boundaries so no segment grows past the rotation size (unless one line alone does).
    let chunk = ''
    let chunkBytes = 0
    let chunkLines = 0
    const write = async () => {
      if (chunkLines === 0) return
      active ??= await ActiveSegment.open(place)
      await active.append(chunk, chunkLines)
      result.lines += chunkLines
      result.bytes += chunkBytes
      chunk = ''
      chunkBytes = 0
      chunkLines = 0
    }
    for (const line of lines) {
      const bytes = Buffer.byteLength(line)
      if ((active?.bytes ?? 0) + chunkBytes + bytes > options.rotateBytes && (active?.bytes ?? 0) + chunkBytes > 0) {
        await write()
        await rotate('size')
      }
      chunk += line
      chunkBytes += bytes
      chunkLines++
    }
    await write()
    if (active && active.bytes >= options.rotateBytes) await rotate('size')
  }
  const tick = () => {
    work = work.then(async () => {
      // Age first: lines that arrive after a segment's time is up belong in the next one.
      if (active && Date.now() - active.openedAt >= options.rotateAgeMs) await rotate('age')
      else if (active && active.hour !== segmentHour(new Date())) await rotate('hour')
      if (Date.now() - lastFlush >= flushEveryMs) await flush()
    }).catch((error) => {
      failure ??= error
    })
  }
  const timer = setInterval(tick, Math.max(50, Math.min(flushEveryMs, options.rotateAgeMs) / 4))
  const input = options.input as Readable
  const stop = () => (typeof input.destroy === 'function' ? input.destroy() : undefined)
  options.signal?.addEventListener('abort', stop, {once: true})
  try {
    try {
      for await (const line of readLines(input)) {
        if (failure) throw failure
        if (line.text.length === 0) continue
        batch.push(line.text + '\n')
        batchSize += line.text.length + 1
        if (batchSize >= batchBytes) {
          work = work.then(flush)
          await work
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
    await rotate('end')
    return result
  } finally {
    clearInterval(timer)
    options.signal?.removeEventListener('abort', stop)
    if (active) await (active as ActiveSegment).close().catch(() => {})
  }
}
