import {ownsUnit, type Shard} from '../command/shard.js'
import {UsageError, UserError} from '../errors/errors.js'
import {crashPoint} from '../compact/faults.js'
import {clearPendingMarker, inputsDigest, isPendingMarker, type OutputManifest, type PendingMarker, type QuarantineEntry, readManifestOrPending, writeManifest, writePendingMarker} from '../manifest/manifest.js'
import {locationOverlap} from '../storage/overlap.js'
import {DryRunStorage} from '../storage/dry-run.js'
import {detectEc2} from '../kit/ec2.js'
import {requestCost, RequestTally} from '../storage/requests.js'
import {planTransfer, runLocation, type StoreLocation, type TransferPlan} from '../storage/transfer.js'
import type {WriteResult} from '../storage/types.js'
import {type BucketInput, type BucketTally, encodeBucket, mergeViolations} from './bucket-stream.js'
import type {TimeBucket} from './buckets.js'
import {EncoderPool} from './encoder-pool.js'
import {encoderThreads} from './encoder-threads.js'
import {checkConvertLocations, type ListingWindow, listingWindows, listWindows, overallSpan, startProbe} from './listing.js'
import type {ConvertBucketResult, ConvertOptions, ConvertResult, Encoders, ObjectCounts, RequestPlan} from './types.js'

export type {Encoders} from './types.js'

/** Output-to-input size ratios used to estimate PUT requests before anything is written. */
const ESTIMATED_RATIO = {gzip: 0.1, zstd: 0.1, none: 1.05, parquet: 0.08}

/**
 * Converts a source's raw objects into one output per time bucket, bucket after bucket in time order: lists each
 * bucket's day prefixes in parallel (a few buckets ahead), skips buckets whose manifest matches their inputs,
 * streams the others through the encoder threads straight to the output, then writes the manifest.
 */
export async function runConvert(given: ConvertOptions): Promise<ConvertResult> {
  const started = Date.now()
  // A dry run reads the stores and changes nothing in them, whatever path it takes.
  const options = given.dryRun ? {...given, output: new DryRunStorage(given.output)} : given
  if (options.validate && !options.source.schema) {
    throw new UsageError(`Source "${options.source.name}" has no JSON Schema to validate against.`, {code: 'NO_SCHEMA', nextSteps: ['Run without --validate.']})
  }
  if (options.level !== undefined && options.compression === 'gzip' && (options.level < 1 || options.level > 9)) {
    throw new UsageError(`--level ${options.level} is not a gzip level.`, {code: 'BAD_LEVEL', nextSteps: ['Pass a gzip level from 1 (fastest) to 9 (smallest); 6 is the default.']})
  }
  // Outputs are never read back as input: locations where they could be are refused, an output folder inside the
  // input is left out of its listing (with every _manifests/ folder).
  const overlap = await locationOverlap(options.input, options.output)
  await checkConvertLocations(overlap, options.output, options.source, options.keyTemplate, {input: options.input.uri, output: options.output.uri})
  const exclude = overlap.excludesInput
  const now = options.now ?? new Date()
  const shard = options.shard ?? {index: 0, count: 1}
  const counter = new RequestTally()
  const result: ConvertResult = {
    source: options.source.name,
    input: options.input.uri,
    output: options.output.uri,
    bucket: options.bucket,
    format: options.format,
    compression: options.compression,
    keyTemplate: options.keyTemplate,
    shard,
    dryRun: options.dryRun ?? false,
    buckets: [],
    objects: 0,
    records: 0,
    bytesIn: 0,
    bytesOut: 0,
    quarantined: 0,
    foreign: 0,
    seconds: 0,
    concurrency: options.concurrency ?? 16,
    threads: 0,
  }
  const validation: Validation | undefined = options.validate ? {recordsChecked: 0, recordsInvalid: 0, violations: []} : undefined

  // The encoder threads start (and load the source) while the probe's listings are in flight, unless the caller
  // started them sooner.
  const own = options.dryRun || options.encoders ? undefined : startEncoders(options)
  const encoders = options.dryRun ? undefined : (options.encoders ?? own)
  try {
    await convertAll(options, result, {now, shard, counter, validation, exclude, starting: encoders?.pool})
    if (encoders) result.threads = (await encoders.pool).size
  } finally {
    await own?.close()
  }
  if (validation) {
    for (const bucket of result.buckets) {
      validation.recordsChecked += bucket.recordsChecked ?? 0
      validation.recordsInvalid += bucket.recordsInvalid ?? 0
    }
    result.validation = validation
  }
  // Requests are planned and priced where they are billed: on stores that count them (Storage.stats).
  result.requests = options.input.stats || options.output.stats ? requestPlan(counter, result.dryRun) : undefined
  if (result.dryRun) result.transfer = await transferPlan(options, result)
  result.seconds = Math.round((Date.now() - started) / 10) / 100
  return result
}

/**
 * A dry run's data transfer: the inputs of the buckets it would convert are read, their (estimated) outputs
 * written, priced by where each store lives and where the run happens. Only over stores that bill transfer.
 */
async function transferPlan(options: ConvertOptions, result: ConvertResult): Promise<TransferPlan | undefined> {
  if (!options.input.location && !options.output.location) return undefined
  const [input, output] = await Promise.all([options.input.location?.() ?? LOCAL, options.output.location?.() ?? LOCAL])
  const converted = result.buckets.filter((bucket) => bucket.action === 'write' || bucket.action === 'rebuild')
  const sum = (of: (bucket: ConvertBucketResult) => number) => converted.reduce((total, bucket) => total + of(bucket), 0)
  const run = await runLocation(options.runningIn, options.detectRunLocation ?? (() => detectEc2()))
  return planTransfer(
    [
      {direction: 'read', store: options.input.uri, location: input, bytes: sum((bucket) => bucket.bytesIn)},
      {direction: 'write', store: options.output.uri, location: output, bytes: sum((bucket) => bucket.bytesOut)},
    ],
    run,
  )
}

const LOCAL: StoreLocation = {provider: 'local'}

/** A bucket's objects and bytes by format. */
function formatSplit(inputs: BucketInput[], formatOf: (key: string) => string): Record<string, {objects: number; bytes: number}> {
  const split: Record<string, {objects: number; bytes: number}> = {}
  for (const input of inputs) {
    const entry = (split[formatOf(input.key)] ??= {objects: 0, bytes: 0})
    entry.objects++
    entry.bytes += input.size
  }
  return split
}

/** The requests of the run (planned ones in a dry run), priced. */
function requestPlan(counter: RequestTally, estimated: boolean): RequestPlan {
  const {list, get, head, put} = counter
  return {list, get, head, put, cost: requestCost({list, get, head, put}), estimated}
}

/**
 * Starts the encoder threads, which load the source (~150 ms): a command starts them as soon as it knows the source
 * and passes them to {@link runConvert}, so they are ready when the first objects arrive.
 */
export function startEncoders(options: Pick<ConvertOptions, 'source' | 'loader' | 'threads'>): Encoders {
  const pool = EncoderPool.start(options.source, options.loader, encoderThreads(options.threads))
  pool.catch(() => {}) // awaited by the run; this only keeps an early failure from counting as unhandled
  return {
    pool,
    close: () =>
      pool.then(
        (started) => started.close(),
        () => {},
      ),
  }
}

/** Probes, lists and converts bucket after bucket, adding to `result`. */
async function convertAll(
  options: ConvertOptions,
  result: ConvertResult,
  run: {now: Date; shard: Shard; counter: RequestTally; validation?: Validation; exclude: (key: string) => boolean; starting?: Promise<EncoderPool>},
): Promise<void> {
  const {now, shard, counter, validation, exclude} = run
  // Where the source's key locations have objects: the default range, and which day prefixes are worth listing.
  // Windows are listed as soon as the starts are known; the search for the end narrows the map while they are.
  const probe = startProbe(options.input, options.source, now, {signal: options.signal, exclude})
  const spans = await probe.started
  let probeFailure: unknown
  probe.done.catch((error: unknown) => (probeFailure = error))
  const start = overallSpan(spans)
  const from = options.from ?? start?.from
  const until = options.to ?? now
  if (from && from < until) {
    const range = {from, to: until}
    const manifests = new Manifests(options, counter, now)
    const only = options.only && new Set(options.only)
    const windows = firstReadAhead(
      listingWindows(options.bucket, range, options.keyTemplate, (bucket) => ownsUnit(shard, bucket.key) && (!only || only.has(bucket.key))),
      (window) => manifests.readAll(window.buckets),
    )
    const pool = await run.starting
    let bad = 0
    for await (const listed of listWindows(options.input, options.source, windows, range, {
      signal: options.signal,
      spans,
      spansFinal: probe.done,
      known: probe.known,
      exclude,
      onKeys: (keys) => options.progress?.listing(keys),
    })) {
      if (probeFailure) throw probeFailure
      if (options.input.stats) counter.list += listed.requests
      // The window's manifests are read at once (an hour window has 24), then its buckets converted in order.
      const occupied = listed.window.buckets.filter((bucket) => (listed.objects.get(bucket.key)?.length ?? 0) > 0)
      manifests.readAll(occupied)
      for (const bucket of occupied) {
        const inputs = listed.objects.get(bucket.key)!
        const entry = await convertOne(bucket, inputs, options, {now, counter, pool, manifest: manifests.take(bucket), badSoFar: () => bad, addBad: () => ++bad})
        result.buckets.push(entry)
        result.objects += entry.objects
        result.records += entry.records
        result.bytesIn += entry.bytesIn
        result.bytesOut += entry.status === 'skipped' || entry.status === 'planned' ? 0 : entry.bytesOut
        result.quarantined += entry.status === 'skipped' ? 0 : entry.quarantined.length
        if (entry.reason === 'foreign') result.foreign += 1
        if (validation && entry.violations) mergeViolations(validation.violations, entry.violations)
      }
    }
  }
  const probed = await probe.done
  if (options.input.stats) counter.list += probed.requests
  const span = overallSpan(probed.spans)
  const to = options.to ?? (span ? new Date(Math.min(now.getTime(), span.to.getTime())) : now)
  if (from && from < to) {
    result.from = from.toISOString()
    result.to = to.toISOString()
  }
}

type Validation = NonNullable<ConvertResult['validation']>

/**
 * Reads the buckets' manifests ahead of their turn, counting the requests as they are made (a HEAD, and a GET when
 * there is one). Only finished buckets are read (or every one with --include-current): the current one is skipped.
 */
class Manifests {
  private readonly reads = new Map<string, Promise<OutputManifest | PendingMarker | undefined>>()

  constructor(
    private readonly options: ConvertOptions,
    private readonly counter: RequestTally,
    private readonly now: Date,
  ) {}

  readAll(buckets: TimeBucket[]): void {
    for (const bucket of buckets) {
      if (this.reads.has(bucket.key) || (bucket.to > this.now && !this.options.includeCurrent)) continue
      const read = readManifestOrPending(this.options.output, bucket.outputKey).then((manifest) => {
        if (this.options.output.stats) {
          this.counter.head += 1
          if (manifest) this.counter.get += 1
        }
        return manifest
      })
      read.catch(() => {}) // awaited by take(); a failure is reported there
      this.reads.set(bucket.key, read)
    }
  }

  /** The bucket's manifest or pending marker (read now if it was not yet); none for the current bucket, which is not converted. */
  take(bucket: TimeBucket): Promise<OutputManifest | PendingMarker | undefined> {
    this.readAll([bucket])
    const read = this.reads.get(bucket.key) ?? Promise.resolve(undefined)
    this.reads.delete(bucket.key)
    return read
  }
}

/**
 * The windows, calling `start` for the first one as it is taken up for listing: the first buckets' manifests are
 * then read while that window lists — a round trip less before the first object is fetched (the first window
 * starts at the first object, so its manifest is almost always needed).
 */
function* firstReadAhead(windows: Iterable<ListingWindow>, start: (window: ListingWindow) => void): Iterable<ListingWindow> {
  let first = true
  for (const window of windows) {
    if (first) start(window)
    first = false
    yield window
  }
}

interface RunState {
  now: Date
  counter: RequestTally
  pool?: EncoderPool
  /** The bucket's manifest or pending marker, being read (see {@link Manifests}). */
  manifest: Promise<OutputManifest | PendingMarker | undefined>
  badSoFar: () => number
  addBad: () => number
}

/** Decides what to do with one bucket (skip, write, rebuild) and does it. */
async function convertOne(bucket: TimeBucket, inputs: BucketInput[], options: ConvertOptions, state: RunState): Promise<ConvertBucketResult> {
  const bytesIn = inputs.reduce((sum, input) => sum + input.size, 0)
  const base = {
    key: bucket.key,
    output: bucket.outputKey,
    objects: inputs.length,
    bytesIn,
    quarantined: [] as QuarantineEntry[],
    ...(options.dryRun && options.source.formatOf ? {formats: formatSplit(inputs, options.source.formatOf.bind(options.source))} : {}),
  }
  const outputBilled = options.output.stats !== undefined
  if (bucket.to > state.now && !options.includeCurrent) {
    options.progress?.skipped(bucket.key, `current ${options.bucket}, not finished until ${bucket.to.toISOString()} (--include-current converts it)`)
    return {...base, status: options.dryRun ? 'planned' : 'skipped', action: options.dryRun ? 'skip' : undefined, reason: 'current', records: 0, bytesOut: 0}
  }
  const manifestInputs = inputs.map((input) => ({key: input.key, size: input.size, etag: input.etag}))
  const digest = inputsDigest(manifestInputs)
  const read = await state.manifest
  const pending = isPendingMarker(read)
  const manifest = pending ? undefined : read
  if (manifest && manifest.inputsDigest === digest) {
    const existing = await options.output.head(bucket.outputKey)
    if (outputBilled) state.counter.head += 1
    if (existing && existing.size === manifest.output.size) {
      options.progress?.skipped(bucket.key, 'up to date')
      const skipped = {...base, records: manifest.counts.records, bytesOut: manifest.output.size, quarantined: manifest.quarantined}
      return options.dryRun ? {...skipped, status: 'planned', action: 'skip', reason: 'up-to-date'} : {...skipped, status: 'skipped', reason: 'up-to-date'}
    }
  }
  // An output without a manifest was made by another tool (the original bustimes converter): rebuilding it would
  // GET the bucket's raw objects all over again, so it is left alone and reported unless asked. Unless it has our
  // pending marker: then a run of ours wrote it and stopped before its manifest, and finishing the job rebuilds it.
  const existing = manifest ? undefined : await options.output.head(bucket.outputKey)
  if (!manifest && outputBilled) state.counter.head += 1
  const interrupted = pending && existing !== undefined
  const foreign = interrupted ? undefined : existing
  if (foreign && !options.rebuildForeign) {
    options.progress?.skipped(bucket.key, `${bucket.outputKey} was made by another tool (no manifest): left alone (--rebuild-foreign rebuilds it; verify --adopt checks it and adopts it)`)
    const left = {...base, records: 0, bytesOut: foreign.size, reason: 'foreign' as const}
    return options.dryRun ? {...left, status: 'planned', action: 'skip'} : {...left, status: 'skipped'}
  }
  const status = manifest || existing ? 'rebuilt' : 'written'
  const why = interrupted ? {reason: 'interrupted' as const} : {}
  if (options.input.stats) state.counter.get += inputs.filter((input) => input.size > 0).length
  if (options.dryRun) {
    const estimate = Math.round(bytesIn * (options.format === 'parquet' ? ESTIMATED_RATIO.parquet : ESTIMATED_RATIO[options.compression]))
    if (outputBilled) {
      state.counter.upload(estimate)
      state.counter.put += manifest ? 1 : 2 // the manifest, after a pending marker where there is no manifest yet
    }
    return {...base, status: 'planned', action: status === 'written' ? 'write' : 'rebuild', ...why, records: manifest?.counts.records ?? 0, bytesOut: estimate}
  }

  // Marked as ours before a byte is written: a crash anywhere from here to the manifest leaves an output that the
  // next run knows to rebuild, not one that looks made by another tool. (An old manifest does that already: its
  // inputs differ, so the bucket is rebuilt.)
  if (!manifest) {
    await writePendingMarker(options.output, {
      manifestVersion: 1,
      state: 'pending',
      tool: {name: 'bucketwright', version: options.toolVersion},
      command: 'convert',
      createdAt: new Date().toISOString(),
      output: {key: bucket.outputKey},
    })
    if (outputBilled) state.counter.put += 1
  }

  const tally: BucketTally = {objectsDone: 0, records: 0, bytesIn: 0, jsonlBytes: 0, quarantined: [], recordsChecked: 0, recordsInvalid: 0, violations: []}
  const controller = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
  let written: WriteResult
  try {
    const work = async (update: (status: string, counts?: ObjectCounts) => void): Promise<WriteResult> => {
      update(`0/${inputs.length} objects`)
      const parquet = options.format === 'parquet'
      const stream = encodeBucket(inputs, tally, {
        storage: options.input,
        pool: state.pool!,
        compression: parquet ? 'gzip' : options.compression,
        level: parquet ? 1 : (options.level ?? (options.compression === 'zstd' ? 3 : 6)),
        validate: options.validate ?? false,
        concurrency: options.concurrency ?? 16,
        chunkBytes: options.chunkBytes,
        signal,
        // Progress as objects are read: chunks are encoded a few hundred objects at a time, too coarse for a rate.
        onFetched: (done) => update(`${done}/${inputs.length} objects, ${tally.records} records`, {done, total: inputs.length, records: tally.records}),
        onQuarantine: (entry) => {
          const bad = state.addBad()
          if (options.maxBad !== undefined && bad > options.maxBad) throw tooManyBad(options.maxBad, entry)
        },
      })
      const out = parquet
        ? await (await import('./parquet.js')).writeParquet(stream, options.output, bucket.outputKey, options.compression, () => tally.records)
        : await options.output.write(bucket.outputKey, stream, {contentType: 'application/x-ndjson', signal})
      update(`${status} ${tally.objectsDone} objects, ${tally.records} records, ${out.size} bytes`)
      return out
    }
    written = options.progress ? await options.progress.bucket(bucket.key, work) : await work(() => {})
  } catch (error) {
    // The write is atomic: a failed one left the output as it was. Unless that output is an interrupted one of ours,
    // it is none or another tool's, and the marker goes (else --rebuild-foreign's failure would make it look ours).
    if (!manifest && !interrupted) await clearPendingMarker(options.output, bucket.outputKey).catch(() => undefined)
    throw error
  } finally {
    controller.abort()
  }
  if (outputBilled) state.counter.upload(written.size)

  const manifest2: OutputManifest = {
    manifestVersion: 1,
    tool: {name: 'bucketwright', version: options.toolVersion},
    command: 'convert',
    source: options.source.name,
    createdAt: new Date().toISOString(),
    output: {key: bucket.outputKey, size: written.size, md5: written.md5, sha256: written.sha256, etag: written.etag, format: options.format, compression: options.compression},
    bucket: {key: bucket.key, from: bucket.from.toISOString(), to: bucket.to.toISOString()},
    inputs: manifestInputs,
    inputsDigest: digest,
    counts: {objects: inputs.length, records: tally.records, quarantined: tally.quarantined.length, bytesIn: tally.bytesIn, jsonlBytes: tally.jsonlBytes},
    quarantined: tally.quarantined,
    extra: options.validate ? {validation: {recordsChecked: tally.recordsChecked, recordsInvalid: tally.recordsInvalid, violations: tally.violations}} : undefined,
  }
  crashPoint('convert-after-output')
  await writeManifest(options.output, manifest2)
  if (outputBilled) state.counter.put += 1
  return {
    ...base,
    status,
    ...why,
    records: tally.records,
    bytesOut: written.size,
    quarantined: tally.quarantined,
    violations: options.validate ? tally.violations : undefined,
    recordsChecked: options.validate ? tally.recordsChecked : undefined,
    recordsInvalid: options.validate ? tally.recordsInvalid : undefined,
  }
}

function tooManyBad(maxBad: number, last: QuarantineEntry): UserError {
  return new UserError(`More than ${maxBad} objects could not be decoded (--max-bad ${maxBad}); the last was ${last.key}: ${last.reason}.`, {
    code: 'TOO_MANY_BAD',
    nextSteps: ['Look at the quarantined objects named in the log and the manifests; fix or remove them, or raise --max-bad.', 'Buckets finished before this one are complete; a rerun resumes.'],
    details: {maxBad, last},
  })
}
