import fs from 'node:fs/promises'
import path from 'node:path'

import {DecodeError} from '../sources/decode-error.js'
import {maybeDecompress, readLines} from '../sources/codec.js'
import type {DataSource, RawObjectRef, SourceRecord} from '../sources/types.js'
import type {Storage} from '../storage/types.js'
import {type ChannelTable, csvRowWriter, fieldText} from './columns.js'
import {isLineDecoder} from './line-decoder.js'

/** A line of a segment that could not be decoded, set aside with where it was and why. */
export interface QuarantinedLine {
  segment: string
  line: number
  reason: string
  text?: string
}

/** One channel's records of a segment, staged as a CSV file of the table's columns, in segment order. */
export interface StagedChannel {
  table: ChannelTable
  /** The CSV file; empty when the rows were written to Parquet already ({@link parquetDir}). */
  file: string
  /** Hive-partitioned Parquet of the rows, when DuckDB decoded the segment itself (Parquet sink). */
  parquetDir?: string
  rows: number
  /**
   * The record key (as text, in `table.recordKey` order) of the channel's first and last records, when staged as CSV:
   * the Postgres sink probes them to tell a segment that overlaps the table from one of new records.
   */
  edgeKeys?: [first: (string | null)[], last: (string | null)[]]
}

/** A segment decoded into per-channel CSV files in a temp directory (removed by {@link discardStaged}). */
export interface DecodedSegment {
  segment: string
  key: string
  etag?: string
  size: number
  lines: number
  channels: StagedChannel[]
  quarantined: QuarantinedLine[]
  /** Records of channels the source does not route to a table (skipped, counted). */
  unrouted: number
  dir: string
}

const FLUSH_CHARS = 1 << 20
/** Quarantined lines longer than this are cut in the quarantine file (the segment itself is kept only until done). */
const MAX_QUARANTINE_TEXT = 4096

class ChannelWriter {
  rows = 0
  private buffer = ''
  private handle?: fs.FileHandle
  private first?: SourceRecord
  private last?: SourceRecord
  readonly write: (record: SourceRecord) => string

  constructor(
    readonly table: ChannelTable,
    readonly file: string,
  ) {
    this.write = csvRowWriter(table)
  }

  /** Buffers a record; returns a promise only when the buffer was written out (awaiting every record is costly). */
  add(record: SourceRecord): Promise<void> | undefined {
    this.buffer += this.write(record)
    this.first ??= record
    this.last = record
    this.rows++
    return this.buffer.length >= FLUSH_CHARS ? this.flush() : undefined
  }

  async flush(): Promise<void> {
    this.handle ??= await fs.open(this.file, 'w')
    if (this.buffer.length > 0) await this.handle.write(this.buffer)
    this.buffer = ''
  }

  async close(): Promise<void> {
    await this.flush()
    await this.handle?.close()
  }

  /** The key of the first and last records (see {@link StagedChannel.edgeKeys}). */
  edgeKeys(): StagedChannel['edgeKeys'] {
    if (!this.first || !this.last) return undefined
    const keyOf = (record: SourceRecord) => this.table.recordKey.map((name) => fieldText(record[name]))
    return [keyOf(this.first), keyOf(this.last)]
  }
}

/**
 * Reads a segment and stages its records per channel. Line-decoding sources quarantine a bad line and go on; other
 * sources are decoded whole, and a decode error quarantines the rest of the segment from that point.
 */
export async function decodeSegment(storage: Storage, key: string, source: DataSource, tables: ChannelTable[], tempRoot: string, object: Omit<RawObjectRef, 'key'> = {}): Promise<DecodedSegment> {
  const segment = key.slice(key.lastIndexOf('/') + 1)
  const dir = await fs.mkdtemp(path.join(tempRoot, 'bw-etl-'))
  const writers = new Map(tables.map((table) => [table.channel, new ChannelWriter(table, path.join(dir, `${table.channel}.csv`))]))
  const single = tables.length === 1 ? writers.get(tables[0].channel) : undefined
  const ref: RawObjectRef = {key, ...object, time: object.time ?? source.layout.timeFromKey(key)}
  const result: DecodedSegment = {segment, key, etag: object.etag, size: object.size ?? 0, lines: 0, channels: [], quarantined: [], unrouted: 0, dir}
  const route = (record: SourceRecord): Promise<void> | undefined => {
    const writer = single ?? writers.get(source.channelOf?.(record) ?? '')
    if (writer) return writer.add(record)
    result.unrouted++
    return undefined
  }
  try {
    const body = await storage.read(key)
    if (isLineDecoder(source)) {
      const state = source.startObject(ref)
      const out: SourceRecord[] = []
      for await (const line of readLines(await maybeDecompress(body))) {
        result.lines = line.number
        try {
          source.decodeLine(line.text, state, out)
        } catch (error) {
          out.length = 0
          if (!(error instanceof DecodeError)) throw error
          result.quarantined.push({segment, line: line.number, reason: error.message, text: line.text.slice(0, MAX_QUARANTINE_TEXT)})
          continue
        }
        for (const record of out) {
          const flushing = route(record)
          if (flushing) await flushing
        }
        out.length = 0
      }
    } else {
      try {
        for await (const record of source.decode(body, ref)) await route(record)
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error
        result.quarantined.push({segment, line: error.where.line ?? 0, reason: error.message})
      }
    }
    for (const writer of writers.values()) {
      await writer.close()
      result.channels.push({table: writer.table, file: writer.file, rows: writer.rows, edgeKeys: writer.edgeKeys()})
    }
    return result
  } catch (error) {
    await Promise.allSettled([...writers.values()].map((writer) => writer.close()))
    await fs.rm(dir, {recursive: true, force: true})
    throw error
  }
}

/** Removes a decoded segment's staged files. */
export async function discardStaged(decoded: DecodedSegment): Promise<void> {
  await fs.rm(decoded.dir, {recursive: true, force: true})
}
