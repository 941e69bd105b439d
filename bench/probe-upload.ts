/**
 * A probe of the upload daemon beside bench/upload.ts (after `npm run build`), on the same fauxqs and files:
 *   MODE=count (default) — requests per file on the wire, by kind, and connections, for the daemon and rclone, through
 *                          a recording proxy (slower than direct: only the counts mean anything);
 *   MODE=prof            — one daemon run with `node --cpu-prof` (NODE_EXTRA overrides the flags), profiles under
 *                          .bench/probe-upload/prof;
 *   MODE=ab              — interleaved runs of builds (BINS=checkout,checkout; default this checkout and BASELINE):
 *                          medians of wall, CPU (user+sys) and the server's CPU.
 * Env: SET (small|large), SMALL_FILES (5000), CONCURRENCY (64), ROUNDS (6, ab).
 */
import {spawn} from 'node:child_process'
import {linkSync, mkdirSync, mkdtempSync, rmSync, utimesSync} from 'node:fs'
import path from 'node:path'

import {FaultProxy} from '../test/helpers/fault-proxy.js'
import {filesUnder, writeUploadSets} from './data.js'
import {BIN, measureChild, processCpuSeconds, ROOT} from './harness.js'
import {benchS3Client, createBucket, emptyBucket, s3Env, startS3Server} from './servers.js'

const MODE = process.env.MODE ?? 'count'
const SET = process.env.SET ?? 'small'
const work = mkdtempSync('/dev/shm/bw-probe-')
const server = await startS3Server()
const client = benchS3Client(server.endpoint)
const sets = writeUploadSets(path.join(work, 'data'), {smallFiles: Number(process.env.SMALL_FILES ?? 5000), largeFiles: 20, largeMiB: 10})
const set = sets.find((s) => s.name === SET)!
const old = new Date(Date.now() - 60_000)
for (const file of filesUnder(set.dir)) utimesSync(file, old, old)

function summarize(proxy: FaultProxy, connections: number): string {
  const kinds = new Map<string, number>()
  for (const r of proxy.requests) {
    const q = r.url.includes('?')
      ? r.url
          .slice(r.url.indexOf('?') + 1)
          .split('&')
          .map((p) => p.split('=')[0])
          .filter((k) => k !== 'prefix' && k !== 'start-after' && k !== 'x-id')
          .join(',')
      : ''
    const depth = r.url.split('?')[0].split('/').length - 1
    const kind = `${r.method} ${depth <= 1 ? 'bucket' : 'object'}${q ? '?' + q : ''}`
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
  }
  return `${proxy.requests.length} requests (${(proxy.requests.length / set.files).toFixed(3)}/file), ${connections} connections: ${[...kinds].map(([k, n]) => `${k} ${n}`).join('; ')}`
}

function spawnAsync(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{status: number | null; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {env, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.on('close', (status) => resolve({status, stderr}))
  })
}

async function viaProxy(name: string, run: (endpoint: string, bucket: string) => Promise<void>): Promise<void> {
  const proxy = await new FaultProxy(server.endpoint).start()
  let connections = 0
  ;(proxy as unknown as {server: import('node:http').Server}).server.on('connection', () => connections++)
  const bucket = await createBucket(client, `probe-${name}`)
  await run(proxy.endpoint, bucket)
  console.log(`${name}: ${summarize(proxy, connections)}`)
  console.log(`  headers of one PUT: ${JSON.stringify(proxy.requests.find((r) => r.method === 'PUT')?.all)}`)
  await emptyBucket(client, bucket)
  await proxy.stop()
}

async function daemonRun(endpoint: string, bucket: string, extraNode: string[] = []) {
  const root = path.join(work, 'roots', bucket)
  for (const file of filesUnder(set.dir)) {
    const target = path.join(root, bucket, 'p', path.relative(set.dir, file))
    mkdirSync(path.dirname(target), {recursive: true})
    linkSync(file, target)
  }
  const started = Date.now()
  const out = await spawnAsync(process.execPath, [...extraNode, BIN, 'upload-daemon', '--once', '-d', root, '--endpoint', endpoint, '--concurrency', process.env.CONCURRENCY ?? '64'], s3Env(endpoint))
  console.log(`daemon exit ${out.status} in ${Date.now() - started} ms ${out.status ? out.stderr.slice(-2000) : ''}`)
  rmSync(root, {recursive: true, force: true})
}

async function rcloneRun(endpoint: string, bucket: string) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_PEER_TYPE: 's3',
    RCLONE_CONFIG_PEER_PROVIDER: 'Other',
    RCLONE_CONFIG_PEER_ENDPOINT: endpoint,
    RCLONE_CONFIG_PEER_ACCESS_KEY_ID: 'S3RVER',
    RCLONE_CONFIG_PEER_SECRET_ACCESS_KEY: 'S3RVER',
    RCLONE_CONFIG_PEER_REGION: 'us-east-1',
    RCLONE_CONFIG_PEER_FORCE_PATH_STYLE: 'true',
  }
  delete env.AWS_CA_BUNDLE
  const started = Date.now()
  const out = await spawnAsync('/usr/bin/rclone', ['copy', '--transfers', process.env.CONCURRENCY ?? '64', set.dir, `PEER:${bucket}/p/`], env)
  console.log(`rclone exit ${out.status} in ${Date.now() - started} ms ${out.status ? out.stderr.slice(-2000) : ''}`)
}

try {
  if (MODE === 'count') {
    await viaProxy('daemon', (endpoint, bucket) => daemonRun(endpoint, bucket))
    await viaProxy('rclone', rcloneRun)
  } else if (MODE === 'ab') {
    // Interleaved A/B of daemon builds (BINS=a,b: checkouts), each run's CPU (user+sys) and wall; medians.
    const bins = (process.env.BINS ?? [ROOT, process.env.BASELINE].filter(Boolean).join(',')).split(',').map((bin) => path.resolve(bin))
    if (bins.length < 2) throw new Error('MODE=ab needs two builds: BASELINE=<a built checkout>, or BINS=a,b')
    const stats = new Map<string, {wall: number[]; cpu: number[]; server: number[]}>(bins.map((b) => [b, {wall: [], cpu: [], server: []}]))
    const bucket = await createBucket(client, 'probe-ab')
    for (let round = 0; round < Number(process.env.ROUNDS ?? 6); round++) {
      for (const bin of round % 2 ? [...bins].reverse() : bins) {
        const root = path.join(work, 'roots', `${bucket}-${round}`)
        for (const file of filesUnder(set.dir)) {
          const target = path.join(root, bucket, 'p', path.relative(set.dir, file))
          mkdirSync(path.dirname(target), {recursive: true})
          linkSync(file, target)
        }
        const server0 = processCpuSeconds(server.pid)
        const out = await measureChild(process.execPath, [path.join(bin, 'bin/run.js'), 'upload-daemon', '--once', '-d', root, '--endpoint', server.endpoint, '--concurrency', process.env.CONCURRENCY ?? '64'], {
          env: s3Env(server.endpoint),
        })
        if (out.status !== 0) throw new Error(out.stderr.slice(-1000))
        const st = stats.get(bin)!
        st.wall.push(out.seconds)
        st.cpu.push(out.cpuSeconds)
        st.server.push(processCpuSeconds(server.pid) - server0)
        rmSync(root, {recursive: true, force: true})
        await emptyBucket(client, bucket)
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    for (const [bin, st] of stats)
      console.log(
        `${bin}: wall ${median(st.wall).toFixed(2)} s, CPU ${median(st.cpu).toFixed(2)} s (min ${Math.min(...st.cpu).toFixed(2)}), server CPU ${median(st.server).toFixed(2)} s; cpu ${st.cpu.map((x) => x.toFixed(2)).join(' ')}`,
      )
  } else {
    const bucket = await createBucket(client, 'probe-prof')
    for (let i = 0; i < Number(process.env.RUNS ?? 1); i++) {
      await daemonRun(server.endpoint, bucket, (process.env.NODE_EXTRA ?? `--cpu-prof --cpu-prof-dir=${path.join(ROOT, '.bench', 'probe-upload', 'prof')}`).split(' ').filter(Boolean))
      await emptyBucket(client, bucket)
    }
  }
} finally {
  await server.stop()
  rmSync(work, {recursive: true, force: true})
}
