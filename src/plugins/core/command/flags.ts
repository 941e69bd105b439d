import {Flags} from '@oclif/core'

import {UsageError} from '../errors/errors.js'
import {parseUtcTime} from '../sources/time-range.js'
import {type DurationUnit, parseDuration, parseSize} from './units.js'

/**
 * A size flag, parsed into bytes by {@link parseSize}: KB/MB/GB/TB are powers of 1000 (`2GB` = 2,000,000,000 bytes),
 * KiB/MiB/GiB/TiB and the short k/m/g/t powers of 1024 — the same in every command. A bad value is a usage error
 * naming the flag. `sizeFlag({summary, default: 2e9, defaultHelp: async () => '2GB'})`.
 */
export const sizeFlag = Flags.custom<number>({parse: async (input, _context, flag) => parseSize(input, {flag: flag.name})})

/**
 * A duration flag, parsed into milliseconds by {@link parseDuration} (`500ms`, `90s`, `10m`, `36h`, `7d`, `1w`); a bare
 * number is in `defaultUnit` (seconds unless given). A bad value is a usage error naming the flag.
 */
export function durationFlag(defaultUnit: DurationUnit = 's') {
  return Flags.custom<number>({parse: async (input, _context, flag) => parseDuration(input, {flag: flag.name, defaultUnit})})
}

/**
 * An instant flag, parsed into a `Date` by {@link parseUtcTime}, the one time parser: `2021-11-08`, `2021-11-08T06:00`,
 * an ISO week `2021-W45` (its Monday), a month `2021-11`, UTC unless a zone is given — the same in every command.
 */
export const instantFlag = Flags.custom<Date>({parse: async (input, _context, flag) => parseUtcTime(input, flag.name)})

/**
 * Flags every command has: config file, logging and S3 connection. Each has a `BUCKETWRIGHT_*` environment variable;
 * values from the config file apply under both.
 */
export const baseFlags = {
  config: Flags.string({summary: 'Config file (default: config.json in the bucketwright config dir).', env: 'BUCKETWRIGHT_CONFIG', helpGroup: 'GLOBAL'}),
  quiet: Flags.boolean({char: 'q', summary: 'Only warnings and errors on stderr; no progress.', env: 'BUCKETWRIGHT_QUIET', helpGroup: 'GLOBAL'}),
  verbose: Flags.boolean({summary: 'Debug logging on stderr.', env: 'BUCKETWRIGHT_VERBOSE', helpGroup: 'GLOBAL'}),
  'log-format': Flags.option({options: ['text', 'json'] as const, summary: 'Log lines as text ([YYYY-MM-DD HH:MM:SS] LEVEL message) or JSON.', env: 'BUCKETWRIGHT_LOG_FORMAT', helpGroup: 'GLOBAL'})(),
  endpoint: Flags.string({summary: 'S3-compatible endpoint URL (MinIO, R2, Ceph); implies path-style addressing.', env: 'BUCKETWRIGHT_ENDPOINT', helpGroup: 'S3'}),
  region: Flags.string({summary: 'AWS region; discovered from the bucket when unset.', env: 'BUCKETWRIGHT_REGION', helpGroup: 'S3'}),
  profile: Flags.string({summary: 'Named AWS profile (shared config, SSO).', env: 'BUCKETWRIGHT_PROFILE', helpGroup: 'S3', exclusive: ['anonymous']}),
  anonymous: Flags.boolean({summary: 'Send unsigned requests (public buckets).', env: 'BUCKETWRIGHT_ANONYMOUS', helpGroup: 'S3', exclusive: ['profile']}),
  'path-style': Flags.boolean({summary: 'Path-style addressing (endpoint/bucket/key).', env: 'BUCKETWRIGHT_PATH_STYLE', helpGroup: 'S3', allowNo: true}),
}

/** `--shard i/N`: this worker's share of the work units. Also from AWS Batch / Kubernetes indexes with `--shards N`. */
export const shardFlags = {
  shard: Flags.string({summary: "This worker's share, as i/N (0-based): each work unit belongs to exactly one shard.", env: 'BUCKETWRIGHT_SHARD', helpGroup: 'SCALE-OUT'}),
  shards: Flags.integer({summary: 'Number of shards; the index comes from AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX.', env: 'BUCKETWRIGHT_SHARDS', min: 1, helpGroup: 'SCALE-OUT', exclusive: ['shard']}),
}

/** `--source NAME` and `--source-option key=value` (repeatable) for commands that read a data source. */
export const sourceFlags = {
  source: Flags.string({summary: 'Data source (see `bucketwright sources`).', env: 'BUCKETWRIGHT_SOURCE', helpGroup: 'SOURCE'}),
  'source-option': Flags.string({summary: 'Option of the data source, as key=value (repeatable).', multiple: true, helpGroup: 'SOURCE'}),
}

/** `--from` and `--to` (UTC, `[from, to)`), parsed into instants. */
export const timeRangeFlags = {
  from: instantFlag({summary: 'Start of the range, inclusive (UTC): 2018-05-06, 2018-05-06T20:00, 2018-W18, or ISO 8601 with a zone.', required: true}),
  to: instantFlag({summary: 'End of the range, exclusive (UTC).', required: true}),
}

/**
 * `--source-option key=value` flags as an object, the one parser of them (a later key wins). A usage error naming
 * the option when one is not key=value.
 */
export function parseSourceOptions(options: string[] = []): Record<string, string> {
  const parsed: Record<string, string> = {}
  for (const option of options) {
    const eq = option.indexOf('=')
    if (eq <= 0) throw new UsageError(`--source-option "${option}" is not key=value.`, {code: 'BAD_SOURCE_OPTION', nextSteps: ['Write it as --source-option key=value.']})
    parsed[option.slice(0, eq)] = option.slice(eq + 1)
  }
  return parsed
}

/**
 * How the objects a writer puts in S3 are stored (convert, compact, etl, upload-daemon): one flag set, parsed by
 * storage/object-options.ts parseObjectOptions into the ObjectOptions every write of the run sends. Config-file
 * defaults apply as for any flag (`commands.<command>.storage-class`, …).
 */
export const objectFlags = {
  'storage-class': Flags.string({summary: 'S3 storage class of written objects (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, …).', env: 'BUCKETWRIGHT_STORAGE_CLASS', helpGroup: 'S3 OBJECTS'}),
  sse: Flags.string({summary: 'Server-side encryption of written objects: AES256 (SSE-S3) or aws:kms (SSE-KMS).', env: 'BUCKETWRIGHT_SSE', helpGroup: 'S3 OBJECTS'}),
  'sse-kms-key-id': Flags.string({summary: "KMS key (id, alias/name or ARN) for --sse aws:kms; default: the account's aws/s3 key.", env: 'BUCKETWRIGHT_SSE_KMS_KEY_ID', helpGroup: 'S3 OBJECTS'}),
  acl: Flags.string({summary: "Canned ACL of written objects, e.g. bucket-owner-full-control for another account's bucket.", env: 'BUCKETWRIGHT_ACL', helpGroup: 'S3 OBJECTS'}),
  metadata: Flags.string({summary: 'User metadata of written objects, as key=value (repeatable): x-amz-meta-key.', multiple: true, helpGroup: 'S3 OBJECTS'}),
}
