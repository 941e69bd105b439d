import type {DataSource, RawObjectRef, SourceRecord} from '../sources/types.js'

/**
 * A capability of NDJSON sources: decode one line at a time, so etl can quarantine a bad line (with its number and
 * reason) and go on with the rest of the segment. Sources without it are decoded whole by {@link DataSource.decode}.
 */
export interface LineDecoder {
  /** State shared by the lines of one object (e.g. counters a feed needs to number its messages). */
  startObject(object: RawObjectRef): unknown
  /** Appends the records of one line to `out`; throws a `DecodeError` for a bad line. */
  decodeLine(text: string, state: unknown, out: SourceRecord[]): void
}

/** Whether a source decodes line by line. */
export function isLineDecoder(source: DataSource): source is DataSource & LineDecoder {
  const candidate = source as Partial<LineDecoder>
  return typeof candidate.decodeLine === 'function' && typeof candidate.startObject === 'function'
}
