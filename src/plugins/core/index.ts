/**
 * `bucketwright/core`: what a command author needs — the command base class and its flags, the errors and exit codes,
 * the storage layer's interface and how to open a location, the logger and progress. Services (convert, verify,
 * compact…) are internal: bucketwright's own commands import them by relative path. A data-source plugin uses
 * `bucketwright/sources` (source-kit.ts) instead; the source types a command sees are re-exported here. The API report in
 * etc/ records this surface (docs/ARCHITECTURE.md, "Public API").
 *
 * @packageDocumentation
 */
// commands
export {BaseCommand, type CommandArgs, type CommandFlags} from './command/base-command.js'
export {baseFlags, durationFlag, instantFlag, objectFlags, shardFlags, sizeFlag, sourceFlags, timeRangeFlags} from './command/flags.js'
export {type CacheFlagValues, cacheFlags, optInCacheFlags, optInCacheValues} from './command/cache-flags.js'
export {parseUtcTime, timeRange} from './sources/time-range.js'
export {type DurationUnit, formatBytes, parseDuration, parseSize} from './command/units.js'
export {ownsUnit, resolveShard, type Shard} from './command/shard.js'
export {parseObjectOptions} from './storage/object-options.js'
export {printable, shortened} from './command/printable.js'
export type {BucketwrightConfig, JobSettings, StorageSettings} from './config/config.js'
// errors and exit codes
export {BucketwrightError, BugError, type BucketwrightErrorOptions, type ErrorCause, type ErrorJson, ExitCode, RemoteError, UsageError, UserError, VerificationError} from './errors/errors.js'
export {exitCodeFor, toBucketwrightError} from './errors/normalise.js'
// storage
export type {Checksum, DeleteResult, ListManyOptions, ListOptions, ListProgress, ObjectInfo, ObjectOptions, ReadOptions, Storage, WriteOptions, WriteResult} from './storage/types.js'
export {joinKey, type Location, parseLocation} from './storage/location.js'
export {type LocationRole, openStorage, type OpenStorageOptions, registerStorageScheme, type StorageOpener} from './storage/open.js'
export type {S3ConnectionOptions} from './storage/s3/s3-client.js'
export type {ReadCacheStats} from './storage/cache.js'
// logging and progress
export {Logger, type LogFormat, type LoggerOptions, type LogLevel} from './progress/logger.js'
export {type ProgressMode, runTasks} from './progress/tasks.js'
// data sources, as a command sees them (a plugin's runtime kit is `bucketwright/sources`)
export {type BrokenPlugin, type SourceListing, SourceRegistry} from './sources/registry.js'
export type {Channel, DataSource, GeneratedObject, GenerateOptions, JsonLines, JsonSchema, RawLayout, RawObjectRef, SourceFactory, SourceOrigin, SourcePluginModule, SourceRecord, TimeRange} from './source-kit.js'
