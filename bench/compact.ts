/**
 * npm run bench:compact — bucketwright compact against bare DuckDB on one partition of many small Parquet files.
 *
 * Each runs as its own process on the same files (hard links, so compact's deletes leave the source intact), rounds
 * interleaved with the order rotated; wall time is process start to exit, so start-up and, for bucketwright, listing,
 * verification, manifests and deleting the inputs are all included. Both with the same memory limit; the peer is
 * the bare COPY a user would type (compact-bare.mjs, plain Node), and the same COPY with bucketwright's DuckDB
 * settings (preserve_insertion_order false, zstd) beside it, for what those settings alone are worth.
 * MB = bytes of the input Parquet files.
 *
 * Env: ROUNDS (5), BENCH_FILES (2000), BENCH_ROWS_PER_FILE (500), BENCH_MEMORY_LIMIT (512MB), BENCH_DIR (OS temp),
 *      BASELINE (another checkout, built: its compact runs as a fourth contender, for before/after figures).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {BASELINE_BIN, benchRounds, BIN, compare, type Contender, formatResult, loadBuilt, log, machineLine, measureChild, ROOT, saveResults} from './harness.js'

const ROUNDS = benchRounds()
const FILES = Number(process.env.BENCH_FILES ?? 2000)
const ROWS = Number(process.env.BENCH_ROWS_PER_FILE ?? 500)
const LIMIT = process.env.BENCH_MEMORY_LIMIT ?? '512MB'
const base = process.env.BENCH_DIR ?? path.join(os.tmpdir(), 'bw-bench-compact')
const source = path.join(base, `source-${FILES}x${ROWS}`)
const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10)

function limitBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|KiB|MiB|GiB)?$/i.exec(text)
  if (!match) throw new Error(`BENCH_MEMORY_LIMIT: cannot read "${text}" (e.g. 512MB)`)
  const unit = ({kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3} as Record<string, number>)[(match[2] ?? 'b').toLowerCase()] ?? 1
  return Number(match[1]) * unit
}

/** The partition: FILES small Parquet files with nested structs and lists, like an API fetcher's batches; kept between runs. */
async function makeSource(): Promise<void> {
  const marker = path.join(source, '.complete')
  if (fs.existsSync(marker)) return
  fs.rmSync(source, {recursive: true, force: true})
  fs.mkdirSync(source, {recursive: true})
  log(`writing ${FILES} files × ${ROWS} rows to ${source}`)
  const {DuckDBInstance} = await import('@duckdb/node-api')
  const connection = await (await DuckDBInstance.create(':memory:')).connect()
  await connection.run(`CREATE TABLE rows AS SELECT i AS id, 'bus-' || (i % 97) AS vehicle,
    {'lat': 45.0 + (i % 1000) / 1000.0, 'lon': -122.0 - (i % 777) / 1000.0, 'meta': {'speed': (i % 60)::INTEGER, 'tags': ['a', 'b' || (i % 5)]}} AS position,
    [i % 3, i % 7]::INTEGER[] AS codes, TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND AS observed_at FROM range(${FILES * ROWS}) t(i)`)
  for (let file = 0; file < FILES; file++) {
    const name = path.join(source, `batch_${String(file).padStart(6, '0')}.parquet`)
    await connection.run(`COPY (SELECT * FROM rows WHERE id >= ${file * ROWS} AND id < ${(file + 1) * ROWS}) TO '${name}' (FORMAT parquet)`)
  }
  fs.writeFileSync(marker, '')
}

const expectRows = (who: string, rows: number) => {
  if (rows !== FILES * ROWS) throw new Error(`${who} wrote ${rows} rows, the partition holds ${FILES * ROWS}`)
}

const compactWith = (name: string, bin: string): Contender => ({
  name,
  async run(round) {
    const dataset = path.join(base, `${name.replaceAll(' ', '-')}-${round}`)
    fs.rmSync(dataset, {recursive: true, force: true})
    const partition = path.join(dataset, 'staging', day)
    fs.mkdirSync(partition, {recursive: true})
    for (const name of fs.readdirSync(source)) if (name.endsWith('.parquet')) fs.linkSync(path.join(source, name), path.join(partition, name))
    const out = await measureChild(process.execPath, [bin, 'compact', dataset, '--memory-limit', LIMIT, '--json'])
    if (out.status !== 0) throw new Error(`compact exited ${out.status}: ${out.stderr.slice(-2000)}`)
    const [entry] = (JSON.parse(out.stdout) as {partitions: {status: string; rows: number}[]}).partitions
    if (entry.status !== 'compacted') throw new Error(`compact: ${JSON.stringify(entry).slice(0, 500)}`)
    expectRows(this.name, entry.rows)
    fs.rmSync(dataset, {recursive: true, force: true})
    return out
  },
})
const bucketwright = compactWith('bucketwright compact', BIN)

const bare = (name: string, tuned: boolean): Contender => ({
  name,
  async run(round) {
    const output = path.join(base, `bare-${round}.parquet`)
    const out = await measureChild(process.execPath, [path.join(ROOT, 'bench', 'compact-bare.mjs'), source, output, LIMIT, ...(tuned ? ['tuned'] : [])])
    if (out.status !== 0) throw new Error(`compact-bare.mjs exited ${out.status}: ${out.stderr.slice(-2000)}`)
    expectRows(name, (JSON.parse(out.stdout) as {rows: number}).rows)
    fs.rmSync(output, {force: true})
    return out
  },
})

await loadBuilt('plugins/core/index.js')
await makeSource()
const bytes = fs.readdirSync(source).reduce((sum, name) => sum + (name.endsWith('.parquet') ? fs.statSync(path.join(source, name)).size : 0), 0)
const result = await compare({
  title: `compact: ${FILES} Parquet files into one, --memory-limit ${LIMIT}`,
  work: {bytes, items: FILES * ROWS, itemUnit: 'rows'},
  contenders: [bucketwright, bare('DuckDB COPY', false), bare('DuckDB COPY, tuned', true), ...(BASELINE_BIN ? [compactWith('baseline', BASELINE_BIN)] : [])],
  rounds: ROUNDS,
})
const limitMb = limitBytes(LIMIT) / 1024 ** 2
const peak = result.contenders[0].peakRssMb
const rss = peak === undefined ? 'peak RSS not measured (no /usr/bin/time)' : `bucketwright's peak RSS ${Math.round(peak)} MiB ${peak <= limitMb ? '≤' : '>'} the limit of ${Math.round(limitMb)} MiB (${LIMIT})`
console.log(
  [
    machineLine(),
    `${formatResult(result)}\n  bucketwright compact = merge + verify + manifest + delete the inputs; DuckDB COPY = COPY (SELECT * FROM read_parquet([…])) TO … (FORMAT parquet); tuned = the same with zstd, preserve_insertion_order false\n  target: bucketwright at least 0.8× bare DuckDB's rows/s (DuckDB at most 1.25× faster); ${rss}`,
  ].join('\n\n'),
)
saveResults('compact', result)
