// The peer of `npm run bench:compact` (bench/compact.ts): bare DuckDB merging the same files, as a user would type it —
// COPY (SELECT * FROM read_parquet([...])) TO … (FORMAT parquet) — with the same memory limit, nothing else.
// Usage: node bench/compact-bare.mjs <dir of .parquet files> <output file> <memory limit, e.g. 512MB> [tuned]
// `tuned` gives DuckDB bucketwright's settings (preserve_insertion_order false, zstd), to show what they alone buy.
import {DuckDBInstance} from '@duckdb/node-api'
import fs from 'node:fs'
import path from 'node:path'

const [dir, output, memoryLimit = '512MB', variant] = process.argv.slice(2)
const tuned = variant === 'tuned'
const quote = (value) => `'${value.replaceAll("'", "''")}'`
const files = fs
  .readdirSync(dir)
  .filter((name) => name.endsWith('.parquet'))
  .sort()
  .map((name) => quote(path.join(dir, name)))
const instance = await DuckDBInstance.create(':memory:', tuned ? {memory_limit: memoryLimit, preserve_insertion_order: 'false'} : {memory_limit: memoryLimit})
const connection = await instance.connect()
const started = performance.now()
const reader = await connection.runAndReadAll(`COPY (SELECT * FROM read_parquet([${files.join(', ')}])) TO ${quote(output)} (FORMAT parquet${tuned ? ', COMPRESSION zstd' : ''})`)
const rows = Number(reader.getRows()[0][0])
process.stdout.write(JSON.stringify({rows, copySeconds: (performance.now() - started) / 1000}) + '\n')
connection.closeSync()
instance.closeSync()
