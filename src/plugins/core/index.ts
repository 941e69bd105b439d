/**
 * bucketwright's core plugin: the public API that every command and every third-party data-source plugin uses.
 * Import it as `bucketwright/core`.
 */
export {BaseCommand, type CommandArgs, type CommandFlags} from './command/base-command.js'
export {baseFlags, durationFlag, instantFlag, shardFlags, sizeFlag, sourceFlags, timeRangeFlags} from './command/flags.js'
export {printable, shortened} from './command/printable.js'
export {
  BucketwrightError,
  BugError,
  type BucketwrightErrorOptions,
  type ErrorCause,
  type ErrorJson,
  ExitCode,
  exitCodeFor,
  RemoteError,
  toBucketwrightError,
  UsageError,
  UserError,
  VerificationError,
} from './errors/errors.js'
export {type BucketwrightConfig, configPath, type JobSettings, loadConfig, saveConfig, type StorageSettings} from './config/config.js'
export {acquireRunLock, type RunLock} from './config/run-lock.js'
export {Logger, type LogFormat, type LoggerOptions, type LogLevel, logTimestamp} from './progress/logger.js'
export {progressMode, type ProgressMode, runTasks} from './progress/tasks.js'
export type {Checksum, DeleteResult, ListManyOptions, ListOptions, ListProgress, ObjectInfo, ReadOptions, Storage, WriteOptions, WriteResult} from './storage/types.js'
export {bucketNameProblem, checkBucketName, isValidBucketName, joinKey, type Location, parseLocation} from './storage/location.js'
export {checkLocalDirectory, type LocationRole, openStorage, type OpenStorageOptions} from './storage/open.js'
export {LocalStorage} from './storage/local.js'
export {type S3ConnectionOptions, type S3RequestStats} from './storage/s3/s3-client.js'
export {translateS3Error, type S3ErrorContext} from './storage/s3/s3-errors.js'
export {BodyDigest} from './storage/body-digest.js'
// Everything a data source's decoding code needs, also importable on its own as `bucketwright/sources`.
export * from './source-kit.js'
export {type BrokenPlugin, type SourceListing, SourceRegistry, SOURCES_HOOK} from './sources/registry.js'
export {inputsDigest, type ManifestInput, isPendingMarker, manifestKeyFor, type OutputManifest, type PendingMarker, type QuarantineEntry, readManifest, readManifestOrPending, writeManifest} from './manifest/manifest.js'
export {RecordValidator, type SchemaViolation} from './schema/validator.js'
export {ownsUnit, resolveShard, type Shard, shardOf} from './command/shard.js'
export {type DuckDB, type DuckDBOptions, openDuckDB} from './duckdb/duckdb.js'
export {Spool} from './duckdb/spool.js'

// convert
export {type BucketSize, type OutputCompression, type OutputFormat, defaultKeyTemplate, isoWeek, renderKeyTemplate} from './convert/buckets.js'
export {runConvert} from './convert/service.js'
export type {BucketStatus, ConvertBucketResult, ConvertOptions, ConvertProgress, ConvertResult, RequestPlan} from './convert/types.js'
export {type SourceLoader} from './convert/source-handle.js'
// verify: the checks of `bucketwright verify` as a service, its JSON contract, report and Athena DDL.
export type {AthenaDdlResult, BucketResult, CheckResult, CheckStatus, SchemaSummary, VerifyResult} from './verify/result.js'
export {type VerifyOptions, verifyDataset} from './verify/verify.js'
export {type BucketKind, type BucketSpan, bucketOf, parseBucketKey} from './verify/buckets.js'
export {athenaDdl, hiveType} from './verify/athena.js'
export {renderReport} from './verify/report-html.js'
// compact: partition layouts, compaction manifests and results (issue 5)
export {ageCheck, dayIn, startOfDay} from './compact/age.js'
export {type CompactLayout, compactionManifestKey, type InputFormat, type Partition, type PartitionScheme, partitionScheme} from './compact/layout.js'
export {type CompactionManifest, type CompactionOutput, type CompactionState, readCompactionManifest} from './compact/manifest.js'
export {type ColumnType, type RowChecksum} from './compact/merge.js'
export type {CompactResult, OutputFileResult, PartitionResult, PartitionStatus, RequestCounts} from './compact/result.js'
// plugins, generate, fetch cache, init (issue 8)
export {parseUtcTime, timeRange} from './sources/time-range.js'
export {type GenerateResult, type GenerateRunOptions, writeGenerated} from './generate/generate.js'
export {CachedStorage, ReadCache, type ReadCacheOptions, type ReadCacheStats, withReadCache} from './storage/cache.js'
export {type CacheFlagValues, cacheFlags, cacheSettings, optInCacheFlags, optInCacheValues} from './command/cache-flags.js'
export {fetchRange, type FetchOptions, type FetchSummary} from './fetch/fetch.js'
export type {BucketwrightCore, SourcesHookOptions} from './sources/registry.js'
export {configFromAnswers, type CredentialMode, DEFAULT_JOBS, type InitAnswers, JOB_NAMES, JOB_SCHEDULES, type JobName} from './init/answers.js'
export {listAwsProfiles} from './init/aws-profiles.js'
export {type BucketCheckInput, type BucketCheckResult, checkBucket} from './init/bucket-check.js'
export {cronLines, type SystemdUnit, systemdUnits} from './init/schedule.js'
export {answersWithoutPrompts, askAnswers, type GivenAnswers, type WizardContext} from './init/wizard.js'
export {formatInitResult, type InitOptions, type InitResult, runInit} from './init/init.js'
// etl and ingest (issue 7)
export {type ChannelTable, channelTables, csvField, type TableColumn} from './etl/columns.js'
export {decodeSegment, type DecodedSegment, discardStaged, type QuarantinedLine, type StagedChannel} from './etl/decode-segment.js'
export {type EtlOptions, type EtlResult, runEtl, runEtlPass, type SegmentResult} from './etl/etl.js'
export {defaultParquetConcurrency, type EtlSink, type ParquetOutput, ParquetSink, type ParquetSinkOptions, type SinkResult} from './etl/parquet-sink.js'
export {LEDGER_TABLE, PostgresSink, type PostgresSinkOptions, redactConnectionString} from './etl/postgres-sink.js'
export {type DurationUnit, formatBytes, parseDuration, parseSize} from './command/units.js'
export {stopOnSignals} from './etl/stop-signal.js'
export {ingest, type IngestOptions, type IngestResult, type ReadySegment, type SegmentMeta} from './ingest/ingest.js'
export {FeedClient, type FeedClientOptions, FeedConnectError, type FeedReport, feedSettings, subscribeMessages} from './ingest/feed.js'
// load: staging Parquet / JSON Lines → Postgres (issue 18)
export {LOAD_LEDGER_TABLE, type LoadFileResult, type LoadOptions, type LoadResult, runLoad} from './load/load.js'
// upload-daemon
export type {DaemonState, ScanSummary, UploadCounters} from './upload-daemon/daemon.js'
export type {StartResult, StatusResult, StopResult} from './upload-daemon/control.js'
export type {UploadDaemonResult} from './upload-daemon/service.js'
export {detectEc2, type Ec2Detection} from './upload-daemon/ec2.js'
