import {randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import pMap from 'p-map'

import {type DuckDB, openDuckDB, sqlIdentifier, sqlList, sqlString} from '../duckdb/duckdb.js'
import {VerificationError} from '../errors/errors.js'
import {inputsDigest, writeManifest} from '../manifest/manifest.js'
import type {DataSource, RawObjectRef} from '../sources/types.js'
import {makeDirectory} from '../storage/make-directory.js'
import type {Storage} from '../storage/types.js'
import type {ChannelTable} from './columns.js'
import type {DecodedSegment, StagedChannel} from './decode-segment.js'
import {isSqlDecoder} from './sql-decoder.js'
import {segmentBaseName} from './segments.js'

/** One Parquet file written for a segment. */
export interface ParquetOutput {
  key: string
  channel: string
  rows: number
  size: number
}

/** What a sink did with one segment. */
export interface SinkResult {
  /** Rows written (Parquet) or upserted (Postgres) per channel. */
  rows: Record<string, number>
  outputs?: ParquetOutput[]
  /** Postgres: the segment was in the ledger already, so nothing was loaded again. */
  alreadyLoaded?: boolean
}

/** Where etl puts a segment's records: Hive-partitioned Parquet or Postgres tables. */
export interface EtlSink {
  /** The destination as it may be printed (no secrets). */
  readonly target: string
  /** Where the sink writes files, when it writes to a location: etl's listings of segments leave it out. */
  readonly output?: Pick<Storage, 'uri'>
  load(decoded: DecodedSegment): Promise<SinkResult>
  /** How many segments etl decodes ahead of this sink (default 2). */
  readonly decodeAhead?: number
  /**
   * Decodes a segment the sink's own way when it can do so faster than the source's line decoder (Parquet: DuckDB
   * for sources with a SQL decoding), or `undefined` to use the line decoder.
   */
  decodeFast?(raw: Storage, key: string, source: DataSource, tables: ChannelTable[], tempRoot: string, object: Omit<RawObjectRef, 'key'>): Promise<DecodedSegment | undefined>
  close(): Promise<void>
}

/** Options of {@link ParquetSink}. */
export interface ParquetSinkOptions {
  output: Storage
  source: string
  toolVersion: string
  tempRoot: string
  /** A DuckDB to use (kept open by the sink); by default the sink opens its own, sized for `concurrency`. */
  duckdb?: DuckDB
  /** Segments decoded and written at once (default {@link defaultParquetConcurrency}). */
  concurrency?: number
}

/**
 * Segments the Parquet sink works on at once unless told: one more than the cores, so that a segment's short
 * single-threaded phases (claim, count back, upload, manifest) never leave a core idle, but at most one less than
 * libuv's thread pool (UV_THREADPOOL_SIZE, default 4) — each running DuckDB statement holds a pool thread, and the
 * file writes and fsyncs of finished segments need one too.
 */
export function defaultParquetConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4
  return Math.max(1, Math.min(os.availableParallelism() + 1, pool - 1))
}

/**
 * Writes each channel of a segment as Hive-partitioned Parquet,
 * `processed/<source>/<channel>/<partitions…>/part_<segment>.parquet`. Files are named from the segment, so a
 * reprocessed segment overwrites its own files; every file is counted back before it is uploaded and the total
 * must equal the rows decoded, else nothing is reported done and the segment stays claimed.
 */
export class ParquetSink implements EtlSink {
  readonly target: string
  /** `processed/<source>/` of the destination: the files (manifests aside, which no listing reads) go there. */
  readonly output: Pick<Storage, 'uri'>
  /** Segments in flight: each is decoded and written by DuckDB on its own connection, beside the others. */
  readonly decodeAhead: number
  private opening?: Promise<DuckDB>

  constructor(private readonly options: ParquetSinkOptions) {
    this.target = options.output.uri
    this.output = options.output.sub(`processed/${options.source}/`)
    this.decodeAhead = Math.max(1, options.concurrency ?? defaultParquetConcurrency())
    if (options.duckdb) this.opening = Promise.resolve(options.duckdb)
  }

  /**
   * The sink's DuckDB, opened once even when several segments ask at the same time. Its threads are the cores
   * shared out among the segments in flight (one each on a small machine): the segments' statements are small, and
   * DuckDB spends about a third more CPU when it splits each of them across threads than when whole segments run
   * side by side on one thread each.
   */
  private db(): Promise<DuckDB> {
    this.opening ??= openDuckDB({memoryLimit: '1GB', threads: Math.max(1, Math.floor(os.availableParallelism() / this.decodeAhead))})
    return this.opening
  }

  async load(decoded: DecodedSegment): Promise<SinkResult> {
    const duckdb = await this.db()
    const base = segmentBaseName(decoded.segment)
    const result: SinkResult = {rows: {}, outputs: []}
    const toUpload: {staged: StagedChannel; outDir: string; files: string[]}[] = []
    for (const staged of decoded.channels) {
      result.rows[staged.table.channel] = staged.rows
      if (staged.rows === 0) continue
      const outDir = staged.parquetDir ?? path.join(decoded.dir, `parquet-${staged.table.channel}`)
      if (!staged.parquetDir) await this.writeLocal(duckdb, staged, outDir, base)
      toUpload.push({staged, outDir, files: await listFiles(outDir)})
    }
    // Every file's footer read back in one statement: the row count a reader will see, and proof the file is whole.
    const allFiles = toUpload.flatMap(({files}) => files)
    const footers = allFiles.length === 0 ? [] : await duckdb.query<{file: string; rows: number}>(`SELECT file_name AS file, num_rows::BIGINT AS rows FROM parquet_file_metadata(${sqlList(allFiles)})`)
    const byFile = new Map(footers.map((row) => [path.resolve(row.file), Number(row.rows)]))
    for (const {staged, files} of toUpload) {
      const counted = files.filter((file) => byFile.has(path.resolve(file)))
      const total = counted.reduce((sum, file) => sum + byFile.get(path.resolve(file))!, 0)
      if (total !== staged.rows || counted.length !== files.length) {
        throw new VerificationError(
          `Parquet for ${decoded.segment}/${staged.table.channel} holds ${total} rows in ${counted.length} files, but ${staged.rows} records were decoded; nothing was uploaded and the segment stays in processing/.`,
          {
            code: 'ETL_COUNT_MISMATCH',
            nextSteps: ['Run etl again; if it repeats, report it with the segment.'],
            details: {segment: decoded.segment, channel: staged.table.channel, expected: staged.rows, written: total},
          },
        )
      }
    }
    // Nothing is uploaded unless every channel adds up (an upload that fails midway is redone, same names, on rerun).
    for (const {staged, outDir, files} of toUpload) {
      const outputs = await pMap(
        files,
        async (file): Promise<ParquetOutput> => {
          const relative = path.relative(outDir, file).split(path.sep)
          const partitionDirs = relative.slice(0, -1).join('/')
          // DuckDB numbers the files of a partition (part_<segment>0.parquet …); the first keeps the plain name.
          const produced = relative.at(-1)!
          const index = Number(produced.slice(`part_${base}`.length, -'.parquet'.length) || 0)
          const name = index === 0 ? `part_${base}.parquet` : `part_${base}_${index}.parquet`
          const key = `processed/${this.options.source}/${staged.table.channel}/${partitionDirs ? partitionDirs + '/' : ''}${name}`
          const written = await this.options.output.write(key, createReadStream(file), {contentType: 'application/vnd.apache.parquet'})
          const rows = byFile.get(path.resolve(file)) ?? 0
          await writeManifest(this.options.output, {
            manifestVersion: 1,
            tool: {name: 'bucketwright', version: this.options.toolVersion},
            command: 'etl',
            source: this.options.source,
            createdAt: new Date().toISOString(),
            output: {key, size: written.size, md5: written.md5, sha256: written.sha256, etag: written.etag, format: 'parquet', compression: 'zstd'},
            bucket: {key: partitionDirs},
            inputs: [{key: decoded.key, size: decoded.size, etag: decoded.etag}],
            inputsDigest: inputsDigest([{key: decoded.key, size: decoded.size, etag: decoded.etag}]),
            counts: {objects: 1, records: rows, quarantined: decoded.quarantined.length},
            quarantined: [],
            extra: {channel: staged.table.channel, segment: decoded.segment},
          })
          return {key, channel: staged.table.channel, rows, size: written.size}
        },
        {concurrency: UPLOADS_IN_FLIGHT},
      )
      result.outputs!.push(...outputs)
    }
    return result
  }

  private async writeLocal(duckdb: DuckDB, staged: StagedChannel, outDir: string, base: string): Promise<void> {
    const {table} = staged
    const columns = `{${table.columns.map((column) => `${sqlString(column.name)}: ${sqlString(column.sqlType)}`).join(', ')}}`
    const select = table.columns.map((column) => sqlIdentifier(column.name)).join(', ')
    if (table.partitionBy.length === 0) await makeDirectory(outDir)
    const rows = `read_csv(${sqlString(staged.file)}, columns = ${columns}, header = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, auto_detect = false)`
    await duckdb.run(copyTo(`SELECT ${select} FROM ${rows}`, table, outDir, base))
  }

  /**
   * DuckDB decodes the segment itself when the source offers a SQL decoding: one pass of native JSON parsing
   * instead of JavaScript decoding plus a CSV round trip. Every row must pass the decoding's checks; otherwise (or
   * on any error: a line that is not JSON, a feed the SQL does not cover) this returns `undefined` and the segment
   * goes through the source's line decoder, which quarantines bad lines one by one.
   */
  async decodeFast(raw: Storage, key: string, source: DataSource, tables: ChannelTable[], tempRoot: string, object: Omit<RawObjectRef, 'key'>): Promise<DecodedSegment | undefined> {
    if (!isSqlDecoder(source)) return undefined
    const duckdb = await this.db()
    const segment = key.slice(key.lastIndexOf('/') + 1)
    const base = segmentBaseName(segment)
    const dir = await fs.mkdtemp(path.join(tempRoot, 'bw-etl-'))
    // Its own connection: its temporary tables stay private, and it runs beside the previous segment's writes.
    const connection = await duckdb.instance.connect()
    const rowsOf = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[]
    try {
      const inPlace = raw.localPath?.(key)
      const file = inPlace ?? path.join(dir, segment)
      if (inPlace === undefined) await pipeline(await raw.read(key), createWriteStream(file))
      const decoding = source.sqlDecoding(file, `bw_${randomBytes(4).toString('hex')}`)
      if (!decoding) throw new Error('no SQL decoding for this configuration')
      for (const sql of decoding.statements) await connection.run(sql)
      const [check] = await rowsOf(decoding.check)
      if (Number(check.bad) > 0) throw new Error('lines that need the line decoder')
      const channels: StagedChannel[] = []
      for (const table of tables) {
        const select = decoding.channels[table.channel]
        if (!select) {
          channels.push({table, file: '', rows: 0})
          continue
        }
        const parquetDir = path.join(dir, `parquet-${table.channel}`)
        if (table.partitionBy.length === 0) await makeDirectory(parquetDir)
        const [written] = await rowsOf(copyTo(`SELECT ${table.columns.map((column) => sqlIdentifier(column.name)).join(', ')} FROM (${select})`, table, parquetDir, base))
        channels.push({table, file: '', parquetDir, rows: Number(Object.values(written)[0])})
      }
      return {segment, key, etag: object.etag, size: object.size ?? 0, lines: Number(check.lines), channels, quarantined: [], unrouted: 0, dir}
    } catch {
      await fs.rm(dir, {recursive: true, force: true})
      return undefined
    } finally {
      connection.closeSync()
    }
  }

  async close(): Promise<void> {
    const opening = this.opening
    this.opening = undefined
    if (opening && !this.options.duckdb) await (await opening).close()
  }
}

/** Files uploaded at once: each local write ends in an fsync and each S3 write is a request, so they overlap well. */
const UPLOADS_IN_FLIGHT = 8

/** `COPY (select) TO dir` as Hive-partitioned, zstd Parquet files named `part_<segment><i>.parquet`. */
function copyTo(select: string, table: ChannelTable, outDir: string, base: string): string {
  if (table.partitionBy.length === 0) return `COPY (${select}) TO ${sqlString(path.join(outDir, `part_${base}0.parquet`))} (FORMAT parquet, COMPRESSION zstd)`
  return `COPY (${select}) TO ${sqlString(outDir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${table.partitionBy.map(sqlIdentifier).join(', ')}), FILENAME_PATTERN ${sqlString(`part_${base}`)})`
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, {recursive: true, withFileTypes: true})
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.parquet'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort()
}
