/**
 * The part of bucketwright's public API that decoding code needs — source types, `DecodeError`, codecs, the seeded
 * generator helpers, the record validator — without the CLI framework. Import it as `bucketwright/sources`: it loads
 * in a few milliseconds, where `bucketwright/core` loads oclif too, which every encoder thread of `convert` would pay
 * at start-up. A plugin's `bucketwright:sources` hook receives this module's values as `options.core`
 * ({@link SourceKit}); `bucketwright/core` re-exports its types.
 */
export type {
  Channel,
  DataSource,
  FrameSequence,
  GeneratedObject,
  GenerateOptions,
  JsonLines,
  JsonSchema,
  LiveFeed,
  RawLayout,
  RawObjectRef,
  SourceFactory,
  SourceOrigin,
  SourcePluginModule,
  SourceRecord,
  TimeRange,
} from './sources/types.js'
export {namedSource} from './sources/types.js'
export type {SourceKit, SourcesHookOptions} from './sources/hook.js'
export {DecodeError} from './sources/decode-error.js'
export {type Compression, type Line, maybeDecompress, readAll, readLines, sniffCompression} from './sources/codec.js'
export {seededRandom} from './sources/random.js'
export {isLineDecoder, type LineDecoder} from './etl/line-decoder.js'
export {isSqlDecoder, type SqlDecoder, type SqlDecoding} from './etl/sql-decoder.js'
export {parseSegmentName, segmentBaseName, segmentHour, segmentKey, segmentLayout, segmentName, segmentPrefix, type SegmentCompression, type SegmentStage} from './etl/segments.js'
export {sqlIdentifier, sqlList, sqlString} from './duckdb/duckdb.js'
export {RecordValidator, type SchemaViolation} from './schema/validator.js'
