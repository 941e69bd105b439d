import fs from 'node:fs/promises'
import path from 'node:path'

import {type DuckDB, sqlList, sqlString} from '../duckdb/duckdb.js'
import type {InputFormat} from './layout.js'

/**
 * An order-independent checksum of a set of rows: the row count, and the sum (exact, 128-bit) and XOR of DuckDB's
 * 64-bit `hash()` of every row (all columns, in order). Two row sets with equal checksums hold the same rows
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
 * `single-pass` checksums the input rows in the same scan that writes them (a DuckDB filter that taps every row's
 * hash into an accumulator), so the inputs are read once, like a bare `COPY`. `two-pass` writes, then reads the
 * inputs again for their checksum; it needs no user-defined function.
 */
export type MergeStrategy = 'single-pass' | 'two-pass'

/** Options of {@link mergeToParquet}. */
export interface MergeOptions {
  /** Start a new output file past about this many bytes. */
  targetSizeBytes: number
  strategy: MergeStrategy
  /**
   * Rows per Parquet row group (DuckDB's default, 122,880, when unset). Files are cut between row groups, so the
   * target size is reached in steps of one row group.
   */
  rowGroupSize?: number
  /** Called between the stages, for progress. */
  onStage?: (stage: 'merging' | 'checksumming inputs') => void
}

/** What {@link mergeToParquet} produced: the checksum of the inputs, and the output files in order. */
export interface MergeResult {
  inputs: RowChecksum
  /** Rows the Parquet inputs' footers declare (all-Parquet partitions): a count independent of the scan. */
  footerRows?: number
  files: string[]
}

const TAP = 'bw_row_tap'

/** Running checksum of the rows a {@link TAP} filter has seen. */
class RowTap {
  private rows = 0
  private low = 0n
  private high = 0n
  private xorLow = 0
  private xorHigh = 0

  reset(): void {
    this.rows = 0
    this.low = 0n
    this.high = 0n
    this.xorLow = 0
    this.xorHigh = 0
  }

  /** Adds a vector of 64-bit row hashes, summed as 32-bit halves (exact in doubles for one vector). */
  add(hashes: BigUint64Array): void {
    const words = new Uint32Array(hashes.buffer, hashes.byteOffset, hashes.length * 2)
    let low = 0
    let high = 0
    let xorLow = 0
    let xorHigh = 0
    for (let index = 0; index < words.length; index += 2) {
      low += words[index]
      high += words[index + 1]
      xorLow ^= words[index]
      xorHigh ^= words[index + 1]
    }
    this.rows += hashes.length
    this.low += BigInt(low)
    this.high += BigInt(high)
    this.xorLow ^= xorLow
    this.xorHigh ^= xorHigh
  }

  get checksum(): RowChecksum {
    const xor = (BigInt(this.xorHigh >>> 0) << 32n) | BigInt(this.xorLow >>> 0)
    return {rows: this.rows, sum: ((this.high << 32n) + this.low).toString(), xor: xor.toString()}
  }
}

const taps = new WeakMap<DuckDB, RowTap>()

/** Registers the row tap on a DuckDB once: `bw_row_tap(hash)` is always true and adds the hash to the checksum. */
async function rowTap(db: DuckDB): Promise<RowTap> {
  let tap = taps.get(db)
  if (tap) return tap
  const {BOOLEAN, DuckDBScalarFunction, UBIGINT} = await import('@duckdb/node-api')
  const created = new RowTap()
  db.connection.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: TAP,
      returnType: BOOLEAN,
      parameterTypes: [UBIGINT],
      // Volatile: never folded or de-duplicated, so it runs exactly once for every row that is written.
      volatile: true,
      mainFunction: (_info, input, output) => {
        const hashes = input.getColumnVector(0) as unknown as {items: BigUint64Array}
        created.add(hashes.items)
        const flags = output as unknown as {setItem(index: number, value: boolean): void; flush(): void}
        // rowCount is a call into the native binding: read once, not once a row.
        const rows = input.rowCount
        for (let index = 0; index < rows; index++) flags.setItem(index, true)
        flags.flush()
      },
    }),
  )
  taps.set(db, created)
  tap = created
  return tap
}

/** The SQL that reads a set of files as one relation, merging differing schemas by column name. */
export function sourceSql(sources: MergeSource[]): string {
  const parquet = sources.filter((source) => source.format === 'parquet').map((source) => source.path)
  const json = sources.filter((source) => source.format === 'json').map((source) => source.path)
  const parts: string[] = []
  // hive_partitioning off: the partition's key=value folders are not columns of its files (and must not become
  // columns of the compacted file that goes back into the same folder).
  if (parquet.length > 0) parts.push(`SELECT * FROM read_parquet(${sqlList(parquet)}, union_by_name = true, hive_partitioning = false)`)
  // sample_size -1: a field that first appears deep in a file is still a column (a sample would silently drop it).
  // Date and timestamp detection off: a string stays the string that was written ("…Z[UTC]", nine-digit
  // nanoseconds), instead of becoming a TIMESTAMP in one file and a re-formatted VARCHAR where files disagree.
  if (json.length > 0) {
    parts.push(`SELECT * FROM read_json(${sqlList(json)}, union_by_name = true, hive_partitioning = false, sample_size = -1, dateformat = 'disabled', timestampformat = 'disabled')`)
  }
  return parts.join(' UNION ALL BY NAME ')
}

/**
 * The canonical hash of a row: DuckDB's `hash()` over all its columns in the relation's order. The output files are
 * written from the merged relation, so they have its columns in its order; any change of a value or a type shows.
 */
const ROW_HASH = 'hash(*COLUMNS(*))'

async function describe(db: DuckDB, relation: string): Promise<ColumnType[]> {
  const rows = await db.query<{column_name: string; column_type: string}>(`DESCRIBE SELECT * FROM ${relation}`)
  return rows.map((row) => ({name: row.column_name, type: row.column_type}))
}

async function checksumOf(db: DuckDB, relation: string): Promise<RowChecksum> {
  const [row] = await db.query<{rows: number | string; sum: string | null; xor: string | null}>(
    `SELECT count(*) AS rows, sum(h)::VARCHAR AS sum, bit_xor(h)::VARCHAR AS xor FROM (SELECT ${ROW_HASH} AS h FROM ${relation})`,
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
  const rowGroups = options.rowGroupSize ? `, ROW_GROUP_SIZE ${Math.floor(options.rowGroupSize)}` : ''
  const copyOptions = `FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES ${Math.max(1, Math.floor(options.targetSizeBytes))}, FILENAME_PATTERN 'part_{i}'${rowGroups}`
  let inputs: RowChecksum
  // The footers' row count (all-Parquet inputs), read on a second connection while the merge runs: thousands of
  // small files opened once more, overlapping the scan instead of following it.
  const footer = sources.every((item) => item.format === 'parquet') ? footerRows(db, sources) : Promise.resolve(undefined)
  footer.catch(() => {}) // awaited below; this only keeps a failure during the merge from counting as unhandled
  options.onStage?.('merging')
  try {
    if (options.strategy === 'single-pass') {
      const tap = await rowTap(db)
      tap.reset()
      await db.run(`COPY (SELECT * FROM ${source} WHERE ${TAP}(${ROW_HASH})) TO ${sqlString(outDir)} (${copyOptions})`)
      inputs = tap.checksum
    } else {
      await db.run(`COPY (SELECT * FROM ${source}) TO ${sqlString(outDir)} (${copyOptions})`)
      options.onStage?.('checksumming inputs')
      inputs = await checksumOf(db, source)
    }
  } catch (error) {
    await footer.catch(() => {}) // its connection closed before the caller closes the database
    throw error
  }
  const declared = await footer
  const names = await fs.readdir(outDir).catch(() => [] as string[])
  const files = names
    .filter((name) => /^part_\d+\.parquet$/.test(name))
    .sort((a, b) => Number(a.slice(5, -8)) - Number(b.slice(5, -8)))
    .map((name) => path.join(outDir, name))
  return {inputs, footerRows: declared, files}
}

/** Rows the Parquet files' footers declare, on a connection of its own (so it can run beside another query). */
async function footerRows(db: DuckDB, sources: MergeSource[]): Promise<number> {
  const connection = await db.instance.connect()
  try {
    const reader = await connection.runAndReadAll(`SELECT sum(num_rows)::BIGINT AS rows FROM parquet_file_metadata(${sqlList(sources.map((item) => item.path))})`)
    const [row] = reader.getRowObjectsJson() as {rows: number | string | null}[]
    return Number(row.rows ?? 0)
  } finally {
    connection.closeSync()
  }
}

/** A difference between two files' columns, or `undefined` when they agree. */
export function columnDifference(expected: ColumnType[], actual: ColumnType[]): string | undefined {
  const got = new Map(actual.map((column) => [column.name, column.type]))
  for (const column of expected) {
    const type = got.get(column.name)
    if (type === undefined) return `column ${column.name} is missing`
    if (type !== column.type) return `column ${column.name} is ${type}, not ${column.type}`
  }
  if (actual.length !== expected.length) return `it has ${actual.length} columns, not ${expected.length}`
  return undefined
}

/** Reads a Parquet file back with DuckDB: its columns and the checksum of its rows. */
export async function inspectParquet(db: DuckDB, file: string): Promise<{columns: ColumnType[]; checksum: RowChecksum; size: number}> {
  const relation = `read_parquet(${sqlString(file)}, hive_partitioning = false)`
  const columns = await describe(db, relation)
  const checksum = await checksumOf(db, relation)
  return {columns, checksum, size: (await fs.stat(file)).size}
}
