import type {ManifestInput} from '../manifest/manifest.js'
import type {RequestCounts} from '../storage/requests.js'
import type {CompactLayout} from './layout.js'

/**
 * What happened to a partition:
 * - `compacted`: merged, verified, recorded, inputs deleted.
 * - `would-compact`: `--dry-run`; nothing was done.
 * - `up-to-date`: only compacted files, nothing new.
 * - `too-recent`: today's partition, or younger than `--min-age`.
 * - `too-few-files`: fewer inputs than `--min-files`.
 * - `verification-failed`: the new files did not match the inputs; nothing was deleted (exit 3).
 * - `failed`: an error stopped it; nothing unverified was deleted, a rerun continues (exit 1).
 */
export type PartitionStatus = 'compacted' | 'would-compact' | 'up-to-date' | 'too-recent' | 'too-few-files' | 'verification-failed' | 'failed'

/** Requests a compaction makes (S3 request kinds; on local disk the same count of file operations). */
export type {RequestCounts} from '../storage/requests.js'

/** One output file written. */
export interface OutputFileResult {
  key: string
  size: number
  rows: number
}

/** One partition in the `--json` result. */
export interface PartitionResult {
  partition: string
  layout: CompactLayout
  date?: string
  status: PartitionStatus
  /** Why it was skipped, or what failed. */
  reason?: string
  /** The inputs as listed (size and ETag): earlier compacted files of the partition included. */
  inputs: ManifestInput[]
  inputBytes: number
  rows?: number
  /** Order-independent checksum of the rows (sum of 64-bit row hashes), equal on inputs and outputs. */
  checksum?: string
  outputs: OutputFileResult[]
  /** Inputs deleted by this run (a resumed earlier run's included). */
  deleted: number
  /** Inputs not deleted because they changed after the listing; compacted next time. */
  kept: string[]
  /** An interrupted earlier run found: `finished` (its verified outputs kept, its inputs deleted) or `rolled-back`. */
  recovered?: 'finished' | 'rolled-back'
  /** `--dry-run`: the requests this partition would make, estimated. */
  requests?: RequestCounts
  /** What stopped the partition, and what the user can do about it. */
  error?: {code: string; message: string; nextSteps: string[]}
  seconds?: number
}

/** The result of `bucketwright compact` (its `--json` contract). */
export interface CompactResult {
  location: string
  dryRun: boolean
  shard: {index: number; count: number}
  /** The day that is never compacted, and the zone it is taken in. */
  today: string
  timezone: string
  partitions: PartitionResult[]
  totals: {
    partitions: number
    compacted: number
    skipped: number
    failed: number
    inputs: number
    inputBytes: number
    rows: number
    outputs: number
    outputBytes: number
    deleted: number
  }
  /** `--dry-run`: all requests, and their cost at S3 Standard list prices (USD). */
  requests?: RequestCounts & {estimatedCostUsd: number}
}
