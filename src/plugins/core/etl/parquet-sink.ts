import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

import {type DuckDB, openDuckDB, sqlIdentifier, sqlString} from '../duckdb/duckdb.js'
import {VerificationError} from '../errors/errors.js'
import {inputsDigest, writeManifest} from '../manifest/manifest.js'
import type {Storage} from '../storage/types.js'
import type {DecodedSegment, StagedChannel} from './decode-segment.js'

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
  load(decoded: DecodedSegment): Promise<SinkResult>
  close(): Promise<void>
}

/** Options of {@link ParquetSink}. */
export interface ParquetSinkOptions {
  output: Storage
  source: string
  toolVersion: string
  tempRoot: string
  duckdb?: DuckDB
}

/**
 * Writes each channel of a segment as Hive-partitioned Parquet,
 * `processed/<source>/<channel>/<partitions…>/part_<segment>.parquet`. Files are named from the segment, so a
 * reprocessed segment overwrites its own files; every file is counted back before it is uploaded and the total
 * must equal the rows decoded, else nothing is reported done and the segment stays claimed.
 */
export class ParquetSink implements EtlSink {
  readonly target: string
  private duckdb?: DuckDB

  constructor(private readonly options: ParquetSinkOptions) {
    this.target = options.output.uri
    this.duckdb = options.duckdb
  }

  async load(decoded: DecodedSegment): Promise<SinkResult> {
    this.duckdb ??= await openDuckDB({memoryLimit: '1GB'})
    const base = decoded.segment.replace(/\.ndjson$/, '')
    const result: SinkResult = {rows: {}, outputs: []}
    for (const staged of decoded.channels) {
      result.rows[staged.table.channel] = staged.rows
      if (staged.rows === 0) continue
      const outDir = path.join(decoded.dir, `parquet-${staged.table.channel}`)
      await this.writeLocal(staged, outDir, base)
      const files = await listFiles(outDir)
      const counts = await this.duckdb.query<{file: string; rows: number}>(
        `SELECT filename AS file, count(*)::BIGINT AS rows FROM read_parquet(${sqlString(path.join(outDir, '**', '*.parquet'))}, filename = true, hive_partitioning = false) GROUP BY filename`,
      )
      const total = counts.reduce((sum, row) => sum + Number(row.rows), 0)
      if (total !== staged.rows || counts.length !== files.length) {
        throw new VerificationError(`Parquet for ${decoded.segment}/${staged.table.channel} holds ${total} rows in ${counts.length} files, but ${staged.rows} records were decoded; nothing was uploaded and the segment stays in processing/.`, {
          code: 'ETL_COUNT_MISMATCH',
          nextSteps: ['Run etl again; if it repeats, report it with the segment.'],
          details: {segment: decoded.segment, channel: staged.table.channel, expected: staged.rows, written: total},
        })
      }
      const byFile = new Map(counts.map((row) => [path.resolve(row.file), Number(row.rows)]))
      for (const file of files) {
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
        result.outputs!.push({key, channel: staged.table.channel, rows, size: written.size})
      }
    }
    return result
  }

  private async writeLocal(staged: StagedChannel, outDir: string, base: string): Promise<void> {
    const {table} = staged
    const columns = `{${table.columns.map((column) => `${sqlString(column.name)}: ${sqlString(column.sqlType)}`).join(', ')}}`
    const select = table.columns.map((column) => sqlIdentifier(column.name)).join(', ')
    const partition = table.partitionBy.length > 0 ? `, PARTITION_BY (${table.partitionBy.map(sqlIdentifier).join(', ')}), FILENAME_PATTERN ${sqlString(`part_${base}`)}` : ''
    const target = table.partitionBy.length > 0 ? outDir : path.join(outDir, `part_${base}0.parquet`)
    if (table.partitionBy.length === 0) await fs.mkdir(outDir, {recursive: true})
    await this.duckdb!.run(
      `COPY (SELECT ${select} FROM read_csv(${sqlString(staged.file)}, columns = ${columns}, header = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, auto_detect = false)) TO ${sqlString(target)} (FORMAT parquet, COMPRESSION zstd${partition})`,
    )
  }

  async close(): Promise<void> {
    if (!this.options.duckdb) await this.duckdb?.close()
    this.duckdb = undefined
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, {recursive: true, withFileTypes: true})
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.parquet')).map((entry) => path.join(entry.parentPath, entry.name)).sort()
}
