import fs from 'node:fs/promises'
import path from 'node:path'

import {type DuckDB, sqlIdentifier, sqlList, sqlString} from '../duckdb/duckdb.js'
import type {InputFormat} from './layout.js'

/**
 * An order-independent checksum of a set of rows: the row count, and the sum (exact, 128-bit) and XOR of DuckDB's
 * 64-bit `hash()` of every row's columns taken in name order. Two row sets with equal checksums hold the same rows
 * with overwhelming probability, whatever their order and however they are split into files.
 */
export interface RowChecksum {
  rows: number
  sum: string
  xor: string
}

/** A column as DuckDB types it (`STRUCT(lat DOUBLE, …)`, `VARCHAR[]`): nested types stay nested. */
export interface ColumnType {
  name: string
  type: string
}

/** One local file to merge. */
export interface MergeSource {
  path: string
  format: InputFormat
}

/** A merged file on local disk, with the checksum of what DuckDB reads back from it. */
export interface MergedFile {
  path: string
  size: number
  checksum: RowChecksum
}

/**
 * `materialize` reads the inputs once into a DuckDB table (spilling past the memory limit), then writes and
 * checksums from it: fastest for the usual many-small-files partition, where opening files dominates. `stream`
 * never holds the partition: it writes straight from the files and reads them a second time for the checksum.
 */
export type MergeStrategy = 'materialize' | 'stream'

/** Options of {@link mergeToParquet}. */
export interface MergeOptions {
  /** Start a new output file past about this many bytes. */
  targetSizeBytes: number
  strategy: MergeStrategy
  /** Called between the stages, for progress. */
  onStage?: (stage: 'reading' | 'writing' | 'checksumming') => void
}

/** What {@link mergeToParquet} produced: the checksum of the inputs, and the output files in order. */
export interface MergeResult {
  inputs: RowChecksum
  columns: ColumnType[]
  files: string[]
}

const TABLE = 'bw_compact_rows'

/** The SQL that reads a set of files as one relation, merging differing schemas by column name. */
export function sourceSql(sources: MergeSource[]): string {
  const parquet = sources.filter((source) => source.format === 'parquet').map((source) => source.path)
  const json = sources.filter((source) => source.format === 'json').map((source) => source.path)
  const parts: string[] = []
  // hive_partitioning off: the partition's key=value folders are not columns of its files (and must not become
  // columns of the compacted file that goes back into the same folder).
  if (parquet.length > 0) parts.push(`SELECT * FROM read_parquet(${sqlList(parquet)}, union_by_name = true, hive_partitioning = false)`)
  // sample_size -1: a field that first appears deep in a file is still a column (a sample would silently drop it).
  if (json.length > 0) parts.push(`SELECT * FROM read_json(${sqlList(json)}, union_by_name = true, hive_partitioning = false, sample_size = -1)`)
  return parts.join(' UNION ALL BY NAME ')
}

/** The canonical hash of a row: DuckDB's `hash()` over its columns in name order. */
function rowHash(columns: ColumnType[]): string {
  const names = columns.map((column) => column.name).sort()
  return `hash(${names.map(sqlIdentifier).join(', ')})`
}

async function describe(db: DuckDB, relation: string): Promise<ColumnType[]> {
  const rows = await db.query<{column_name: string; column_type: string}>(`DESCRIBE SELECT * FROM ${relation}`)
  return rows.map((row) => ({name: row.column_name, type: row.column_type}))
}

async function checksumOf(db: DuckDB, relation: string, columns: ColumnType[]): Promise<RowChecksum> {
  const [row] = await db.query<{rows: number | string; sum: string | null; xor: string | null}>(
    `SELECT count(*) AS rows, sum(h)::VARCHAR AS sum, bit_xor(h)::VARCHAR AS xor FROM (SELECT ${rowHash(columns)} AS h FROM ${relation})`,
  )
  return {rows: Number(row.rows), sum: row.sum ?? '0', xor: row.xor ?? '0'}
}

/** Adds checksums of disjoint row sets (the files of one output set). */
export function combineChecksums(parts: RowChecksum[]): RowChecksum {
  let sum = 0n
  let xor = 0n
  let rows = 0
  for (const part of parts) {
    rows += part.rows
    sum += BigInt(part.sum)
    xor ^= BigInt(part.xor)
  }
  return {rows, sum: sum.toString(), xor: xor.toString()}
}

/** Whether two checksums describe the same rows. */
export function sameChecksum(a: RowChecksum, b: RowChecksum): boolean {
  return a.rows === b.rows && a.sum === b.sum && a.xor === b.xor
}

/**
 * Merges local input files into zstd Parquet files of about the target size under `outDir` (created), and
 * returns the checksum of the rows DuckDB read from the inputs. Nested columns keep their STRUCT/LIST/MAP types.
 */
export async function mergeToParquet(db: DuckDB, sources: MergeSource[], outDir: string, options: MergeOptions): Promise<MergeResult> {
  await fs.rm(outDir, {recursive: true, force: true})
  const source = `(${sourceSql(sources)})`
  const copyOptions = `FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES ${Math.max(1, Math.floor(options.targetSizeBytes))}, FILENAME_PATTERN 'part_{i}'`
  let inputs: RowChecksum
  let columns: ColumnType[]
  if (options.strategy === 'materialize') {
    options.onStage?.('reading')
    await db.run(`CREATE OR REPLACE TEMP TABLE ${TABLE} AS SELECT * FROM ${source}`)
    try {
      columns = await describe(db, TABLE)
      options.onStage?.('writing')
      await db.run(`COPY ${TABLE} TO ${sqlString(outDir)} (${copyOptions})`)
      options.onStage?.('checksumming')
      inputs = await checksumOf(db, TABLE, columns)
    } finally {
      await db.run(`DROP TABLE IF EXISTS ${TABLE}`)
    }
  } else {
    columns = await describe(db, source)
    options.onStage?.('writing')
    await db.run(`COPY (SELECT * FROM ${source}) TO ${sqlString(outDir)} (${copyOptions})`)
    options.onStage?.('checksumming')
    inputs = await checksumOf(db, source, columns)
  }
  const names = await fs.readdir(outDir).catch(() => [] as string[])
  const files = names
    .filter((name) => /^part_\d+\.parquet$/.test(name))
    .sort((a, b) => Number(a.slice(5, -8)) - Number(b.slice(5, -8)))
    .map((name) => path.join(outDir, name))
  return {inputs, columns, files}
}

/** A difference between the columns of the inputs and those of an output file, or `undefined` when they agree. */
export function columnDifference(expected: ColumnType[], actual: ColumnType[]): string | undefined {
  const got = new Map(actual.map((column) => [column.name, column.type]))
  for (const column of expected) {
    const type = got.get(column.name)
    if (type === undefined) return `column ${column.name} is missing`
    if (type !== column.type) return `column ${column.name} is ${type}, the inputs have ${column.type}`
  }
  if (actual.length !== expected.length) return `it has ${actual.length} columns, the inputs ${expected.length}`
  return undefined
}

/** Reads a Parquet file back with DuckDB: its columns and the checksum of its rows. */
export async function inspectParquet(db: DuckDB, file: string, columns?: ColumnType[]): Promise<{columns: ColumnType[]; checksum: RowChecksum; size: number}> {
  const relation = `read_parquet(${sqlString(file)}, hive_partitioning = false)`
  const actual = await describe(db, relation)
  const checksum = await checksumOf(db, relation, columns && !columnDifference(columns, actual) ? columns : actual)
  return {columns: actual, checksum, size: (await fs.stat(file)).size}
}
