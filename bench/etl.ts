/**
 * npm run bench:etl — etl against its peers in one run on one machine (rounds interleaved, order rotated, medians):
 * (1) NDJSON segments → Hive-partitioned Parquet, beside bare DuckDB read_json → COPY … PARTITION_BY on the same
 *     files; both in this process, so CPU = this process, DuckDB's threads included;
 * (2) the Postgres load (COPY into a temp table, INSERT … ON CONFLICT, ledger, one transaction per segment) into
 *     tables that already hold half the keys — every other row of each segment, so half the rows update existing
 *     ones (their rows there hold older values: one column cleared) — beside plain COPY of the same rows into tables
 *     without keys holding the same half. CPU = this process
 *     plus its Postgres backend (pg_backend_pid), where a load spends most of its CPU.
 * (3) `load` of staging Parquet (the largest channel's rows of the same segments, one Parquet file per segment) into
 *     an empty keyed table — DuckDB reads, dedupes and writes CSV, COPY into a temp table, INSERT … ON CONFLICT,
 *     ledger, one transaction per file — beside plain COPY of the same rows (as CSV) into an empty table without a
 *     key. CPU = this process only (DuckDB's threads included; the loader's backend ends with its connection, so
 *     neither side's backend is counted): compare rows/s.
 * Also the generator's records/s. MB = bytes of the NDJSON segments (Parquet), of the CSV rows loaded (Postgres).
 * Env: ROUNDS (5), BENCH_ETL_MB (200), BENCH_PG_MB (40), BENCH_ONLY (parquet or postgres: run one half),
 *      BENCH_CONCURRENCY (segments in work, default the sink's), BENCH_DIR (default the OS temp folder).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import type {Client} from 'pg'

import {benchRounds, compare, type Contender, formatResult, loadBuilt, log, machineLine, measureInProcess, processCpuSeconds, saveResults} from './harness.js'
import {startPostgres} from './servers.js'

type DecodedSegment = import('../src/plugins/core/etl/decode-segment.js').DecodedSegment
type ChannelTable = import('../src/plugins/core/etl/columns.js').ChannelTable

// The etl service's modules (internal: not part of bucketwright/core), from dist/.
const core = {
  ...(await loadBuilt<typeof import('../src/plugins/core/etl/columns.js')>('plugins/core/etl/columns.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/etl/decode-segment.js')>('plugins/core/etl/decode-segment.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/etl/etl.js')>('plugins/core/etl/etl.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/etl/parquet-sink.js')>('plugins/core/etl/parquet-sink.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/etl/postgres-sink.js')>('plugins/core/etl/postgres-sink.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/storage/local.js')>('plugins/core/storage/local.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/duckdb/duckdb.js')>('plugins/core/duckdb/duckdb.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/load/load.js')>('plugins/core/load/load.js')),
}
const {coinbaseSource} = await loadBuilt<typeof import('../src/plugins/coinbase/index.js')>('plugins/coinbase/index.js')
const {default: pg} = await import('pg')
const {from: copyFrom} = await import('pg-copy-streams')

const ROUNDS = benchRounds()
const MB = Number(process.env.BENCH_ETL_MB ?? 200)
const PG_MB = Number(process.env.BENCH_PG_MB ?? 40)
const ONLY = process.env.BENCH_ONLY
const work = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'bw-bench-etl-'))
const source = coinbaseSource()
const tables = core.channelTables(source)
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** Synthetic Advanced Trade segments of about `mb` MB (deterministic), written once; their paths. */
async function generate(dir: string, mb: number, seed: number) {
  const frames = Math.round((mb * 1e6) / 790)
  let bytes = 0
  const started = performance.now()
  const files: string[] = []
  for await (const object of source.generate!({range: {from: new Date('2025-12-03T10:00:00Z'), to: new Date('2025-12-03T11:00:00Z')}, seed, rate: frames})) {
    const file = path.join(dir, object.key)
    fs.mkdirSync(path.dirname(file), {recursive: true})
    fs.writeFileSync(file, object.body)
    bytes += typeof object.body === 'string' ? Buffer.byteLength(object.body) : object.body.length
    files.push(file)
  }
  return {files, bytes, seconds: (performance.now() - started) / 1000}
}

/** Ready segments for a run: hard links to the generated files (a claim renames the link, not the original). */
function stage(files: string[], dir: string): void {
  const ready = path.join(dir, 'raw/ready/coinbase')
  fs.mkdirSync(ready, {recursive: true})
  for (const file of files) fs.linkSync(file, path.join(ready, path.basename(file)))
}

/** Rows every Parquet run must write: the first run's count, checked against every other run. */
const parquetRows: {expected?: number} = {}
function expectParquetRows(who: string, rows: number): number {
  parquetRows.expected ??= rows
  if (rows !== parquetRows.expected) throw new Error(`${who} wrote ${rows} rows, another run ${parquetRows.expected}`)
  return rows
}

function parquetContenders(files: string[]): Contender[] {
  return [
    {
      name: 'bucketwright etl',
      async run(round) {
        const dir = path.join(work, `ours-${round}`)
        stage(files, dir)
        const raw = new core.LocalStorage(dir)
        const concurrency = process.env.BENCH_CONCURRENCY ? Number(process.env.BENCH_CONCURRENCY) : undefined
        const sink = new core.ParquetSink({output: new core.LocalStorage(path.join(dir, 'out')), source: 'coinbase', toolVersion: 'bench', tempRoot: work, concurrency})
        const measured = await measureInProcess(async () => {
          const results = await core.runEtlPass({raw, source, sink, staleAfterMs: 600_000})
          await sink.close()
          return results
        })
        const failed = measured.value.find((result) => result.status !== 'done')
        if (failed) throw new Error(`etl failed: ${JSON.stringify(failed)}`)
        fs.rmSync(dir, {recursive: true, force: true})
        return {
          ...measured,
          items: expectParquetRows(
            this.name,
            measured.value.reduce((sum, result) => sum + Object.values(result.records).reduce((a, b) => a + b, 0), 0),
          ),
        }
      },
    },
    {
      // Bare DuckDB: read the raw frames with read_json, unnest each channel, COPY … PARTITION_BY (product_id, date).
      name: 'DuckDB read_json + COPY',
      async run(round) {
        const dir = path.join(work, `duck-${round}`)
        fs.mkdirSync(dir, {recursive: true})
        const db = await core.openDuckDB({memoryLimit: '1GB', tempDir: path.join(dir, 'spill')})
        const list = core.sqlList(files)
        const copy = (channel: string, select: string) => db.run(`COPY (${select}) TO '${path.join(dir, channel)}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (product_id, date), OVERWRITE_OR_IGNORE)`)
        const measured = await measureInProcess(async () => {
          await db.run(`CREATE TEMP TABLE frames AS SELECT channel, timestamp, sequence_num, unnest(events) AS e FROM read_json(${list}, format = 'newline_delimited')`)
          await copy(
            'level2',
            `SELECT *, CAST(event_time AS DATE) AS date FROM (SELECT e.product_id AS product_id, sequence_num AS sequence, e.type AS event_type, unnest(e.updates, recursive := true) FROM frames WHERE channel = 'l2_data')`,
          )
          await copy(
            'ticker',
            `SELECT *, CAST(timestamp[1:10] AS DATE) AS date FROM (SELECT timestamp, sequence_num AS sequence, e.type AS event_type, unnest(e.tickers, recursive := true) FROM frames WHERE channel = 'ticker')`,
          )
          await copy(
            'market_trades',
            `SELECT *, CAST("time" AS DATE) AS date FROM (SELECT sequence_num AS sequence, e.type AS event_type, unnest(e.trades, recursive := true) FROM frames WHERE channel = 'market_trades')`,
          )
        })
        const [{rows}] = await db.query<{rows: bigint}>(`SELECT count(*)::BIGINT AS rows FROM read_parquet('${dir}/*/**/*.parquet')`)
        await db.close()
        fs.rmSync(dir, {recursive: true, force: true})
        return {...measured, items: expectParquetRows(this.name, Number(rows))}
      },
    },
  ]
}

/** Every other CSV line of each staged channel, as files: the half of the keys the tables hold before a load. */
function halfOfEachSegment(decoded: DecodedSegment[]): Map<string, string> {
  const halves = new Map<string, string>()
  for (const segment of decoded) {
    for (const staged of segment.channels) {
      if (staged.rows === 0) continue
      const lines = fs.readFileSync(staged.file, 'utf8').split('\n').filter(Boolean)
      // Halving by lines needs one row per line: the coinbase columns hold no line breaks.
      if (lines.length !== staged.rows) throw new Error(`${staged.file}: ${lines.length} lines for ${staged.rows} rows (rows with line breaks cannot be halved by line)`)
      const half = `${staged.file}.half`
      fs.writeFileSync(half, lines.filter((_, i) => i % 2 === 0).join('\n') + '\n')
      halves.set(staged.file, half)
    }
  }
  return halves
}

/** COPYs a CSV file into a table (through a keyless stage and ON CONFLICT DO NOTHING when the table has a key). */
async function copyInto(client: Client, table: string, file: string, columns: ChannelTable['columns'], keyed: boolean): Promise<void> {
  const names = columns.map((column) => quote(column.name)).join(', ')
  if (!keyed) {
    await pipeline(fs.createReadStream(file), client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN (FORMAT csv)`)))
    return
  }
  await client.query(`CREATE TEMPORARY TABLE bench_half (${columns.map((column) => `${quote(column.name)} ${column.pgType}`).join(', ')})`)
  await pipeline(fs.createReadStream(file), client.query(copyFrom(`COPY bench_half FROM STDIN (FORMAT csv)`)))
  await client.query(`INSERT INTO ${table} (${names}) SELECT ${names} FROM bench_half ON CONFLICT DO NOTHING`)
  await client.query('DROP TABLE bench_half')
}

function postgresContenders(url: string, decoded: DecodedSegment[], halves: Map<string, string>, preloaded: {rows: number}, rows: number): Contender[] {
  const expectRows = (who: string, loaded: number) => {
    if (loaded !== rows) throw new Error(`${who} loaded ${loaded} rows of ${rows}`)
    return loaded
  }
  const connect = async (name: string) => {
    const client = new pg.Client({connectionString: url, application_name: name})
    await client.connect()
    return client
  }
  /** Fills the tables with the half of the keys, outside the timing; the count of rows they then hold. */
  const preload = async (client: Client, tableOf: (table: ChannelTable) => string, keyed: boolean) => {
    for (const segment of decoded) for (const staged of segment.channels) if (staged.rows > 0) await copyInto(client, tableOf(staged.table), halves.get(staged.file)!, staged.table.columns, keyed)
    // The rows already there hold older values (one non-key column cleared), so the load's updates change every row
    // they touch — not identical rows an upsert could skip. Vacuumed, so both tables start without dead rows.
    for (const table of tables) {
      const changed = table.columns.find((column) => !table.recordKey.includes(column.name))
      if (changed) await client.query(`UPDATE ${tableOf(table)} SET ${quote(changed.name)} = NULL`)
      await client.query(`VACUUM (ANALYZE) ${tableOf(table)}`)
    }
    let rows = 0
    for (const table of tables) rows += Number((await client.query(`SELECT count(*) AS n FROM ${tableOf(table)}`)).rows[0].n)
    preloaded.rows = rows
  }
  return [
    {
      name: 'bucketwright upsert',
      async run(round) {
        const schema = `ours_${round < 0 ? `w${-round}` : round}`
        const sink = new core.PostgresSink({url, source: 'coinbase', tables, schema})
        // Table creation and the preload are outside the timing, as for plain COPY.
        await sink.prepare()
        const helper = await connect('bench preload')
        try {
          await preload(helper, (table) => sink.tableName(table.channel), true)
          const backend = (await helper.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'bucketwright etl' AND datname = current_database()`)).rows
          if (backend.length !== 1) throw new Error(`expected one bucketwright etl backend, found ${backend.length}`)
          const pid = Number(backend[0].pid)
          const backendCpu = processCpuSeconds(pid)
          const measured = await measureInProcess(async () => {
            let rows = 0
            for (const segment of decoded) {
              const result = await sink.load(segment)
              if (result.alreadyLoaded) throw new Error(`${segment.segment} was in the ledger already`)
              rows += Object.values(result.rows).reduce((a, b) => a + b, 0)
            }
            return rows
          })
          const cpuSeconds = measured.cpuSeconds + processCpuSeconds(pid) - backendCpu
          await sink.close()
          await helper.query(`DROP SCHEMA ${quote(schema)} CASCADE`)
          return {...measured, cpuSeconds, items: expectRows(this.name, measured.value)}
        } finally {
          await sink.close()
          await helper.end()
        }
      },
    },
    {
      name: 'plain COPY',
      async run(round) {
        const schema = `copy_${round < 0 ? `w${-round}` : round}`
        const client = await connect('bench plain copy')
        try {
          await client.query(`CREATE SCHEMA ${quote(schema)}`)
          const tableOf = (table: ChannelTable) => `${quote(schema)}.${quote(table.channel)}`
          for (const table of tables) await client.query(`CREATE TABLE ${tableOf(table)} (${table.columns.map((column) => `${quote(column.name)} ${column.pgType}`).join(', ')})`)
          await preload(client, tableOf, false)
          const pid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)
          const backendCpu = processCpuSeconds(pid)
          const measured = await measureInProcess(async () => {
            let rows = 0
            for (const segment of decoded) {
              for (const staged of segment.channels) {
                if (staged.rows === 0) continue
                await copyInto(client, tableOf(staged.table), staged.file, staged.table.columns, false)
                rows += staged.rows
              }
            }
            return rows
          })
          const cpuSeconds = measured.cpuSeconds + processCpuSeconds(pid) - backendCpu
          await client.query(`DROP SCHEMA ${quote(schema)} CASCADE`)
          return {...measured, cpuSeconds, items: expectRows(this.name, measured.value)}
        } finally {
          await client.end()
        }
      },
    },
  ]
}

/** The largest channel's rows of the decoded segments as one Parquet file per segment (outside the timing). */
async function parquetStaging(decoded: DecodedSegment[], dir: string): Promise<{table: ChannelTable; csvs: string[]; rows: number; bytes: number}> {
  const rowsOf = (channel: string) => decoded.reduce((sum, segment) => sum + (segment.channels.find((staged) => staged.table.channel === channel)?.rows ?? 0), 0)
  const table = [...tables].sort((a, b) => rowsOf(b.channel) - rowsOf(a.channel))[0]
  const db = await core.openDuckDB({threads: 2})
  const csvs: string[] = []
  let bytes = 0
  try {
    fs.mkdirSync(dir, {recursive: true})
    const columns = `{${table.columns.map((column) => `'${column.name}': '${column.sqlType === 'JSON' ? 'VARCHAR' : column.sqlType}'`).join(', ')}}`
    for (const segment of decoded) {
      const staged = segment.channels.find((channel) => channel.table.channel === table.channel)
      if (!staged || staged.rows === 0) continue
      csvs.push(staged.file)
      bytes += fs.statSync(staged.file).size
      const out = path.join(dir, `${segment.segment.replace(/\.ndjson$/, '')}.parquet`)
      await db.run(`COPY (SELECT * FROM read_csv('${staged.file}', header = false, columns = ${columns})) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`)
    }
  } finally {
    await db.close()
  }
  return {table, csvs, rows: rowsOf(table.channel), bytes}
}

function loadContenders(url: string, staging: string, table: ChannelTable, csvs: string[], rows: number): Contender[] {
  const expectRows = (who: string, loaded: number) => {
    if (loaded !== rows) throw new Error(`${who} loaded ${loaded} rows of ${rows}`)
    return loaded
  }
  return [
    {
      name: 'bucketwright load (Parquet)',
      async run(round) {
        const schema = `load_${round < 0 ? `w${-round}` : round}`
        const helper = new pg.Client({connectionString: url, application_name: 'bench helper'})
        await helper.connect()
        try {
          const measured = await measureInProcess(async () => {
            const result = await core.runLoad({staging: new core.LocalStorage(staging), url, table: table.channel, schema, key: table.recordKey})
            if (result.totals.failed > 0) throw new Error(`load failed: ${JSON.stringify(result.files.find((file) => file.status === 'failed'))}`)
            return result.totals.rows
          })
          await helper.query(`DROP SCHEMA ${quote(schema)} CASCADE`)
          return {...measured, items: expectRows(this.name, measured.value)}
        } finally {
          await helper.end()
        }
      },
    },
    {
      name: 'plain COPY (CSV)',
      async run(round) {
        const schema = `loadcopy_${round < 0 ? `w${-round}` : round}`
        const client = new pg.Client({connectionString: url, application_name: 'bench plain copy'})
        await client.connect()
        try {
          await client.query(`CREATE SCHEMA ${quote(schema)}`)
          const target = `${quote(schema)}.${quote(table.channel)}`
          await client.query(`CREATE TABLE ${target} (${table.columns.map((column) => `${quote(column.name)} ${column.pgType}`).join(', ')})`)
          const measured = await measureInProcess(async () => {
            let loaded = 0
            for (const csv of csvs) {
              const stream = client.query(copyFrom(`COPY ${target} FROM STDIN (FORMAT csv)`))
              await pipeline(fs.createReadStream(csv), stream)
              loaded += Number(stream.rowCount)
            }
            return loaded
          })
          await client.query(`DROP SCHEMA ${quote(schema)} CASCADE`)
          return {...measured, items: expectRows(this.name, measured.value)}
        } finally {
          await client.end()
        }
      },
    },
  ]
}

const report = [machineLine()]
const results: unknown[] = []
try {
  log(`generating ${MB} MB of Advanced Trade segments in ${work}`)
  const gen = await generate(path.join(work, 'gen'), MB, 42)
  const lines = gen.files.reduce((sum, file) => sum + fs.readFileSync(file, 'utf8').split('\n').length - 1, 0)
  const sample = await core.decodeSegment(new core.LocalStorage(path.dirname(gen.files[0])), path.basename(gen.files[0]), source, tables, work)
  const recordsPerLine = sample.channels.reduce((sum, channel) => sum + channel.rows, 0) / sample.lines
  await core.discardStaged(sample)
  report.push(
    `generated ${(gen.bytes / 1e6).toFixed(1)} MB, ${gen.files.length} segments, ${lines} frames (~${Math.round(lines * recordsPerLine)} records) in ${gen.seconds.toFixed(1)} s: the generator made ${Math.round((lines * recordsPerLine) / gen.seconds).toLocaleString('en-US')} records/s`,
  )

  if (ONLY !== 'postgres') {
    const result = await compare({title: 'etl → Parquet', work: {bytes: gen.bytes, itemUnit: 'rows'}, contenders: parquetContenders(gen.files), rounds: ROUNDS})
    results.push(result)
    report.push(formatResult(result) + `\n  every run wrote ${parquetRows.expected?.toLocaleString('en-US')} rows; target: bucketwright at least 0.7× DuckDB's MB/s (DuckDB at most 1.43× faster)`)
  }

  if (ONLY !== 'parquet') {
    log(`Postgres: decoding ${PG_MB} MB of the segments`)
    const pgFiles: string[] = []
    let pgBytes = 0
    for (const file of gen.files) {
      if (pgBytes >= PG_MB * 1e6) break
      pgFiles.push(file)
      pgBytes += fs.statSync(file).size
    }
    const decoded: DecodedSegment[] = []
    for (const file of pgFiles) decoded.push(await core.decodeSegment(new core.LocalStorage(path.dirname(file)), path.basename(file), source, tables, work))
    const rows = decoded.reduce((sum, segment) => sum + segment.channels.reduce((a, channel) => a + channel.rows, 0), 0)
    const csvBytes = decoded.reduce((sum, segment) => sum + segment.channels.reduce((a, channel) => a + (channel.rows > 0 ? fs.statSync(channel.file).size : 0), 0), 0)
    const halves = halfOfEachSegment(decoded)
    const server = await startPostgres()
    const preloaded = {rows: 0}
    try {
      const result = await compare({
        title: `etl → Postgres, ${pgFiles.length} segment${pgFiles.length === 1 ? '' : 's'} into tables already holding half the keys`,
        work: {bytes: csvBytes, items: rows, itemUnit: 'rows'},
        contenders: postgresContenders(server.url, decoded, halves, preloaded, rows),
        rounds: ROUNDS,
      })
      results.push(result)
      report.push(
        `${formatResult(result)}\n  before each load the tables held ${preloaded.rows.toLocaleString('en-US')} rows (every other row of each segment) of the ${rows.toLocaleString('en-US')} loaded; target (issue 20): the upsert at least 0.6× plain COPY's rows/s (plain COPY at most 1.67× faster); plain COPY goes into a table without the primary key the upsert maintains`,
      )
      const staging = await parquetStaging(decoded, path.join(work, 'staging'))
      const loaded = await compare({
        title: `load → Postgres: ${staging.table.channel} rows of the same segments as ${staging.csvs.length} Parquet file${staging.csvs.length === 1 ? '' : 's'}, into an empty keyed table`,
        work: {bytes: staging.bytes, items: staging.rows, itemUnit: 'rows'},
        contenders: loadContenders(server.url, path.join(work, 'staging'), staging.table, staging.csvs, staging.rows),
        rounds: ROUNDS,
      })
      results.push(loaded)
      report.push(`${formatResult(loaded)}\n  MB = the rows as CSV; CPU = this process only (Postgres backends not counted on either side): compare rows/s`)
    } finally {
      await server.stop()
      for (const segment of decoded) await core.discardStaged(segment)
    }
  }
  console.log(report.join('\n\n'))
  saveResults('etl', results)
} finally {
  fs.rmSync(work, {recursive: true, force: true})
}
