/**
 * npm run bench:verify — `bucketwright verify` of a converted bustimes archive (≥ 2 M records in weekly .jsonl.gz
 * files with manifests) beside a bare DuckDB query that counts the same files by bucket: the floor of reading them
 * at all. Each a process of its own; rounds interleaved, order rotated, medians; peak RSS of each.
 * MB = bytes of the gzip'd weekly files.
 *
 * The archive is written once under .bench/verify/ and reused: each week is the project generator's fleet (two
 * seeds, 628 vehicles) once per snapshot, jittered, plus snapshot_time, as convert writes it, with its manifest.
 *
 * Env: ROUNDS (5), WEEKS (8), SNAPSHOTS (430 per week).
 */
import {createReadStream, createWriteStream, existsSync, readFileSync} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import zlib from 'node:zlib'

import {benchRounds, BIN, compare, type Contender, formatResult, loadBuilt, log, machineLine, measureChild, ROOT, saveResults} from './harness.js'

type Vehicle = Record<string, unknown> & {latitude: number | null; longitude: number | null; time: number; expires: number; delay: number | null}

const ROUNDS = benchRounds()
const WEEKS = Number(process.env.WEEKS ?? 8)
const SNAPSHOTS = Number(process.env.SNAPSHOTS ?? 430)
const THREADS = os.availableParallelism()
const DIR = path.join(ROOT, '.bench', 'verify', `generated-w${WEEKS}-s${SNAPSHOTS}`)
const OUT = path.join(DIR, 'v2')

// The modules behind verify (internal: not part of bucketwright/core), from dist/.
const core = {
  ...(await loadBuilt<typeof import('../src/plugins/core/storage/local.js')>('plugins/core/storage/local.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/verify/buckets.js')>('plugins/core/verify/buckets.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/manifest/manifest.js')>('plugins/core/manifest/manifest.js')),
  ...(await loadBuilt<typeof import('../src/plugins/core/sources/random.js')>('plugins/core/sources/random.js')),
}
const {generateBustimes} = await loadBuilt<typeof import('../src/plugins/bustimes/index.js')>('plugins/bustimes/index.js')

/** The fleet of one generated snapshot per seed, as records. */
async function generatedFleet(seeds: number[]): Promise<Vehicle[]> {
  const fleet: Vehicle[] = []
  for (const [index, seed] of seeds.entries()) {
    for await (const object of generateBustimes({range: {from: new Date('2021-11-15T00:00:00Z'), to: new Date('2021-11-15T00:01:00Z')}, seed})) {
      const body = JSON.parse(typeof object.body === 'string' ? object.body : Buffer.from(object.body).toString('utf8')) as Vehicle[] | {resultSet: {vehicle: Vehicle[]}}
      // Each seed numbers its vehicles alike: shift the later fleets' ids, or verify's duplicate check fails.
      for (const vehicle of Array.isArray(body) ? body : body.resultSet.vehicle) fleet.push({...vehicle, vehicleID: (vehicle.vehicleID as number) + index * 100_000})
    }
  }
  return fleet
}

/** Writes one week as convert would: the fleet once per snapshot, jittered, plus snapshot_time; and its manifest. */
async function writeWeek(storage: InstanceType<typeof core.LocalStorage>, fleet: Vehicle[], monday: Date, weekIndex: number): Promise<number> {
  const next = core.seededRandom(1000 + weekIndex)
  const week = core.bucketOf('week', monday)
  const key = `${week.label}.jsonl.gz`
  const every = Math.floor((7 * 86_400_000) / SNAPSHOTS)
  const inputs: {key: string; size: number; etag: string}[] = []
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
        if (record.latitude !== null && record.longitude !== null) {
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
  // The digests of the file, as a write through the storage computes them, for the manifest.
  const written = await storage.write(`.digest-${key}`, createReadStream(file))
  await storage.delete([`.digest-${key}`])
  await core.writeManifest(storage, {
    manifestVersion: 1,
    tool: {name: 'bucketwright', version: 'bench'},
    command: 'convert',
    source: 'bustimes',
    createdAt: new Date().toISOString(),
    output: {key, size: written.size, md5: written.md5, sha256: written.sha256, format: 'jsonl', compression: 'gzip'},
    bucket: {key: week.label, from: week.start.toISOString(), to: week.end.toISOString()},
    inputs,
    inputsDigest: core.inputsDigest(inputs),
    counts: {objects: inputs.length, records, quarantined: 0},
    quarantined: [],
  })
  return records
}

/** The archive: built once (two weeks at a time, so gzip runs on both cores), then reused. */
async function buildArchive(): Promise<{records: number; files: number; bytes: number}> {
  if (existsSync(path.join(DIR, 'done.json'))) return JSON.parse(readFileSync(path.join(DIR, 'done.json'), 'utf8'))
  await fs.rm(DIR, {recursive: true, force: true})
  await fs.mkdir(OUT, {recursive: true})
  const fleet = await generatedFleet([1, 2])
  const storage = new core.LocalStorage(OUT)
  const weeks = Array.from({length: WEEKS}, (_, i) => new Date(Date.UTC(2023, 0, 2) + i * 7 * 86_400_000))
  let records = 0
  for (let i = 0; i < weeks.length; i += 2) {
    const done = await Promise.all(weeks.slice(i, i + 2).map((monday, j) => writeWeek(storage, fleet, monday, i + j)))
    records += done.reduce((a, b) => a + b, 0)
    log(`built ${Math.min(i + 2, weeks.length)}/${weeks.length} weeks`)
  }
  const files = (await fs.readdir(OUT)).filter((name) => name.endsWith('.jsonl.gz'))
  const bytes = (await Promise.all(files.map(async (name) => (await fs.stat(path.join(OUT, name))).size))).reduce((a, b) => a + b, 0)
  const info = {records, files: files.length, bytes}
  await fs.writeFile(path.join(DIR, 'done.json'), JSON.stringify(info))
  return info
}

/** The peer, in plain Node (no TypeScript loader in its start-up): DuckDB counting the records of each file. */
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

const archive = await buildArchive()
if (archive.records < 2_000_000) log(`WARNING: ${archive.records} records, fewer than 2 M; raise WEEKS or SNAPSHOTS`)

const contender = (name: string, args: string[]): Contender => ({
  name,
  async run() {
    const out = await measureChild(process.execPath, args)
    if (out.status !== 0) throw new Error(`${name} exited ${out.status}: ${out.stdout.slice(0, 2000)}\n${out.stderr.slice(-2000)}`)
    const parsed = JSON.parse(out.stdout) as {totals?: {records: number}; records?: number}
    const records = parsed.totals?.records ?? parsed.records
    if (records !== archive.records) throw new Error(`${name} counted ${records} records, the archive has ${archive.records}`)
    return out
  },
})
const result = await compare({
  title: `verify ${archive.files} weekly files`,
  work: {bytes: archive.bytes, items: archive.records, itemUnit: 'records'},
  contenders: [
    contender('verify (all checks)', [BIN, 'verify', OUT, '--source', 'bustimes', '--json', '--check', 'SELECT * FROM records WHERE latitude NOT BETWEEN -90 AND 90']),
    contender('verify --schema-sample 10%', [BIN, 'verify', OUT, '--source', 'bustimes', '--json', '--schema-sample', '10%']),
    contender('DuckDB count by file', ['--input-type=module', '-e', DUCKDB_COUNT, OUT]),
  ],
  pairs: [
    ['verify (all checks)', 'DuckDB count by file'],
    ['verify --schema-sample 10%', 'DuckDB count by file'],
  ],
  rounds: ROUNDS,
})
console.log(
  [
    machineLine(),
    `archive: ${archive.files} weekly files, ${archive.records.toLocaleString('en-US')} records, ${(archive.bytes / 1e6).toFixed(0)} MB gzip (${path.relative(ROOT, DIR)})`,
    `${formatResult(result)}\n  verify (all checks) = every record schema-checked, a --check query, manifests and digests; DuckDB count = read_json of every file, counted by file, ${THREADS} threads`,
  ].join('\n\n'),
)
saveResults('verify', result)
