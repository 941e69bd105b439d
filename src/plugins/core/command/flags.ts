import {Flags} from '@oclif/core'

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
  shard: Flags.string({summary: 'This worker\'s share, as i/N (0-based): each work unit belongs to exactly one shard.', env: 'BUCKETWRIGHT_SHARD', helpGroup: 'SCALE-OUT'}),
  shards: Flags.integer({summary: 'Number of shards; the index comes from AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX.', env: 'BUCKETWRIGHT_SHARDS', min: 1, helpGroup: 'SCALE-OUT', exclusive: ['shard']}),
}

/** `--source NAME` and `--source-option key=value` (repeatable) for commands that read a data source. */
export const sourceFlags = {
  source: Flags.string({summary: 'Data source (see `bucketwright sources`).', env: 'BUCKETWRIGHT_SOURCE', helpGroup: 'SOURCE'}),
  'source-option': Flags.string({summary: 'Option of the data source, as key=value (repeatable).', multiple: true, helpGroup: 'SOURCE'}),
}
