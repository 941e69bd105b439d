import type {DataSource} from '../sources/types.js'
import type {Storage} from '../storage/types.js'
import type {UserCheck} from './sql-checks.js'

/** Options of `verifyDataset` (verify.ts); every threshold is a flag of `bucketwright verify`. */
export interface VerifyOptions {
  output: Storage
  /** The raw objects to compare counts against (`--raw`). */
  raw?: Storage
  source: DataSource
  /** Share of buckets whose raw objects are re-read and decoded (1 = all). */
  rawShare: number
  /** Share of records validated against the source's schema (1 = all, 0 = none). */
  schemaShare: number
  /** Seed of the bucket and record samples: the same seed picks the same buckets and records. */
  seed: string
  /** A bucket below `dropThreshold` × the median of its `dropWindow` neighbours on each side is a drop. */
  dropThreshold: number
  dropWindow: number
  checks: UserCheck[]
  /** DuckDB memory limit in bytes (`--memory-limit`). */
  memoryLimitBytes: number
  threads?: number
  /** Threads that read and validate JSONL outputs (default: the cores, at most 4; 0: on the main thread). */
  scanThreads?: number
  /** Disk budget for S3 outputs spooled for DuckDB; checks run over batches of buckets that fit. */
  diskBudgetBytes: number
  /** Buckets ending after this time are still being filled: not missing when absent. Default: now. */
  now?: Date
  onProgress?: (message: string) => void
  /**
   * `--adopt`: write the manifests of outputs made by another tool once they pass the checks against the raw objects
   * (needs `raw`; every bucket is re-read). The tool version goes into the manifests.
   */
  adopt?: {version: string}
}
