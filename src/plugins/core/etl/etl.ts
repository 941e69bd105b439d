import fs from 'node:fs/promises'
import os from 'node:os'

import {BucketwrightError, UserError} from '../errors/errors.js'
import type {Logger} from '../progress/logger.js'
import type {DataSource} from '../sources/types.js'
import {locationOverlap} from '../storage/overlap.js'
import type {ObjectInfo, Storage} from '../storage/types.js'
import {channelTables} from './columns.js'
import {type DecodedSegment, decodeSegment, discardStaged, type QuarantinedLine} from './decode-segment.js'
import type {EtlSink, ParquetOutput} from './parquet-sink.js'
import {parseSegmentName, segmentBaseName, segmentKey, segmentPrefix} from './segments.js'

/** What etl did with one segment: the `--json` contract, one entry per segment. */
export interface SegmentResult {
  segment: string
  status: 'done' | 'already-loaded' | 'claimed-elsewhere' | 'failed'
  lines: number
  /** Records per channel. */
  records: Record<string, number>
  /** Parquet files written (Parquet sink). */
  outputs?: ParquetOutput[]
  quarantined: number
  /** Where the quarantined lines were written, with the first few of them. */
  quarantineKey?: string
  quarantine?: Omit<QuarantinedLine, 'text'>[]
  unrouted?: number
  error?: {code: string; message: string}
  durationMs: number
}

/** Options of {@link runEtlPass}. */
export interface EtlOptions {
  raw: Storage
  source: DataSource
  sink: EtlSink
  logger?: Logger
  /** A segment in processing/ untouched this long is taken to belong to a crashed run and is claimed again. */
  staleAfterMs: number
  tempRoot?: string
  /**
   * Segments claimed and in work at once (default: the sink's `decodeAhead`, else 2). Outputs and results are the
   * same whatever the number; a crash can leave this many segments in processing/ (claimed again after
   * `staleAfterMs`).
   */
  concurrency?: number
  /** Stop claiming new segments (SIGTERM); the segments in hand are finished. */
  signal?: AbortSignal
  onSegment?: (result: SegmentResult) => void
}

/**
 * The claimable segments of a stage, oldest first (keys sort by hour, then counter). `exclude` leaves out what is
 * not input (the sink's output location when it lies in the stage, manifests: storage/overlap.ts).
 */
async function listSegments(raw: Storage, prefix: string, exclude: (key: string) => boolean): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = []
  for await (const info of raw.list(prefix)) if (parseSegmentName(info.key) && info.key.lastIndexOf('/') === prefix.length - 1 && !exclude(info.key)) found.push(info)
  return found.sort((a, b) => {
    const x = parseSegmentName(a.key)!
    const y = parseSegmentName(b.key)!
    return x.hour.getTime() - y.hour.getTime() || x.n - y.n
  })
}

function isGone(error: unknown): boolean {
  const code = (error as {code?: string}).code
  return code === 'ENOENT' || code === 'NO_SUCH_KEY' || code === 'NoSuchKey' || (error instanceof BucketwrightError && /NO_SUCH_KEY|NOT_FOUND/.test(error.code ?? ''))
}

/**
 * Claims a ready segment by moving it to processing/. Where a move is atomic (local disk: one rename), of two racing
 * processes exactly one wins. Elsewhere (S3: copy then delete) it is not — a segment already present in processing/
 * is left to its claimant, and when two processes still both copy it, both produce the same outputs (files named from the segment, Postgres
 * ledger), so the race costs work, never data. The claim's time is set to now: staleness counts from the claim.
 */
async function claim(raw: Storage, source: string, name: string): Promise<boolean> {
  const from = segmentKey('ready', source, name)
  const to = segmentKey('processing', source, name)
  try {
    if (!raw.atomicMove && (await raw.head(to))) return false
    await raw.move(from, to)
  } catch (error) {
    if (isGone(error)) return false
    throw error
  }
  // A renamed file keeps its time; a copied object has the new one already.
  const file = raw.localPath?.(to)
  if (file !== undefined) {
    const now = new Date()
    await fs.utimes(file, now, now).catch(() => {})
  }
  return true
}

/**
 * Segments left in processing/ by a run that died: older than `staleAfterMs` since their claim, they go back to
 * ready/ (local: a rename, so only one of two recovering processes moves each) and are claimed the normal way.
 */
async function recoverStale(raw: Storage, source: string, staleAfterMs: number, exclude: (key: string) => boolean, logger?: Logger): Promise<number> {
  let recovered = 0
  for (const info of await listSegments(raw, segmentPrefix('processing', source), exclude)) {
    if (Date.now() - info.lastModified.getTime() < staleAfterMs) continue
    const name = parseSegmentName(info.key)!.name
    try {
      await raw.move(info.key, segmentKey('ready', source, name))
      recovered++
      logger?.warn(`${name} was left in processing/ by an earlier run (claimed ${info.lastModified.toISOString()}); claiming it again.`)
    } catch (error) {
      if (!isGone(error)) throw error
    }
  }
  return recovered
}

/** Segments decoded ahead of the sink unless it says otherwise (each holds its staged files in a temp dir). */
const DECODE_AHEAD = 2

/** A segment claimed and decoded, waiting for the sink. */
interface ClaimedSegment {
  name: string
  started: number
  base: SegmentResult
  decoded?: DecodedSegment
  error?: unknown
}

/**
 * One etl pass: recovers stale claims, then claims, decodes, loads and deletes every ready segment in order. A
 * segment is deleted only after the sink has written and counted its outputs; a failed segment stays in
 * processing/ for a later run and the pass goes on with the next. The next segment is claimed and decoded (on the
 * JavaScript thread) while the sink writes the current one (DuckDB's threads, or the Postgres server), so the two
 * halves of the work overlap.
 */
export async function runEtlPass(options: EtlOptions): Promise<SegmentResult[]> {
  const {raw, source, logger} = options
  const tables = channelTables(source)
  const tempRoot = options.tempRoot ?? os.tmpdir()
  const results: SegmentResult[] = []
  // The sink's files are never read back as segments, wherever --to lies (storage/overlap.ts). Its files end up in
  // the stage folders only below them (--to <location>/raw/ready/<source>/), so no destination hides a segment.
  const {excludesInput} = await locationOverlap(raw, options.sink.output)
  await recoverStale(raw, source.name, options.staleAfterMs, excludesInput, logger)
  const queue = await listSegments(raw, segmentPrefix('ready', source.name), excludesInput)

  const prepare = async (info: ObjectInfo): Promise<ClaimedSegment | undefined> => {
    const name = parseSegmentName(info.key)!.name
    if (!(await claim(raw, source.name, name))) {
      logger?.debug(`${name}: claimed by another process`)
      return undefined
    }
    const claimed: ClaimedSegment = {name, started: performance.now(), base: {segment: name, status: 'claimed-elsewhere', lines: 0, records: {}, quarantined: 0, durationMs: 0}}
    try {
      const key = segmentKey('processing', source.name, name)
      const object = {size: info.size, etag: info.etag}
      claimed.decoded = (await options.sink.decodeFast?.(raw, key, source, tables, tempRoot, object)) ?? (await decodeSegment(raw, key, source, tables, tempRoot, object))
    } catch (error) {
      claimed.error = error
    }
    return claimed
  }
  const next = (): Promise<ClaimedSegment | undefined> | undefined => {
    if (options.signal?.aborted) return undefined
    const info = queue.shift()
    return info ? prepare(info) : undefined
  }

  // Segments claimed and being decoded ahead of the one being finished, so their work overlaps (Parquet: DuckDB
  // decodes and writes each on its own connection; the in-order tail counts back, uploads and deletes).
  const ahead: Promise<ClaimedSegment | undefined>[] = []
  const depth = Math.max(1, options.concurrency ?? options.sink.decodeAhead ?? DECODE_AHEAD)
  const topUp = () => {
    while (ahead.length < depth) {
      const pending = next()
      if (!pending) return
      ahead.push(pending)
    }
  }
  topUp()
  while (ahead.length > 0) {
    const claimed = await ahead.shift()!
    topUp()
    if (!claimed) continue
    let result: SegmentResult
    try {
      if (claimed.error) throw claimed.error
      result = await finishSegment(raw, claimed.decoded!, options, claimed.base)
    } catch (error) {
      if (isGone(error)) {
        // Another process finished it first (S3 claim race): its outputs are the same as ours.
        result = {...claimed.base, status: 'claimed-elsewhere'}
      } else {
        const message = (error as Error).message
        logger?.error(`${claimed.name}: ${message} (left in processing/ for a later run)`)
        result = {...claimed.base, status: 'failed', error: {code: (error as {code?: string}).code ?? 'ERROR', message}}
      }
    } finally {
      if (claimed.decoded) await discardStaged(claimed.decoded)
    }
    result.durationMs = Math.round(performance.now() - claimed.started)
    results.push(result)
    options.onSegment?.(result)
  }
  return results
}

/** Loads a decoded segment into the sink, writes its quarantine, then deletes it from processing/. */
async function finishSegment(raw: Storage, decoded: DecodedSegment, options: EtlOptions, base: SegmentResult): Promise<SegmentResult> {
  const {source, sink, logger} = options
  const loaded = await sink.load(decoded)
  const result: SegmentResult = {
    ...base,
    status: loaded.alreadyLoaded ? 'already-loaded' : 'done',
    lines: decoded.lines,
    records: Object.fromEntries(decoded.channels.map((channel) => [channel.table.channel, channel.rows])),
    outputs: loaded.outputs,
    quarantined: decoded.quarantined.length,
    unrouted: decoded.unrouted || undefined,
  }
  if (decoded.quarantined.length > 0) {
    result.quarantineKey = segmentKey('quarantine', source.name, `${segmentBaseName(decoded.segment)}.quarantine.jsonl`)
    await raw.write(result.quarantineKey, decoded.quarantined.map((line) => JSON.stringify(line)).join('\n') + '\n', {contentType: 'application/x-ndjson'})
    result.quarantine = decoded.quarantined.slice(0, 20).map(({segment, line, reason}) => ({segment, line, reason}))
    logger?.warn(`${decoded.segment}: ${decoded.quarantined.length} bad line(s) quarantined to ${result.quarantineKey} (first: line ${decoded.quarantined[0].line}: ${decoded.quarantined[0].reason})`)
  }
  const deleted = await raw.delete([decoded.key])
  if (deleted.errors.length > 0) throw new UserError(`Loaded ${decoded.segment} but could not delete it from processing/: ${deleted.errors[0].message}`, {code: 'ETL_DELETE_FAILED'})
  logger?.info(
    `${decoded.segment}: ${decoded.lines} lines → ${Object.entries(result.records)
      .map(([channel, rows]) => `${channel} ${rows}`)
      .join(', ')}${loaded.alreadyLoaded ? ' (already loaded; nothing written)' : ''} → ${sink.target}`,
  )
  return result
}

/** Segment details kept in an {@link EtlResult} (a watch's totals cover every segment). */
const MAX_SEGMENT_RESULTS = 1000

/** The `--json` result of `bucketwright etl`. */
export interface EtlResult {
  source: string
  /** The destination (a Postgres URL without its password). */
  target: string
  passes: number
  /** One entry per segment (the latest 1,000 under --watch). */
  segments: SegmentResult[]
  totals: {segments: number; failed: number; lines: number; records: number; quarantined: number}
}

/**
 * Runs etl passes: one, or with `watchIntervalMs` one every interval until `signal` aborts (SIGTERM/SIGINT), always
 * finishing the segment in hand. Returns every segment's result and the totals.
 */
export async function runEtl(options: EtlOptions & {watchIntervalMs?: number}): Promise<EtlResult> {
  const segments: SegmentResult[] = []
  const totals = {segments: 0, failed: 0, lines: 0, records: 0, quarantined: 0}
  let passes = 0
  try {
    for (;;) {
      passes++
      for (const result of await runEtlPass(options)) {
        if (result.status === 'done' || result.status === 'already-loaded') totals.segments++
        if (result.status === 'failed') totals.failed++
        totals.lines += result.lines
        totals.records += Object.values(result.records).reduce((a, b) => a + b, 0)
        totals.quarantined += result.quarantined
        segments.push(result)
        // A watch runs for days: keep the totals whole but only the latest segments' details.
        if (segments.length > MAX_SEGMENT_RESULTS) segments.shift()
      }
      if (options.watchIntervalMs === undefined || options.signal?.aborted) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.watchIntervalMs)
        options.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer)
            resolve()
          },
          {once: true},
        )
      })
      if (options.signal?.aborted) break
    }
  } finally {
    await options.sink.close()
  }
  return {source: options.source.name, target: options.sink.target, passes, segments, totals}
}
