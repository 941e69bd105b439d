// Bench: `bucketwright verify` of a converted bustimes archive (≥ 2 M records in weekly .jsonl.gz files with
// manifests) beside a bare DuckDB query that counts the same files by bucket — the floor of reading them at all.
// Interleaved (A B A B …), medians; records/s of each and their ratio; peak RSS of each process.
//
//   npm run bench:verify                     (ROUNDS=3 WEEKS=8 SNAPSHOTS=430 by default)
//
// The archive is built once under .bench/verify/ from the real TriMet sample (../shared/real-data/trimet) and reused.
import {spawnSync} from 'node:child_process'
import {createWriteStream, existsSync, readFileSync} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {fileURLToPath} from 'node:url'
import zlib from 'node:zlib'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const REAL = path.resolve(ROOT, '..', 'shared', 'real-data', 'trimet', 'vehicles.json')
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const WEEKS = Number(process.env.WEEKS ?? 8)
const SNAPSHOTS = Number(process.env.SNAPSHOTS ?? 430)
const THREADS = os.availableParallelism()
// Both sides on the project's Node 24 (bin/run.js would re-execute itself on it anyway).
const NODE = existsSync(path.join(ROOT, 'node_modules', 'node', 'bin', 'node')) ? path.join(ROOT, 'node_modules', 'node', 'bin', 'node') : process.execPath
const DIR = path.join(ROOT, '.bench', 'verify', `w${WEEKS}-s${SNAPSHOTS}`)
const OUT = path.join(DIR, 'v2')

const {LocalStorage, writeManifest, inputsDigest, bucketOf, seededRandom} = await import(path.join(ROOT, 'dist', 'plugins', 'core', 'index.js'))

/** Writes one week as convert would: the real fleet once per snapshot, jittered, plus snapshot_time; and its manifest. */
async function writeWeek(storage, fleet, monday, weekIndex) {
  const next = seededRandom(1000 + weekIndex)
  const week = bucketOf('week', monday)
  const key = `${week.label}.jsonl.gz`
  const every = Math.floor((7 * 86_400_000) / SNAPSHOTS)
  const inputs = []
  let records = 0
  async function* lines() {
    for (let s = 0; s < SNAPSHOTS; s++) {
      const time = new Date(monday.getTime() + s * every)
      const stamp = time.toISOString().slice(0, 19)
      inputs.push({key: `raw/bustimes__${stamp.replace('T', '__').replaceAll(':', '-')}.json`, size: 530_000, etag: `e${weekIndex}-${s}`})
      const ms = time.getTime()
      let chunk = ''
      for (const vehicle of fleet) {
        const record = {...vehicle}
        if (record.latitude !== null) {
          record.latitude = Math.round((record.latitude + (next() - 0.5) * 0.004) * 1e7) / 1e7
          record.longitude = Math.round((record.longitude + (next() - 0.5) * 0.004) * 1e7) / 1e7
        }
        record.time = ms - Math.floor(next() * 60_000)
        record.expires = ms + 30_000
        if (record.delay !== null) record.delay += Math.floor(next() * 41) - 20
        record.snapshot_time = `${stamp}Z`
        chunk += JSON.stringify(record) + '\n'
        records++
      }
      yield chunk
    }
  }
  const file = path.join(OUT, key)
  await pipeline(lines, zlib.createGzip({level: 6}), createWriteStream(file + '.part'))
  await fs.rename(file + '.part', file)
  const written = await storage.write(`.digest-${key}`, (await import('node:fs')).createReadStream(file))
  await storage.delete([`.digest-${key}`])
  await writeManifest(storage, {
    manifestVersion: 1,
    tool: {name: 'bucketwright', version: 'bench'},
    command: 'convert',
    source: 'bustimes',
    createdAt: new Date().toISOString(),
    output: {key, size: written.size, md5: written.md5, sha256: written.sha256, format: 'jsonl', compression: 'gzip'},
    bucket: {key: week.label, from: week.start.toISOString(), to: week.end.toISOString()},
    inputs,
    inputsDigest: inputsDigest(inputs),
    counts: {objects: inputs.length, records, quarantined: 0},
    quarantined: [],
  })
  return records
}

async function buildArchive() {
  if (existsSync(path.join(DIR, 'done.json'))) return JSON.parse(readFileSync(path.join(DIR, 'done.json'), 'utf8'))
  await fs.rm(DIR, {recursive: true, force: true})
  await fs.mkdir(OUT, {recursive: true})
  const fleet = JSON.parse(readFileSync(REAL, 'utf8')).resultSet.vehicle
  const storage = new LocalStorage(OUT)
  const started = Date.now()
  const weeks = Array.from({length: WEEKS}, (_, i) => new Date(Date.UTC(2023, 0, 2) + i * 7 * 86_400_000))
  let records = 0
  // Two weeks at a time: gzip runs on libuv's threads, so both cores work.
  for (let i = 0; i < weeks.length; i += 2) {
    const done = await Promise.all(weeks.slice(i, i + 2).map((monday, j) => writeWeek(storage, fleet, monday, i + j)))
    records += done.reduce((a, b) => a + b, 0)
    process.stderr.write(`  built ${Math.min(i + 2, weeks.length)}/${weeks.length} weeks\n`)
  }
  const files = (await fs.readdir(OUT)).filter((name) => name.endsWith('.jsonl.gz'))
  const bytes = (await Promise.all(files.map(async (name) => (await fs.stat(path.join(OUT, name))).size))).reduce((a, b) => a + b, 0)
  const info = {records, files: files.length, bytes, buildSeconds: (Date.now() - started) / 1000}
  await fs.writeFile(path.join(DIR, 'done.json'), JSON.stringify(info))
  return info
}

/** Runs a command under /usr/bin/time: wall seconds and peak RSS (MB). */
function timed(command, args, env = {}) {
  const started = process.hrtime.bigint()
  const run = spawnSync('/usr/bin/time', ['-f', 'BW_MAXRSS_KB=%M', command, ...args], {cwd: ROOT, env: {...process.env, ...env}, encoding: 'utf8', maxBuffer: 1 << 28})
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const rss = Number(/BW_MAXRSS_KB=(\d+)/.exec(run.stderr)?.[1] ?? 0) / 1024
  return {seconds, rss, stdout: run.stdout, stderr: run.stderr, status: run.status}
}

const DUCKDB_COUNT = `
const {DuckDBInstance} = await import(${JSON.stringify(path.join(ROOT, 'node_modules', '@duckdb', 'node-api', 'lib', 'index.js'))})
const fs = await import('node:fs')
const dir = process.argv[1]
const files = fs.readdirSync(dir).filter((name) => name.endsWith('.jsonl.gz')).map((name) => dir + '/' + name)
const db = await DuckDBInstance.create(':memory:', {memory_limit: '512MB', threads: '${THREADS}'})
const connection = await db.connect()
const list = '[' + files.map((file) => "'" + file + "'").join(', ') + ']'
const reader = await connection.runAndReadAll("SELECT filename, count(*) AS records FROM read_json(" + list + ", format = 'newline_delimited', filename = true) GROUP BY filename ORDER BY filename")
const rows = reader.getRowObjectsJson()
console.log(JSON.stringify({records: rows.reduce((sum, row) => sum + Number(row.records), 0), buckets: rows.length}))
`

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
}

const archive = await buildArchive()
console.log(`archive: ${archive.files} weekly files, ${archive.records.toLocaleString('en-US')} records, ${(archive.bytes / 1e6).toFixed(0)} MB gzip (${DIR})`)
if (archive.records < 2_000_000) console.log('WARNING: fewer than 2 M records; raise WEEKS or SNAPSHOTS')

const variants = {
  'verify (all checks, every record schema-checked)': () => timed(NODE, ['bin/run.js', 'verify', OUT, '--source', 'bustimes', '--json', '--check', 'SELECT * FROM records WHERE latitude NOT BETWEEN -90 AND 90']),
  'verify --schema-sample 10%': () => timed(NODE, ['bin/run.js', 'verify', OUT, '--source', 'bustimes', '--json', '--schema-sample', '10%']),
  'bare DuckDB count by bucket': () => timed(NODE, ['--input-type=module', '-e', DUCKDB_COUNT, OUT]),
}
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]))
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const result = run()
    if (result.status !== 0) {
      console.error(`${name} failed (exit ${result.status}):\n${result.stdout.slice(0, 2000)}\n${result.stderr.slice(-2000)}`)
      process.exit(1)
    }
    const parsed = JSON.parse(result.stdout)
    const records = parsed.totals?.records ?? parsed.records
    if (records !== archive.records) throw new Error(`${name} counted ${records} records, the archive has ${archive.records}`)
    samples[name].push(result)
    console.log(`  round ${round}: ${name}: ${result.seconds.toFixed(2)} s, peak RSS ${result.rss.toFixed(0)} MB`)
  }
}
console.log(`\nmedians over ${ROUNDS} interleaved rounds, ${archive.records.toLocaleString('en-US')} records, ${THREADS} cores:`)
const peer = median(samples['bare DuckDB count by bucket'].map((run) => run.seconds))
for (const [name, runs] of Object.entries(samples)) {
  const seconds = median(runs.map((run) => run.seconds))
  const rate = archive.records / seconds
  console.log(`  ${name.padEnd(50)} ${seconds.toFixed(2).padStart(7)} s  ${Math.round(rate).toLocaleString('en-US').padStart(11)} records/s  peak RSS ${median(runs.map((run) => run.rss)).toFixed(0).padStart(5)} MB  ratio to DuckDB count ${(peer / seconds).toFixed(2)}`)
}
