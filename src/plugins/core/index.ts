/**
 * bucketwright's core plugin: the public API that every command and every third-party data-source plugin uses.
 * Import it as `bucketwright/core`.
 */
export {BaseCommand, type CommandArgs, type CommandFlags} from './command/base-command.js'
export {baseFlags, shardFlags, sourceFlags} from './command/flags.js'
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
export {isValidBucketName, joinKey, type Location, parseLocation} from './storage/location.js'
export {openStorage, type OpenStorageOptions} from './storage/open.js'
export {LocalStorage} from './storage/local.js'
export {type S3ConnectionOptions, type S3RequestStats} from './storage/s3-client.js'
export {translateS3Error, type S3ErrorContext} from './storage/s3-errors.js'
export {BodyDigest} from './storage/body-digest.js'
export type {
  Channel,
  DataSource,
  GeneratedObject,
  GenerateOptions,
  JsonSchema,
  RawLayout,
  RawObjectRef,
  SourceOrigin,
  SourcePluginModule,
  SourceRecord,
  TimeRange,
} from './sources/types.js'
export {DecodeError} from './sources/decode-error.js'
export {type BrokenPlugin, type SourceListing, SourceRegistry, SOURCES_HOOK} from './sources/registry.js'
export {inputsDigest, type ManifestInput, manifestKeyFor, type OutputManifest, type QuarantineEntry, readManifest, writeManifest} from './manifest/manifest.js'
export {type Compression, type Line, maybeDecompress, readAll, readLines, sniffCompression} from './sources/codec.js'
export {RecordValidator, type SchemaViolation} from './schema/validator.js'
export {ownsUnit, resolveShard, type Shard, shardOf} from './command/shard.js'
export {type DuckDB, type DuckDBOptions, openDuckDB, sqlIdentifier, sqlList, sqlString} from './duckdb/duckdb.js'
export {Spool} from './duckdb/spool.js'
// upload-daemon
export type {DaemonState, ScanSummary, UploadCounters} from './upload-daemon/daemon.js'
export type {StartResult, StatusResult, StopResult} from './upload-daemon/control.js'
export type {UploadDaemonResult} from './upload-daemon/service.js'
export {detectEc2, type Ec2Detection} from './upload-daemon/ec2.js'
