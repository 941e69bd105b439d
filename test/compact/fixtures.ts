import {DuckDBInstance, type DuckDBConnection} from '@duckdb/node-api'
import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {gzipSync} from 'node:zlib'

import {type Storage} from '../../src/plugins/core/index.js'
import {dayIn} from '../../src/plugins/core/compact/age.js'

let connection: DuckDBConnection | undefined
const tempDirs: string[] = []

/** A fresh temp directory, removed by {@link removeTempDirs} (call it in the suite's afterAll). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

/** Removes every directory {@link tempDir} made. */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((dir) => fs.rm(dir, {recursive: true, force: true})))
}

/** A DuckDB of the test itself, separate from the one compact opens. */
export async function testDuck(): Promise<DuckDBConnection> {
  connection ??= await (await DuckDBInstance.create(':memory:')).connect()
  return connection
}

export async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  return (await (await testDuck()).runAndReadAll(sql)).getRowObjectsJson() as T[]
}

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`

/** Days relative to today in UTC (`daysAgo(2)`). */
export function daysAgo(days: number, zone = 'UTC'): string {
  return dayIn(new Date(Date.now() - days * 86_400_000), zone)
}

/** The shape of the rows a file holds: the base nested schema, or a drifted one (a column added, one gone). */
export type Shape = 'nested' | 'drifted'

function rowsSql(first: number, count: number, shape: Shape): string {
  const common = `i AS id, 'bus-' || (i % 13) AS vehicle,
    {'lat': 45.5 + (i % 100) / 1000.0, 'lon': -122.6 - (i % 77) / 1000.0, 'meta': {'speed': (i % 60)::INTEGER, 'tags': ['t' || (i % 3), 'x']}} AS position`
  const rest = shape === 'nested' ? `[i % 3, i % 7]::INTEGER[] AS codes` : `(i % 90) * 1.5 AS speed_kmh`
  return `SELECT ${common}, ${rest} FROM range(${first}, ${first + count}) t(i)`
}

/** Writes one Parquet file of `count` rows (ids from `first`) to a storage key. */
export async function putParquet(storage: Storage, key: string, first: number, count: number, shape: Shape = 'nested'): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-fixture-'))
  const file = path.join(dir, 'f.parquet')
  await (await testDuck()).run(`COPY (${rowsSql(first, count, shape)}) TO ${quote(file)} (FORMAT parquet)`)
  await storage.write(key, createReadStream(file))
  await fs.rm(dir, {recursive: true, force: true})
}

/** Writes NDJSON (gzipped when the key ends in .gz) with nested objects; ids from `first`. */
export async function putNdjson(storage: Storage, key: string, first: number, count: number): Promise<void> {
  const lines: string[] = []
  for (let i = first; i < first + count; i++) {
    const record: Record<string, unknown> = {id: i, vehicle: `bus-${i % 13}`, position: {lat: 45.5 + (i % 100) / 1000, lon: -122.5, meta: {speed: i % 60, tags: ['a', `b${i % 4}`]}}}
    if (i % 5 === 0) record.note = `n${i}`
    lines.push(JSON.stringify(record))
  }
  const text = lines.join('\n') + '\n'
  await storage.write(key, key.endsWith('.gz') ? gzipSync(text) : text)
}

/** Keys under a prefix, in order. */
export async function keysOf(storage: Storage, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  for await (const info of storage.list(prefix)) keys.push(info.key)
  return keys
}

/** Copies objects to local files (so the test's DuckDB can read S3 objects too); returns their paths. */
export async function localCopies(storage: Storage, keys: string[]): Promise<string[]> {
  const dir = await tempDir('bw-inspect-')
  const out: string[] = []
  for (const [index, key] of keys.entries()) {
    const file = path.join(dir, `${index}-${path.basename(key)}`)
    await fs.writeFile(file, await storage.readBytes(key))
    out.push(file)
  }
  return out
}

/** A relation over local files of any input format, the way a user would read them. */
export function relationOf(files: string[]): string {
  const parquet = files.filter((file) => file.endsWith('.parquet'))
  const json = files.filter((file) => !file.endsWith('.parquet'))
  const parts: string[] = []
  if (parquet.length > 0) parts.push(`SELECT * FROM read_parquet([${parquet.map(quote).join(', ')}], union_by_name = true, hive_partitioning = false)`)
  if (json.length > 0) parts.push(`SELECT * FROM read_json([${json.map(quote).join(', ')}], union_by_name = true, hive_partitioning = false, sample_size = -1, dateformat = 'disabled', timestampformat = 'disabled')`)
  return `(${parts.join(' UNION ALL BY NAME ')})`
}

/** Snapshot of a set of rows: count, distinct ids, and the sorted ids' fingerprint. */
export async function rowSummary(files: string[]): Promise<{rows: number; distinctIds: number; idSum: number}> {
  const [row] = await query<{rows: string; ids: string; total: string}>(`SELECT count(*) AS rows, count(DISTINCT id) AS ids, sum(id)::VARCHAR AS total FROM ${relationOf(files)}`)
  return {rows: Number(row.rows), distinctIds: Number(row.ids), idSum: Number(row.total)}
}

/** Rows of `a` that are not in `b` plus rows of `b` not in `a` (bag semantics, columns matched by name). */
export async function rowDifference(a: string[], b: string[]): Promise<number> {
  const columns = (await query<{column_name: string}>(`DESCRIBE SELECT * FROM ${relationOf(a)}`)).map((row) => `"${row.column_name}"`).join(', ')
  const [row] = await query<{n: string}>(
    `SELECT (SELECT count(*) FROM (SELECT ${columns} FROM ${relationOf(a)} EXCEPT ALL SELECT ${columns} FROM ${relationOf(b)})) + (SELECT count(*) FROM (SELECT ${columns} FROM ${relationOf(b)} EXCEPT ALL SELECT ${columns} FROM ${relationOf(a)})) AS n`,
  )
  return Number(row.n)
}

/** Column types as DuckDB reads them from files. */
export async function columnTypes(files: string[]): Promise<Record<string, string>> {
  const rows = await query<{column_name: string; column_type: string}>(`DESCRIBE SELECT * FROM ${relationOf(files)}`)
  return Object.fromEntries(rows.map((row) => [row.column_name, row.column_type]))
}

/** Parquet codec of a file's first column chunk. */
export async function codecOf(file: string): Promise<string> {
  const [row] = await query<{compression: string}>(`SELECT compression FROM parquet_metadata(${quote(file)}) LIMIT 1`)
  return row.compression
}

/**
 * The Compactor service on `storage` with the CLI's defaults (inputs a day old, 2 files at least, single pass), for
 * tests that drive its steps themselves (discover, then compact with a progress callback).
 */
export async function testCompactor(storage: Storage) {
  const {Compactor} = await import('../../src/plugins/core/compact/compactor.js')
  const {partitionScheme} = await import('../../src/plugins/core/compact/layout.js')
  return new Compactor(storage, partitionScheme(), {
    minAgeMs: 86_400_000,
    timeZone: 'UTC',
    minFiles: 2,
    targetSizeBytes: 128e6,
    memoryLimitBytes: 512e6,
    diskBudgetBytes: 1e9,
    dryRun: false,
    shard: {index: 0, count: 1},
    strategy: 'single-pass',
    deleteBatchSize: 1000,
    now: new Date(),
    tool: {name: 'bucketwright', version: 'test'},
  })
}
