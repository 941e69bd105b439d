import type {DataSource} from '../sources/types.js'

/**
 * What a {@link SqlDecoder} gives DuckDB for one NDJSON segment file. etl runs `statements`, then `check`, which
 * must return one row `{bad, lines}`; with `bad = 0` it writes each channel's `channels[name]` SELECT (the channel's
 * columns) straight to Parquet. If `bad > 0` or any statement fails, the segment is decoded line by line by the
 * source instead — so bad lines are still quarantined one by one, and the SQL never has to handle them.
 */
export interface SqlDecoding {
  statements: string[]
  check: string
  channels: Record<string, string>
}

/**
 * A capability of sources whose segments DuckDB can decode itself (Parquet sink only): the source's line decoder
 * stays the reference, and the SQL must produce exactly the records it would. `undefined` means: not for this
 * configuration.
 */
export interface SqlDecoder {
  sqlDecoding(file: string, prefix: string): SqlDecoding | undefined
}

/** Whether a source offers a SQL decoding. */
export function isSqlDecoder(source: DataSource): source is DataSource & SqlDecoder {
  return typeof (source as Partial<SqlDecoder>).sqlDecoding === 'function'
}
