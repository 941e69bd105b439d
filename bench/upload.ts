/**
 * npm run bench:upload — `upload-daemon --once` against `rclone copy` and `aws s3 sync`, uploading the same files to
 * the project's fauxqs on loopback (its own process; its CPU is shown apart as "server"): SMALL_FILES files of about
 * 2 KB, and LARGE_FILES files of LARGE_MIB MiB. Rounds interleaved, order rotated, medians.
 *
 * Same concurrency for every tool: CONCURRENCY uploads in flight (default 64, the daemon's own default) is the
 * daemon's --concurrency, rclone's --transfers and the AWS CLI's s3.max_concurrent_requests. Everything else at each
 * tool's defaults: the daemon and rclone send each large file in one PUT, the AWS CLI in 8 MiB parts above 8 MiB.
 * Large files stay under fauxqs's 11 MiB limit for one PUT (default 10 MiB), so no private, patched server is needed.
 * The daemon also verifies each upload and deletes the local file (hard links here); the peers only copy.
 *
 * The peers run only when ../shared/bench/peers (their isolated configuration, env.sh) and the tool (Debian's
 * /usr/bin/rclone, /usr/bin/aws: apt-get install -y rclone awscli) are present; otherwise the report says which is
 * missing, and bucketwright runs alone.
 *
 * Env: ROUNDS (5), CONCURRENCY (64), SETS (small,large), TOOLS (bucketwright,rclone,aws), SMALL_FILES (5000),
 *      LARGE_FILES (20), LARGE_MIB (10), BENCH_WORK (a folder on tmpfs: /dev/shm when there is one).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {filesUnder, type FileSet, writeUploadSets} from './data.js'
import {BASELINE_BIN, benchRounds, BIN, compare, type Contender, formatResult, log, machineLine, type Measurement, measureChild, processCpuSeconds, saveResults, SHARED_BENCH} from './harness.js'
import {benchS3Client, createBucket, emptyBucket, listKeys, s3Env, startS3Server} from './servers.js'

const ROUNDS = benchRounds()
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64)
const SETS = (process.env.SETS ?? 'small,large').split(',')
const TOOLS = (process.env.TOOLS ?? 'bucketwright,rclone,aws').split(',')
const LARGE_MIB = Number(process.env.LARGE_MIB ?? 10)
const PEERS = path.join(SHARED_BENCH, 'peers')
const RCLONE = '/usr/bin/rclone'
const AWS = '/usr/bin/aws'

if (LARGE_MIB > 10) log(`LARGE_MIB=${LARGE_MIB}: fauxqs refuses one PUT over 11 MiB; rclone (one PUT up to 200 MiB) will fail on these files`)

const scratch = process.env.BENCH_WORK ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir())
const work = mkdtempSync(path.join(scratch, 'bw-bench-upload-'))
const server = await startS3Server()
const client = benchS3Client(server.endpoint)
const endpoint = server.endpoint

/**
 * The peers' environment from ../shared/bench/peers/env.sh (AWS CLI with path-style addressing in a config file of
 * its own, rclone as remote PEER:), with the AWS CLI's concurrency set to CONCURRENCY; undefined when absent.
 */
function peerEnvironment(): NodeJS.ProcessEnv | undefined {
  const script = path.join(PEERS, 'env.sh')
  if (!existsSync(script)) return undefined
  const configFile = path.join(work, 'aws-config')
  writeFileSync(configFile, '')
  const out = spawnSync('bash', ['-c', 'source "$1" >/dev/null 2>&1; env -0', 'env.sh', script], {env: {...process.env, EP: endpoint, AWS_CONFIG_FILE_PEERS: configFile}, encoding: 'utf8'})
  if (out.status !== 0) throw new Error(`${script} failed: ${out.stderr}`)
  const env: NodeJS.ProcessEnv = {}
  for (const entry of out.stdout.split('\0')) {
    const equals = entry.indexOf('=')
    if (equals > 0) env[entry.slice(0, equals)] = entry.slice(equals + 1)
  }
  if (existsSync(AWS)) spawnSync(AWS, ['configure', 'set', 'default.s3.max_concurrent_requests', String(CONCURRENCY)], {env})
  return env
}

/** Objects under a bucket's p/ prefix, then the bucket emptied (the in-memory server would keep every round). */
async function collect(bucket: string, set: FileSet, who: string): Promise<void> {
  const count = (await listKeys(client, bucket, 'p/')).length
  await emptyBucket(client, bucket)
  if (count !== set.files) throw new Error(`${who} left ${count} of ${set.files} objects in the bucket`)
}

/** A measured run of a tool: the command's figures plus the S3 server's CPU meanwhile; fails on a non-zero exit. */
async function timed(who: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measurement> {
  const serverCpu = processCpuSeconds(server.pid)
  const out = await measureChild(command, args, {env})
  const serverCpuSeconds = processCpuSeconds(server.pid) - serverCpu
  if (out.status !== 0)
    throw new Error(
      `${who} exited ${out.status ?? out.signal}: ${out.stderr
        .split('\n')
        .filter((line) => !line.includes(' INFO '))
        .slice(-10)
        .join('\n')}`,
    )
  return {...out, serverCpuSeconds}
}

/** The peers that can run here, and why each other one cannot. */
function availablePeers(peerEnv: NodeJS.ProcessEnv | undefined): {present: Set<string>; absent: string[]} {
  const present = new Set<string>()
  const absent: string[] = []
  for (const [name, binary, packageName] of [
    ['rclone', RCLONE, 'rclone'],
    ['aws', AWS, 'awscli'],
  ]) {
    if (!TOOLS.includes(name)) continue
    if (!peerEnv) absent.push(`${name}: ${PEERS}/env.sh is not present`)
    else if (!existsSync(binary)) absent.push(`${name}: ${binary} is not installed (apt-get install -y ${packageName})`)
    else present.add(name)
  }
  return {present, absent}
}

function contenders(set: FileSet, peerEnv: NodeJS.ProcessEnv | undefined, peers: Set<string>): Contender[] {
  const list: Contender[] = []
  const daemon = (name: string, bin: string) =>
    list.push({
      name,
      async run(round) {
        // A fresh root of hard links each run: the daemon deletes what it has shipped.
        const bucket = await createBucket(client, `bw-${set.name}-${name === 'bucketwright' ? 'd' : 'b'}`)
        const root = path.join(work, 'roots', `${bucket}-${round}`)
        for (const file of filesUnder(set.dir)) {
          const target = path.join(root, bucket, 'p', path.relative(set.dir, file))
          mkdirSync(path.dirname(target), {recursive: true})
          linkSync(file, target)
        }
        try {
          const measured = await timed(name, process.execPath, [bin, 'upload-daemon', '--once', '-d', root, '--endpoint', endpoint, '--concurrency', String(CONCURRENCY)], s3Env(endpoint))
          await collect(bucket, set, 'upload-daemon')
          return measured
        } finally {
          rmSync(root, {recursive: true, force: true})
        }
      },
    })
  if (TOOLS.includes('bucketwright')) daemon('bucketwright', BIN)
  if (TOOLS.includes('bucketwright') && BASELINE_BIN) daemon('baseline', BASELINE_BIN)
  const peer = (name: string, binary: string, args: (bucket: string) => string[]) => {
    if (!peers.has(name) || !peerEnv) return
    list.push({
      name,
      async run() {
        const bucket = await createBucket(client, `bw-${set.name}-${name}`)
        const measured = await timed(name, binary, args(bucket), peerEnv)
        await collect(bucket, set, name)
        return measured
      },
    })
  }
  peer('rclone', RCLONE, (bucket) => ['copy', '--transfers', String(CONCURRENCY), set.dir, `PEER:${bucket}/p/`])
  peer('aws', AWS, (bucket) => ['--endpoint-url', endpoint, 's3', 'sync', '--only-show-errors', set.dir, `s3://${bucket}/p/`])
  return list
}

try {
  log(`generating the files under ${work}`)
  const sets = writeUploadSets(path.join(work, 'data'), {smallFiles: Number(process.env.SMALL_FILES ?? 5000), largeFiles: Number(process.env.LARGE_FILES ?? 20), largeMiB: LARGE_MIB})
  // The daemon ships a file once it has been left alone for 2 s: date the fresh files back a minute.
  const old = new Date(Date.now() - 60_000)
  for (const set of sets) for (const file of filesUnder(set.dir)) utimesSync(file, old, old)
  const peerEnv = peerEnvironment()
  const report = [
    machineLine(),
    `S3 server: the project's fauxqs at ${endpoint} (its own process). Concurrency ${CONCURRENCY} for every tool: daemon --concurrency, rclone --transfers, AWS CLI s3.max_concurrent_requests. CPU = the tool's processes; server = fauxqs's process.`,
  ]
  const {present, absent} = availablePeers(peerEnv)
  if (absent.length > 0) {
    const line = `peers not run: ${absent.join('; ')}. bucketwright runs ${present.size > 0 ? `against ${[...present].join(' and ')} only` : 'alone'}.`
    log(line)
    report.push(line)
  }
  const results: unknown[] = []
  for (const set of sets.filter((candidate) => SETS.includes(candidate.name))) {
    const result = await compare({
      title: `upload ${set.name} (files of ${Math.round(set.bytes / set.files / 1024).toLocaleString('en-US')} KiB)`,
      work: {bytes: set.bytes, items: set.files, itemUnit: 'files'},
      contenders: contenders(set, peerEnv, present),
      rounds: ROUNDS,
    })
    results.push(result)
    report.push(formatResult(result))
  }
  console.log(report.join('\n\n'))
  saveResults('upload', results)
} finally {
  await server.stop()
  rmSync(work, {recursive: true, force: true})
}
