import type {Config} from '@oclif/core'

import type {DecodeError} from './decode-error.js'
import type {maybeDecompress, readAll, readLines, sniffCompression} from './codec.js'
import type {seededRandom} from './random.js'
import type {namedSource} from './types.js'
import type {isLineDecoder} from '../etl/line-decoder.js'
import type {parseSegmentName, segmentBaseName, segmentHour, segmentKey, segmentLayout, segmentName, segmentPrefix} from '../etl/segments.js'
import type {isSqlDecoder} from '../etl/sql-decoder.js'
import type {sqlIdentifier, sqlList, sqlString} from '../duckdb/duckdb.js'
import type {RecordValidator} from '../schema/validator.js'

/**
 * The runtime values of the source kit (`bucketwright/sources`), as a `bucketwright:sources` hook receives them in
 * `options.core`. Written out rather than `typeof import(…)` of the kit, which would make the kit import itself;
 * the registry assigns the loaded module to this type and test/plugins checks that neither side has a value the other
 * lacks.
 */
export interface SourceKit {
  namedSource: typeof namedSource
  DecodeError: typeof DecodeError
  maybeDecompress: typeof maybeDecompress
  readAll: typeof readAll
  readLines: typeof readLines
  sniffCompression: typeof sniffCompression
  seededRandom: typeof seededRandom
  RecordValidator: typeof RecordValidator
  isLineDecoder: typeof isLineDecoder
  isSqlDecoder: typeof isSqlDecoder
  parseSegmentName: typeof parseSegmentName
  segmentBaseName: typeof segmentBaseName
  segmentHour: typeof segmentHour
  segmentKey: typeof segmentKey
  segmentLayout: typeof segmentLayout
  segmentName: typeof segmentName
  segmentPrefix: typeof segmentPrefix
  sqlIdentifier: typeof sqlIdentifier
  sqlList: typeof sqlList
  sqlString: typeof sqlString
}

/**
 * What a `bucketwright:sources` hook receives: the host's source kit and the oclif config. A plugin takes runtime
 * values (DecodeError, readLines, maybeDecompress…) from `core`, so it shares the host's classes (a DecodeError it
 * throws is the host's DecodeError) and needs no copy of bucketwright installed beside it; it imports only types
 * from `bucketwright/sources`.
 */
export interface SourcesHookOptions {
  core: SourceKit
  config: Config
}
