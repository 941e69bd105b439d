/**
 * npm run bench:convert — bucketwright convert against the original Python converter (../shared/bench/
 * reference_convert.py, when present), on the same bustimes archive (made by the project's generator) in the loopback
 * S3 server: one uncounted warm-up run of each, then interleaved rounds; bucketwright writing to S3, and to local disk
 * as the reference does. Each at its own defaults: the reference with its 16 download threads, bucketwright with its
 * own (one encoder thread per core). Then peak RSS of a FLAT_SMALL- vs a FLAT_BIG-object week; then listing
 * LIST_KEYS keys through a 30 ms-latency proxy (listing.ts). Part `local`: local folder → local folder, both tools,
 * for each size in LOCAL_OBJECTS (issue 20's targets: ≥ 18× the reference at 1,000 objects, ≥ 10× at 240), on an
 * archive half before and half after the 2021-11-10 cutoff (half Python-repr objects, half JSON).
 * The reference needs /usr/bin/python3 with boto3 (apt-get install -y python3-boto3) to read from S3, python3 alone
 * for `local`; without it, or without ../shared/bench, bucketwright runs alone and the report says so.
 *   ROUNDS=5 OBJECTS=200 LOCAL_OBJECTS=1000,240 FLAT_SMALL=500 FLAT_BIG=4000 LIST_KEYS=50000
 *   PARTS=convert,local,memory,listing npm run bench:convert
 */
import {type S3Client} from '@aws-sdk/client-s3'
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {downloadOutputs, uploadDir} from '../test/convert/archive.js'
import {writeBustimesArchive, type WrittenData} from './data.js'
import {BASELINE_BIN, benchRounds, BIN, compare, type Contender, formatResult, log, machineLine, measureChild, processCpuSeconds, saveResults, SHARED_BENCH} from './harness.js'
import {listingBench} from './listing.js'
import {benchS3Client, createBucket, s3Env, type ServerProcess, startS3Server} from './servers.js'

const run = promisify(execFile)

/** Python with boto3 for the reference's S3 mode (Debian's python3-boto3), if this machine has one. */
async function pythonWithBoto3(): Promise<string | undefined> {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      await run(python, ['-c', 'import boto3'])
      return python
    } catch {}
  }
  return undefined
}
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const ROUNDS = benchRounds()
const OBJECTS = env('OBJECTS', 200)
const FLAT_SMALL = env('FLAT_SMALL', 500)
const FLAT_BIG = env('FLAT_BIG', 4000)
const LIST_KEYS = env('LIST_KEYS', 50_000)
const LOCAL_OBJECTS = (process.env.LOCAL_OBJECTS ?? '1000,240').split(',').map(Number)
/** Parts to run: `convert,local,memory,listing` (default all). */
const PARTS = new Set((process.env.PARTS ?? 'convert,local,memory,listing').split(','))
const REFERENCE = path.join(SHARED_BENCH, 'reference_convert.py')

/** The original converter, when this machine has it and a Python with boto3 to run it from S3; else why not. */
async function findReference(): Promise<{python: string} | {absent: string}> {
  if (!existsSync(REFERENCE)) return {absent: `${REFERENCE} is not present`}
  const python = await pythonWithBoto3()
  if (!python?.startsWith('/usr/bin')) return {absent: 'no /usr/bin/python3 with boto3 (apt-get install -y python3-boto3)'}
  return {python}
}

async function main(): Promise<void> {
  const server = await startS3Server()
  const client = benchS3Client(server.endpoint)
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-bench-convert-'))
  const report: string[] = [machineLine(), `S3 server: the project's fauxqs at ${server.endpoint} (its own process)`]
  const results: unknown[] = []
  try {
    if (PARTS.has('convert')) report.push(await convertBench(server, client, work, results))
    if (PARTS.has('local')) for (const objects of LOCAL_OBJECTS) report.push(await localBench(objects, work, results))
    if (PARTS.has('memory')) report.push(await memoryBench(server, client, work))
    if (PARTS.has('listing')) report.push(await listingBench(server, LIST_KEYS, ROUNDS))
  } finally {
    await fs.rm(work, {recursive: true, force: true})
    await server.stop()
  }
  process.stdout.write(report.join('\n\n') + '\n')
  saveResults('convert', results)
}

/** Converts s3://bucket/ into s3://outputs/prefix, or into a local folder; measured. */
async function bucketwright(server: ServerProcess, bucket: string, target: string, bin = BIN) {
  const serverCpu = processCpuSeconds(server.pid)
  const out = await measureChild(process.execPath, [bin, 'convert', `s3://${bucket}/`, target, '--source', 'bustimes', '--json'], {env: s3Env(server.endpoint)})
  const serverCpuSeconds = processCpuSeconds(server.pid) - serverCpu
  if (out.status !== 0 && out.status !== 4) throw new Error(`convert exited ${out.status}: ${out.stderr.slice(-2000)}`)
  return {...out, serverCpuSeconds, records: (JSON.parse(out.stdout) as {records: number}).records}
}

/** compare_weeks.py (from the peers' kit) on two folders of weekly outputs: equal, and how many records differ. */
async function compareWeeks(a: string, b: string): Promise<{equal: boolean; differing: number}> {
  const out = await measureChild('python3', [path.join(SHARED_BENCH, 'compare_weeks.py'), a, b])
  const summary = JSON.parse(out.stdout || '{}') as {differing_records?: number}
  return {equal: out.status === 0, differing: summary.differing_records ?? 0}
}

/** Records in the .jsonl.gz files of a folder. */
async function countRecords(dir: string): Promise<number> {
  const {stdout} = await run('python3', ['-c', 'import gzip,os,sys; d=sys.argv[1]; print(sum(sum(1 for _ in gzip.open(os.path.join(d,f))) for f in os.listdir(d) if f.endswith(".jsonl.gz")))', dir])
  return Number(stdout.trim())
}

/** Throughput against the reference on the same archive: the harness's interleaved rounds and medians. */
async function convertBench(server: ServerProcess, client: S3Client, work: string, results: unknown[]): Promise<string> {
  const archive = path.join(work, 'archive')
  log(`generating a ${OBJECTS}-object bustimes archive across the 2021-11-10 cutoff`)
  const data: WrittenData = await writeBustimesArchive(archive, {start: '2021-11-09T12:00:00', count: OBJECTS, everySeconds: 600})
  // Archives sit at their bucket's root: the reference tells repr from JSON by comparing whole keys.
  const bucket = await createBucket(client, 'bw-bench')
  const outputs = await createBucket(client, 'bw-bench-out')
  await uploadDir(client, archive, bucket)
  const reference = await findReference()
  const expectRecords = (who: string, records: number) => {
    if (records !== data.records) throw new Error(`${who} wrote ${records} records, the archive holds ${data.records}`)
  }
  const contenders: Contender[] = [
    {
      name: 'bucketwright → S3',
      async run(round) {
        const out = await bucketwright(server, bucket, `s3://${outputs}/bw-${round}/`)
        expectRecords(this.name, out.records)
        return out
      },
    },
    {
      // Like for like with the reference, which writes its weeks to local disk.
      name: 'bucketwright → local',
      async run(round) {
        const out = await bucketwright(server, bucket, path.join(work, `bw-local-${round}`))
        expectRecords(this.name, out.records)
        return out
      },
    },
  ]
  if (BASELINE_BIN) {
    contenders.push({
      name: 'baseline → S3',
      async run(round) {
        const out = await bucketwright(server, bucket, `s3://${outputs}/base-${round}/`, BASELINE_BIN)
        expectRecords(this.name, out.records)
        return out
      },
    })
  }
  if ('python' in reference) {
    contenders.push({
      name: 'reference → local',
      async run(round) {
        const dir = path.join(work, `ref-${round}`)
        const serverCpu = processCpuSeconds(server.pid)
        const out = await measureChild(reference.python, [REFERENCE, `s3://${bucket}`, dir, '--endpoint', server.endpoint], {env: s3Env(server.endpoint)})
        if (out.status !== 0) throw new Error(`reference_convert.py exited ${out.status}: ${out.stderr.slice(-2000)}`)
        expectRecords(this.name, await countRecords(dir))
        return {...out, serverCpuSeconds: processCpuSeconds(server.pid) - serverCpu}
      },
    })
  }
  const result = await compare({
    title: `convert ${data.objects} bustimes objects from the loopback S3 server`,
    work: {bytes: data.bytes, items: data.records, itemUnit: 'records'},
    contenders,
    pairs: [
      ...('python' in reference
        ? ([
            ['bucketwright → S3', 'reference → local'],
            ['bucketwright → local', 'reference → local'],
          ] as [string, string][])
        : ([['bucketwright → S3', 'bucketwright → local']] as [string, string][])),
      ...(BASELINE_BIN ? ([['bucketwright → S3', 'baseline → S3']] as [string, string][]) : []),
    ],
    warmup: 1,
    rounds: ROUNDS,
  })
  results.push(result)
  const lines = [formatResult(result)]
  if ('python' in reference) {
    lines.push('  target: bucketwright >= 10× faster than the reference (like for like: to local disk)')
    const same = await compareWeeks(path.join(work, 'ref-0'), await download(client, outputs, 'bw-0/', path.join(work, 'bw-0')))
    const sameLocal = await compareWeeks(path.join(work, 'ref-0'), path.join(work, 'bw-local-0'))
    lines.push(`  outputs of round 1 equal to the reference's (compare_weeks.py): S3 ${same.equal}, local ${sameLocal.equal} (${same.differing + sameLocal.differing} differing records)`)
  } else {
    lines.push(`  the original Python converter did not run: ${reference.absent}; bucketwright ran alone (S3 and local disk compared with each other)`)
  }
  return lines.join('\n')
}

/** An archive of `objects` objects ten minutes apart, half of them before the 2021-11-10 cutoff (repr), half after. */
function halfAndHalf(objects: number) {
  const cutoff = Date.parse('2021-11-10T00:00:00Z')
  return {start: new Date(cutoff - Math.floor(objects / 2) * 600_000).toISOString(), count: objects, everySeconds: 600}
}

/** Local folder → local folder against the original converter reading the same folder (python3 alone, no boto3). */
async function localBench(objects: number, work: string, results: unknown[]): Promise<string> {
  const archive = path.join(work, `local-archive-${objects}`)
  log(`generating a ${objects}-object bustimes archive, half before the 2021-11-10 cutoff`)
  const data = await writeBustimesArchive(archive, halfAndHalf(objects))
  const python = existsSync(REFERENCE) ? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3') : undefined
  const expectRecords = (who: string, records: number) => {
    if (records !== data.records) throw new Error(`${who} wrote ${records} records, the archive holds ${data.records}`)
  }
  const ours = `bucketwright local → local (${objects})`
  const theirs = `reference local → local (${objects})`
  const contenders: Contender[] = [
    {
      name: ours,
      async run(round) {
        const out = await measureChild(process.execPath, [BIN, 'convert', archive, path.join(work, `bwl-${objects}-${round}`), '--source', 'bustimes', '--json'])
        if (out.status !== 0) throw new Error(`convert exited ${out.status}: ${out.stderr.slice(-2000)}`)
        expectRecords(this.name, (JSON.parse(out.stdout) as {records: number}).records)
        return out
      },
    },
  ]
  if (python) {
    contenders.push({
      name: theirs,
      async run(round) {
        const dir = path.join(work, `refl-${objects}-${round}`)
        const out = await measureChild(python, [REFERENCE, archive, dir])
        if (out.status !== 0) throw new Error(`reference_convert.py exited ${out.status}: ${out.stderr.slice(-2000)}`)
        expectRecords(this.name, await countRecords(dir))
        return out
      },
    })
  }
  const result = await compare({
    title: `convert ${data.objects} bustimes objects (${Math.floor(objects / 2)} repr, ${Math.ceil(objects / 2)} JSON) local folder → local folder`,
    work: {bytes: data.bytes, items: data.records, itemUnit: 'records'},
    contenders,
    pairs: python ? [[ours, theirs]] : [],
    warmup: 1,
    rounds: ROUNDS,
  })
  results.push(result)
  const lines = [formatResult(result)]
  if (python) {
    lines.push(`  target (issue 20): bucketwright ≥ ${objects >= 1000 ? 18 : 10}× faster than the reference at ${objects >= 1000 ? '1,000' : '240'} objects`)
    const same = await compareWeeks(path.join(work, `refl-${objects}-0`), path.join(work, `bwl-${objects}-0`))
    lines.push(`  outputs of round 1 equal to the reference's (compare_weeks.py): ${same.equal} (${same.differing} differing records)`)
  } else {
    lines.push(`  the original Python converter did not run: ${REFERENCE} is not present`)
  }
  await fs.rm(archive, {recursive: true, force: true})
  return lines.join('\n')
}

/** Memory flatness: peak RSS converting one week of FLAT_SMALL vs FLAT_BIG objects (one run each, not a race). */
async function memoryBench(server: ServerProcess, client: S3Client, work: string): Promise<string> {
  const outputs = await createBucket(client, 'bw-bench-out')
  log(`generating a ${FLAT_BIG}-object week and a ${FLAT_SMALL}-object one`)
  // From Monday 2021-11-15, one object a minute: both stay within one ISO week, after the cutoff (JSON).
  const big = path.join(work, 'big')
  const small = path.join(work, 'small')
  await writeBustimesArchive(big, {start: '2021-11-15T00:00:00', count: FLAT_BIG, everySeconds: 60})
  await writeBustimesArchive(small, {start: '2021-11-15T00:00:00', count: FLAT_SMALL, everySeconds: 60})
  const bigBucket = await createBucket(client, 'bw-bench-big')
  const smallBucket = await createBucket(client, 'bw-bench-small')
  await uploadDir(client, big, bigBucket)
  await uploadDir(client, small, smallBucket)
  await fs.rm(big, {recursive: true, force: true})
  await fs.rm(small, {recursive: true, force: true})
  const a = await bucketwright(server, smallBucket, `s3://${outputs}/small/`)
  const b = await bucketwright(server, bigBucket, `s3://${outputs}/big/`)
  const rss = (out: {peakRssMb?: number}) => (out.peakRssMb === undefined ? 'n/a (no /usr/bin/time)' : `${Math.round(out.peakRssMb)} MiB`)
  const ratio = a.peakRssMb && b.peakRssMb ? (b.peakRssMb / a.peakRssMb).toFixed(2) : 'n/a'
  return [
    `memory: peak RSS converting one week from S3 (one run each)`,
    `  ${FLAT_SMALL} objects: ${rss(a)} (${a.records} records, ${a.seconds.toFixed(2)} s, ${a.cpuSeconds.toFixed(2)} CPU-s)`,
    `  ${FLAT_BIG} objects: ${rss(b)} (${b.records} records, ${b.seconds.toFixed(2)} s, ${b.cpuSeconds.toFixed(2)} CPU-s, ${Math.round(b.records / b.seconds)} records/s)`,
    `  ratio ${ratio} (target <= 1.5)`,
  ].join('\n')
}

async function download(client: S3Client, bucket: string, prefix: string, dir: string): Promise<string> {
  await downloadOutputs(client, bucket, prefix, dir)
  return dir
}

await main()
