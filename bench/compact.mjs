// npm run bench:compact — bucketwright compact against bare DuckDB on one partition of many small Parquet files.
//
// Both run as their own process on the same files (hard links, so compact's deletes leave the source intact),
// interleaved A B / B A for BENCH_ROUNDS rounds; medians of wall time (process start to exit, so start-up and, for
// bucketwright, listing, verification, manifests and deleting the inputs are all included) and peak RSS.
//
// Env: BENCH_FILES (2000), BENCH_ROWS_PER_FILE (500), BENCH_ROUNDS (5), BENCH_MEMORY_LIMIT (512MB), BENCH_DIR.
import {DuckDBInstance} from '@duckdb/node-api'
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const FILES = Number(process.env.BENCH_FILES ?? 2000)
const ROWS = Number(process.env.BENCH_ROWS_PER_FILE ?? 500)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const LIMIT = process.env.BENCH_MEMORY_LIMIT ?? '512MB'
const base = process.env.BENCH_DIR ?? path.join(os.tmpdir(), 'bw-bench-compact')
const source = path.join(base, `source-${FILES}x${ROWS}`)
const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10)

function limitBytes(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|KiB|MiB|GiB)?$/i.exec(text)
  const unit = {kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3}[(match?.[2] ?? 'b').toLowerCase()] ?? 1
  return Number(match[1]) * unit
}

/** The partition: FILES small Parquet files with nested structs and lists, like an API fetcher's batches. */
async function makeSource() {
  const marker = path.join(source, '.complete')
  if (fs.existsSync(marker)) return
  fs.rmSync(source, {recursive: true, force: true})
  fs.mkdirSync(source, {recursive: true})
  console.error(`Writing ${FILES} files × ${ROWS} rows to ${source} …`)
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

/** Runs a process; wall time, peak RSS (VmHWM, polled; /usr/bin/time when present) and stdout. */
function measure(command, args) {
  return new Promise((resolve, reject) => {
    const timeFile = path.join(base, `time-${process.pid}.txt`)
    const useTime = fs.existsSync('/usr/bin/time')
    const child = useTime ? spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, command, ...args], {stdio: ['ignore', 'pipe', 'pipe']}) : spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
    const started = performance.now()
    let stdout = ''
    let stderr = ''
    let polledKb = 0
    const poll = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (hwm) polledKb = Math.max(polledKb, Number(hwm[1]))
      } catch {}
    }, 20)
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(poll)
      const seconds = (performance.now() - started) / 1000
      const peakKb = useTime ? Number(fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()) : polledKb
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
      resolve({seconds, peakMb: peakKb / 1024, stdout})
    })
  })
}

async function runBucketwright(round) {
  const dataset = path.join(base, `bw-${round}`)
  fs.rmSync(dataset, {recursive: true, force: true})
  const partition = path.join(dataset, 'staging', day)
  fs.mkdirSync(partition, {recursive: true})
  for (const name of fs.readdirSync(source)) if (name.endsWith('.parquet')) fs.linkSync(path.join(source, name), path.join(partition, name))
  const result = await measure(process.execPath, [path.join(root, 'bin', 'run.js'), 'compact', dataset, '--memory-limit', LIMIT, '--json'])
  const [entry] = JSON.parse(result.stdout).partitions
  if (entry.status !== 'compacted' || entry.rows !== FILES * ROWS) throw new Error(`bucketwright: ${JSON.stringify(entry).slice(0, 500)}`)
  fs.rmSync(dataset, {recursive: true, force: true})
  return {...result, rows: entry.rows}
}

async function runBare(round, tuned = false) {
  const output = path.join(base, `bare-${round}.parquet`)
  const result = await measure(process.execPath, [path.join(root, 'bench', 'compact-bare.mjs'), source, output, LIMIT, ...(tuned ? ['tuned'] : [])])
  const {rows} = JSON.parse(result.stdout)
  if (rows !== FILES * ROWS) throw new Error(`bare DuckDB wrote ${rows} rows`)
  fs.rmSync(output, {force: true})
  return {...result, rows}
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

await makeSource()
// The peer is the bare COPY the issue names; `duckdb-tuned` (same COPY with bucketwright's DuckDB settings:
// preserve_insertion_order false, zstd) is reported beside it, for what those settings alone are worth.
const runs = {bucketwright: [], duckdb: [], 'duckdb-tuned': []}
for (let round = 0; round < ROUNDS; round++) {
  const tools = Object.keys(runs)
  const order = round % 2 === 0 ? tools : [...tools].reverse()
  for (const tool of order) {
    const run = tool === 'bucketwright' ? await runBucketwright(round) : await runBare(round, tool === 'duckdb-tuned')
    runs[tool].push(run)
    console.error(`round ${round + 1}/${ROUNDS} ${tool.padEnd(12)} ${run.seconds.toFixed(2)} s  ${Math.round(run.rows / run.seconds).toLocaleString('en-US')} rows/s  peak RSS ${Math.round(run.peakMb)} MB`)
  }
}
const summary = Object.fromEntries(
  Object.entries(runs).map(([tool, list]) => {
    const seconds = median(list.map((run) => run.seconds))
    return [tool, {medianSeconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round((FILES * ROWS) / seconds), peakRssMb: Math.round(Math.max(...list.map((run) => run.peakMb)))}]
  }),
)
const ratio = summary.bucketwright.rowsPerSecond / summary.duckdb.rowsPerSecond
const limitMb = limitBytes(LIMIT) / 1024 ** 2
console.log(`\ncompact: ${FILES} Parquet files, ${(FILES * ROWS).toLocaleString('en-US')} rows, ${ROUNDS} interleaved rounds, --memory-limit ${LIMIT}, ${os.availableParallelism()} cores`)
console.log(`  bucketwright compact (merge + verify + manifest + delete): median ${summary.bucketwright.medianSeconds} s, ${summary.bucketwright.rowsPerSecond.toLocaleString('en-US')} rows/s, peak RSS ${summary.bucketwright.peakRssMb} MB`)
console.log(`  bare DuckDB COPY … TO … (FORMAT parquet):               median ${summary.duckdb.medianSeconds} s, ${summary.duckdb.rowsPerSecond.toLocaleString('en-US')} rows/s, peak RSS ${summary.duckdb.peakRssMb} MB`)
const tuned = summary['duckdb-tuned']
console.log(`  (same COPY, zstd, preserve_insertion_order false:       median ${tuned.medianSeconds} s, ${tuned.rowsPerSecond.toLocaleString('en-US')} rows/s, peak RSS ${tuned.peakRssMb} MB)`)
console.log(`  ratio ${ratio.toFixed(2)}× bare DuckDB rows/s (target ≥ 0.80); ${(summary.bucketwright.rowsPerSecond / tuned.rowsPerSecond).toFixed(2)}× the tuned COPY; peak RSS ${summary.bucketwright.peakRssMb} MB ${summary.bucketwright.peakRssMb <= limitMb ? '≤' : '>'} limit ${Math.round(limitMb)} MB`)
console.log(JSON.stringify({files: FILES, rows: FILES * ROWS, rounds: ROUNDS, memoryLimit: LIMIT, ...summary, ratio: Number(ratio.toFixed(3)), ratioToTuned: Number((summary.bucketwright.rowsPerSecond / tuned.rowsPerSecond).toFixed(3)), rssWithinLimit: summary.bucketwright.peakRssMb <= limitMb}))
