/**
 * npm run bench:convert — bucketwright convert against the original Python converter (reference_convert.py), on
 * the same bustimes archive in the loopback S3 server, after one warm-up run of each, interleaved rounds, medians
 * (bucketwright writing to S3, and to local disk as the reference does); then peak RSS of a 500- vs a
 * 4,000-object week; then listing 50,000 keys through a 30 ms-latency proxy by day prefixes in parallel vs one
 * paginated listing. Needs /usr/bin/python3 with boto3 (apt-get install -y python3-boto3) for the reference.
 *   ROUNDS=5 OBJECTS=200 FLAT_SMALL=500 FLAT_BIG=4000 LIST_KEYS=50000 npm run bench:convert
 */
import {PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {execFile, spawn} from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {BIN, ROOT} from '../test/helpers/cli.js'
import {createTestBucket, s3Env, testS3Client} from '../test/helpers/s3.js'
import {listingBench} from './listing.js'
import {startServerProcess} from './spawn-server.js'
import {BENCH, compareWeeks, downloadOutputs, filesUnder, pythonWithBoto3, uploadDir} from '../test/convert/archive.js'

const run = promisify(execFile)
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const ROUNDS = env('ROUNDS', 5)
const OBJECTS = env('OBJECTS', 200)
const FLAT_SMALL = env('FLAT_SMALL', 500)
const FLAT_BIG = env('FLAT_BIG', 4000)
const LIST_KEYS = env('LIST_KEYS', 50_000)
/** Parts to run: `convert,memory,listing` (default all). */
const PARTS = new Set((process.env.PARTS ?? 'convert,memory,listing').split(','))

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`)

/** Runs a command under /usr/bin/time: wall seconds and peak RSS (MB) of the process tree's largest process. */
async function timed(command: string, args: string[], extraEnv: Record<string, string>): Promise<{seconds: number; rssMb: number; stdout: string}> {
  const stats = path.join(os.tmpdir(), `bw-bench-time-${process.pid}-${Date.now()}`)
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', stats, command, ...args], {cwd: ROOT, env: {...process.env, ...extraEnv}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', async (code) => {
      if (code !== 0 && code !== 4) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
      const [seconds, rssKb] = (await fs.readFile(stats, 'utf8')).trim().split(/\s+/).map(Number)
      await fs.rm(stats, {force: true})
      resolve({seconds, rssMb: Math.round(rssKb / 1024), stdout})
    })
  })
}

async function makeArchive(dir: string, start: string, count: number, every: number): Promise<void> {
  await run('python3', [path.join(BENCH, 'make_bustimes.py'), dir, '--start', start, '--count', String(count), '--every', String(every), '--root-level', '10', '--envelope-every', '7'], {maxBuffer: 1 << 24})
}

/** Converts s3://bucket/ (an archive at the root, where the reference expects it) into s3://outputs/prefix, or a local folder. */
async function bucketwright(bucket: string, outputs: string, prefix: string, extra: string[] = []) {
  const target = outputs.startsWith('/') ? path.join(outputs, prefix) : `s3://${outputs}/${prefix}`
  const out = await timed(process.execPath, [BIN, 'convert', `s3://${bucket}/`, target, '--source', 'bustimes', '--json', ...extra], s3Env(endpoint))
  return {...out, records: (JSON.parse(out.stdout) as {records: number}).records}
}

let endpoint = ''

/** One timed conversion: records/s, peak RSS (MB), wall seconds. */
type Run = {rate: number; rss: number; seconds: number}

async function main(): Promise<void> {
  const python = await pythonWithBoto3()
  if (!python?.startsWith('/usr/bin')) throw new Error('The reference needs /usr/bin/python3 with boto3: apt-get install -y python3-boto3')
  const server = await startServerProcess()
  endpoint = server.endpoint
  const client = testS3Client(endpoint)
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-bench-convert-'))
  const report: string[] = [`machine: ${os.availableParallelism()} cores, load ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}`]
  try {
    if (PARTS.has('convert')) await convertBench(client, work, python, report)
    if (PARTS.has('memory')) await memoryBench(client, work, report)
    if (PARTS.has('listing')) report.push(await listingBench(endpoint, LIST_KEYS))
  } finally {
    await fs.rm(work, {recursive: true, force: true})
    await server.stop()
  }
  process.stdout.write(report.join('\n') + '\n')
}

/** Throughput against the reference on the same archive, interleaved rounds, medians. */
async function convertBench(client: S3Client, work: string, python: string, report: string[]): Promise<void> {
  const archive = path.join(work, 'archive')
  log(`building a ${OBJECTS}-object archive across the 2021-11-10 cutoff`)
  await makeArchive(archive, '2021-11-09T12:00:00', OBJECTS, 600)
  // Archives sit at their bucket's root: the reference tells repr from JSON by comparing whole keys.
  const bucket = await createTestBucket('bw-bench', client)
  const outputs = await createTestBucket('bw-bench-out', client)
  await uploadDir(client, archive, bucket)
  const ours: Run[] = []
  const oursLocal: Run[] = []
  const theirs: Run[] = []
  let referenceRecords = 0
  // One uncounted run of each first (as hyperfine --warmup): the first run after a build fills V8's compile cache
  // and warms the S3 server; neither is what a scheduled job sees.
  log('warm-up runs (not counted)')
  await bucketwright(bucket, outputs, 'warm-up/')
  await timed(python, [path.join(BENCH, 'reference_convert.py'), `s3://${bucket}`, path.join(work, 'ref-warm-up'), '--endpoint', endpoint], s3Env(endpoint))
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['bw', 'bw-local', 'ref'] : ['ref', 'bw-local', 'bw']
    for (const who of order) {
      if (who === 'bw') {
        const out = await bucketwright(bucket, outputs, `bw-${round}/`)
        ours.push({rate: out.records / out.seconds, rss: out.rssMb, seconds: out.seconds})
        log(`round ${round + 1} bucketwright S3→S3:    ${out.seconds} s, ${Math.round(out.records / out.seconds)} records/s, ${out.rssMb} MB`)
      } else if (who === 'bw-local') {
        // Like for like with the reference, which writes its weeks to local disk.
        const out = await bucketwright(bucket, work, `bw-local-${round}/`)
        oursLocal.push({rate: out.records / out.seconds, rss: out.rssMb, seconds: out.seconds})
        log(`round ${round + 1} bucketwright S3→local: ${out.seconds} s, ${Math.round(out.records / out.seconds)} records/s, ${out.rssMb} MB`)
      } else {
        const dir = path.join(work, `ref-${round}`)
        const out = await timed(python, [path.join(BENCH, 'reference_convert.py'), `s3://${bucket}`, dir, '--endpoint', endpoint], s3Env(endpoint))
        referenceRecords = await countRecords(dir)
        theirs.push({rate: referenceRecords / out.seconds, rss: out.rssMb, seconds: out.seconds})
        log(`round ${round + 1} reference:    ${out.seconds} s, ${Math.round(referenceRecords / out.seconds)} records/s, ${out.rssMb} MB`)
      }
    }
  }
  const same = await compareWeeks(path.join(work, 'ref-0'), await download(client, outputs, 'bw-0/', path.join(work, 'bw-0')))
  const sameLocal = await compareWeeks(path.join(work, 'ref-0'), path.join(work, 'bw-local-0'))
  const rate = (runs: Run[]) => median(runs.map((run) => run.rate))
  report.push(
    `convert ${OBJECTS} objects (${referenceRecords} records) from the loopback S3 server, ${ROUNDS} interleaved rounds, medians:`,
    `  bucketwright → S3          ${Math.round(rate(ours))} records/s (${median(ours.map((o) => o.seconds))} s), peak RSS ${median(ours.map((o) => o.rss))} MB`,
    `  bucketwright → local disk  ${Math.round(rate(oursLocal))} records/s (${median(oursLocal.map((o) => o.seconds))} s), peak RSS ${median(oursLocal.map((o) => o.rss))} MB`,
    `  reference    → local disk  ${Math.round(rate(theirs))} records/s (${median(theirs.map((t) => t.seconds))} s), peak RSS ${median(theirs.map((t) => t.rss))} MB`,
    `  ratio to S3 ${(rate(ours) / rate(theirs)).toFixed(1)}x, to local disk (like for like) ${(rate(oursLocal) / rate(theirs)).toFixed(1)}x (target >= 10x); outputs equal to the reference's (compare_weeks): S3 ${same.equal}, local ${sameLocal.equal} (${same.summary.differing_records + sameLocal.summary.differing_records} differing)`,
    `  ratio per round, to S3: ${ratiosPerRound(ours, theirs)}; to local disk: ${ratiosPerRound(oursLocal, theirs)}`,
  )
}

/**
 * Each round's ratio of records/s, and their median: a round's runs follow one another within seconds, so the
 * machine's drift between rounds (~25 % within minutes) cancels out of each ratio, unlike in a ratio of medians.
 */
function ratiosPerRound(ours: Run[], theirs: Run[]): string {
  const ratios = ours.map((run, round) => run.rate / theirs[round].rate)
  return `${ratios.map((ratio) => ratio.toFixed(1)).join(' ')} (median ${median(ratios).toFixed(1)}x)`
}

/** Memory flatness: peak RSS converting one week of FLAT_SMALL vs FLAT_BIG objects. */
async function memoryBench(client: S3Client, work: string, report: string[]): Promise<void> {
  const outputs = await createTestBucket('bw-bench-out', client)
  log(`building a ${FLAT_BIG}-object week`)
  const big = path.join(work, 'big')
  await makeArchive(big, '2021-11-08T00:00:00', FLAT_BIG, 60)
  const keys = await filesUnder(big)
  const bigBucket = await createTestBucket('bw-bench-big', client)
  const smallBucket = await createTestBucket('bw-bench-small', client)
  await uploadDir(client, big, bigBucket)
  for (let i = 0; i < FLAT_SMALL; i += 16) {
    await Promise.all(keys.slice(i, Math.min(i + 16, FLAT_SMALL)).map(async (key) => client.send(new PutObjectCommand({Bucket: smallBucket, Key: key, Body: await fs.readFile(path.join(big, key))}))))
  }
  await fs.rm(big, {recursive: true, force: true})
  const small = await bucketwright(smallBucket, outputs, 'small/')
  const large = await bucketwright(bigBucket, outputs, 'big/')
  report.push(
    `memory: one week of ${FLAT_SMALL} objects → peak RSS ${small.rssMb} MB (${small.records} records, ${small.seconds} s); ${FLAT_BIG} objects → ${large.rssMb} MB (${large.records} records, ${large.seconds} s, ${Math.round(large.records / large.seconds)} records/s); ratio ${(large.rssMb / small.rssMb).toFixed(2)} (target <= 1.5)`,
  )
}

async function countRecords(dir: string): Promise<number> {
  const {stdout} = await run('python3', ['-c', 'import gzip,os,sys; d=sys.argv[1]; print(sum(sum(1 for _ in gzip.open(os.path.join(d,f))) for f in os.listdir(d)))', dir])
  return Number(stdout.trim())
}

async function download(client: S3Client, bucket: string, prefix: string, dir: string): Promise<string> {
  await downloadOutputs(client, bucket, prefix, dir)
  return dir
}

await main()
