import type {Shard} from '../command/shard.js'
import type {QuarantineEntry} from '../manifest/manifest.js'
import type {SchemaViolation} from '../schema/validator.js'
import type {DataSource} from '../sources/types.js'
import type {TransferPlan} from '../storage/transfer.js'
import type {Storage} from '../storage/types.js'
import type {BucketSize, OutputCompression, OutputFormat} from './buckets.js'
import type {EncoderPool} from './encoder-pool.js'
import type {SourceLoader} from './source-handle.js'

/** What convert did with a bucket: `planned` only under `--dry-run` (see {@link ConvertBucketResult.action}). */
export type BucketStatus = 'written' | 'skipped' | 'rebuilt' | 'planned'

/** One bucket of a convert run: the `buckets[]` entries of `convert --json`. */
export interface ConvertBucketResult {
  /** Canonical bucket key: `2021-W45`, `2021-11-09`, `2021-11-09T13`, `2021-11`. */
  key: string
  /** Output key, relative to the output location. */
  output: string
  status: BucketStatus
  /** Under `--dry-run`: what a real run would do. */
  action?: 'write' | 'rebuild' | 'skip'
  /**
   * Why a bucket was skipped: `up-to-date` (manifest matches the inputs), `current` (not finished yet) or `foreign`
   * (an output without a manifest is there, made by another tool such as the original converter: left alone unless
   * `--rebuild-foreign`; `verify --adopt` adopts it). Why a bucket was rebuilt: `interrupted` (its output has our
   * pending marker and no manifest: an earlier run wrote it and stopped before the manifest).
   */
  reason?: 'up-to-date' | 'current' | 'foreign' | 'interrupted'
  objects: number
  records: number
  bytesIn: number
  bytesOut: number
  quarantined: QuarantineEntry[]
  /**
   * `--dry-run`, for sources whose objects come in more than one format (bustimes: Python repr, then JSON): the
   * bucket's objects and bytes by the format their key says ({@link DataSource.formatOf}).
   */
  formats?: Record<string, {objects: number; bytes: number}>
  /** `--validate`: records checked and found invalid, and violations per field path. */
  recordsChecked?: number
  recordsInvalid?: number
  violations?: SchemaViolation[]
}

/** S3 requests a run makes (or, under `--dry-run`, would make), and their cost at S3 Standard list prices. */
export interface RequestPlan {
  list: number
  get: number
  head: number
  put: number
  /** USD: LIST and PUT at $0.005 per 1,000, GET and HEAD at $0.0004 per 1,000. */
  cost: {list: number; get: number; put: number; total: number}
  /** The output sizes behind the PUT count are estimated (compression ratio 0.1 for gzip/zstd, 0.08 Parquet). */
  estimated: boolean
}

/** The JSON contract of `bucketwright convert`. */
export interface ConvertResult {
  source: string
  input: string
  output: string
  bucket: BucketSize
  format: OutputFormat
  compression: OutputCompression
  keyTemplate: string
  from?: string
  to?: string
  shard: Shard
  dryRun: boolean
  buckets: ConvertBucketResult[]
  objects: number
  records: number
  bytesIn: number
  bytesOut: number
  quarantined: number
  seconds: number
  /** Buckets whose existing output was made by another tool (no manifest) and was left alone. */
  foreign: number
  /** Objects fetched in parallel (`--concurrency`, alias `--workers`). */
  concurrency: number
  /** Encoder threads the run used (`--threads`; 0: on the main thread, or none under `--dry-run`). */
  threads: number
  /** Requests and cost: incurred, or under `--dry-run` planned. */
  requests?: RequestPlan
  /** `--dry-run` over a store that bills transfer (S3): the bytes the run would read and write, and their price. */
  transfer?: TransferPlan
  validation?: {recordsChecked: number; recordsInvalid: number; violations: SchemaViolation[]}
}

/** How far a bucket is: objects read of its total, and the records they held. */
export interface ObjectCounts {
  done: number
  total: number
  records: number
}

/** Progress hooks of a convert run (listr2 tasks on a terminal, plain lines under cron, nothing under --json). */
export interface ConvertProgress {
  /** Keys found so far by the listings. */
  listing(keysFound: number): void
  /** Runs one bucket's conversion; `update` sets its status line, with `counts` while objects are read (rate, ETA). */
  bucket<T>(key: string, work: (update: (status: string, counts?: ObjectCounts) => void) => Promise<T>): Promise<T>
  /** A bucket that is left alone, and why. */
  skipped(key: string, why: string): void
}

/** Everything a convert run needs. */
export interface ConvertOptions {
  input: Storage
  output: Storage
  source: DataSource
  /** How encoder threads load the same source. */
  loader: SourceLoader
  bucket: BucketSize
  format: OutputFormat
  compression: OutputCompression
  keyTemplate: string
  /** gzip (1–9) or zstd (1–19) level; default 6 for gzip, 3 for zstd. */
  level?: number
  from?: Date
  to?: Date
  /** Only these buckets (canonical keys, `2021-W45`), within from/to: `--weeks`. */
  only?: string[]
  includeCurrent?: boolean
  /** Rebuild outputs that exist without a manifest (made by another tool); by default they are left alone. */
  rebuildForeign?: boolean
  dryRun?: boolean
  /**
   * Where the run happens, for a dry run's transfer cost: an AWS region, `outside-aws`, or `auto` (the default: ask
   * the EC2 instance metadata service through {@link detectRunLocation}).
   */
  runningIn?: string
  /** Asks the instance metadata service where this runs (default: IMDSv2, 1 s at most; tests pass a loopback one). */
  detectRunLocation?: () => Promise<{onEc2: boolean; region?: string; reason?: string}>
  validate?: boolean
  maxBad?: number
  shard?: Shard
  /** GETs in flight (default 16). */
  concurrency?: number
  /** Encoder threads (default: one per core, never more than the cores; 0 encodes on the main thread). */
  threads?: number
  /** Encoder threads already starting (`startEncoders`), closed by their starter; by default runConvert starts its own. */
  encoders?: Encoders
  /** Raw bytes per independent gzip member / zstd frame (default 4 MiB); output depends on it, never on timing. */
  chunkBytes?: number
  toolVersion: string
  now?: Date
  progress?: ConvertProgress
  signal?: AbortSignal
}

/** Encoder threads being started; whoever starts them closes them. */
export interface Encoders {
  pool: Promise<EncoderPool>
  close(): Promise<void>
}
