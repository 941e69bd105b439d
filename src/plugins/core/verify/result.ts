import type {SchemaViolation} from '../schema/validator.js'

/** Outcome of one check: `skip` when it could not apply (no `--raw`, no record key, no manifests…). */
export type CheckStatus = 'pass' | 'fail' | 'skip'

/**
 * One check of `verify`. Names are stable: `integrity`, `manifest-counts`, `raw-counts`, `missing-buckets`,
 * `drops`, `duplicates`, `schema`, and `sql:<name>` for each user check. `details` holds the evidence (bucket
 * labels, keys, counts, example rows) as plain JSON.
 */
export interface CheckResult {
  name: string
  status: CheckStatus
  /** One line for people, naming what failed (`2024-W03 is missing between 2024-W02 and 2024-W04`). */
  summary: string
  details: Record<string, unknown>
}

/**
 * What verify found for one time bucket. `missing` buckets have no output file though they should; `no-data`
 * buckets (only with `--raw`) have no output and no raw objects either: nothing was there to convert.
 */
export interface BucketResult {
  /** Bucket label: `2024-W03`, `2024-01-15`, `2024-01-15T07`, `2024-01`. */
  key: string
  /** Output key (relative to the output location); for a missing bucket, the key it was expected at. */
  output: string
  /** UTC span `[from, to)`. */
  from: string
  to: string
  status: 'ok' | 'failed' | 'missing' | 'no-data'
  /** Bytes of the output file. */
  bytes?: number
  /** Records read from the output (absent when it could not be read to the end). */
  records?: number
  /** Records the output's manifest declares. */
  manifestRecords?: number
  /** Input objects the manifest lists as quarantined (undecodable when converted; their records are not expected). */
  quarantinedObjects?: number
  /** Raw objects of the bucket found under `--raw`, and their decoded records (when this bucket was re-read). */
  rawObjects?: number
  rawRecords?: number
  /** True when the bucket's raw objects were re-read and decoded (all with `--raw`, or the `--sample`). */
  rawChecked: boolean
  /** Records that repeat another record's key. */
  duplicates?: number
  /** Records that violate the source's JSON Schema (among those checked). */
  schemaInvalid?: number
  /** The defects found, one sentence each. */
  problems: string[]
}

/**
 * Something verify could not check, which does not fail the run: `NO_MANIFEST` (an output without its manifest:
 * its counts and checksums are not checked), `NOT_A_BUCKET` (a data file whose key names no time bucket: not
 * read), `ORPHAN_MANIFEST` (a manifest whose output is gone, in a bucket that has other outputs).
 */
export interface VerifyWarning {
  code: 'NO_MANIFEST' | 'NOT_A_BUCKET' | 'ORPHAN_MANIFEST'
  /** The output (or manifest) key it is about. */
  key: string
  /** One sentence naming the key and what was not checked. */
  message: string
}

/** Schema findings: records checked, invalid, and violations per field path with an example. */
export interface SchemaSummary {
  recordsChecked: number
  recordsInvalid: number
  violations: SchemaViolation[]
}

/**
 * The JSON contract of `bucketwright verify --json`: stable; new fields may be added, none removed or renamed.
 * `ok` is false exactly when a check has status `fail`, which is also when the exit code is 3.
 */
export interface VerifyResult {
  /** Version of this contract; bumped only by an incompatible change. */
  resultVersion: 1
  mode: 'verify'
  ok: boolean
  /** The output location verified (URI) and the raw location compared against, if any. */
  output: string
  raw?: string
  source: string
  bucketKind?: string
  checks: CheckResult[]
  buckets: BucketResult[]
  schema: SchemaSummary
  /** What could not be checked; warnings do not fail the run (exit 0 when every check passed). */
  warnings: VerifyWarning[]
  /**
   * `missing` counts every missing bucket, also those of a gap too long to list one by one; `noData` the buckets
   * without output and without raw objects (`--raw`).
   */
  totals: {buckets: number; missing: number; noData: number; failed: number; files: number; records: number; bytes: number; rawObjectsRead: number; warnings: number; seconds: number}
  /** Path of the HTML report, when `--report` was given. */
  report?: string
  /** `--adopt`: outputs made by another tool that got a manifest, those that did not and why. */
  adoption?: AdoptionResult
}

/** `verify --athena-ddl`: the table definition and the queries to run in Athena instead of verifying here. */
export interface AthenaDdlResult {
  resultVersion: 1
  mode: 'athena-ddl'
  output: string
  source: string
  table: string
  ddl: string
  queries: {name: string; description: string; sql: string}[]
  notes: string[]
}

/** What `verify --adopt` did: the outputs it wrote a manifest for, and those it could not adopt (and why). */
export interface AdoptionResult {
  adopted: string[]
  refused: {output: string; reason: string}[]
  /** Set when nothing was adopted because a check failed (the exit code is then 3). */
  failedChecks?: string[]
}
