// npm run bench:upload — the upload daemon (`upload-daemon --once`) against `rclone copy --transfers 16` and
// `aws s3 sync`, uploading the same files to the same loopback S3 server (a private, patched fauxqs 1.9.2: see
// ../shared/bench/README.md) in one run: 5,000 × 2 KB files and 20 × 16 MiB files, tools interleaved round by
// round (order rotated), medians and ratios. Needs Debian's awscli and rclone (apt-get install -y awscli rclone).
//
// Env: RUNS (default 5), ONLY (regex on "small|large" and tool names), BENCH_WORK (default /dev/shm or /tmp),
//      CONCURRENCY (daemon, default 64).
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync, linkSync, utimesSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PEERS = path.resolve(ROOT, '..', 'shared', 'bench', 'peers')
const RUNS = Number(process.env.RUNS ?? 5)
const ONLY = new RegExp(process.env.ONLY ?? '.')
const WORK = process.env.BENCH_WORK ?? (existsSync('/dev/shm') ? '/dev/shm/bucketwright-bench-upload' : '/tmp/bucketwright-bench-upload')
const SERVER_DIR = '/tmp/bucketwright-bench-upload-server'
const CONCURRENCY = process.env.CONCURRENCY ?? '64'
const AWS = '/usr/bin/aws'

for (const tool of [AWS, '/usr/bin/rclone']) {
  if (!existsSync(tool)) {
    console.error(`${tool} is missing: apt-get install -y awscli rclone (see ../shared/bench/README.md)`)
    process.exit(2)
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const {port} = server.address()
      server.close(() => resolve(port))
    })
  })

// --- the server: fauxqs 1.9.2 in a private directory, patched so that rclone can store files > 11 MiB
mkdirSync(SERVER_DIR, {recursive: true})
if (!existsSync(path.join(SERVER_DIR, 'node_modules', 'fauxqs'))) {
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', SERVER_DIR, 'fauxqs@1.9.2'], {stdio: 'inherit'})
}
execFileSync('bash', [path.join(PEERS, 'patch-fauxqs.sh'), path.join(SERVER_DIR, 'node_modules', 'fauxqs', 'dist')], {stdio: 'inherit'})
copyFileSync(path.join(PEERS, 'start-fauxqs.mjs'), path.join(SERVER_DIR, 'start-fauxqs.mjs'))
const port = await freePort()
const EP = `http://127.0.0.1:${port}`
const server = spawn(process.execPath, [path.join(SERVER_DIR, 'start-fauxqs.mjs'), String(port)], {stdio: 'ignore'})
const stopServer = () => server.kill('SIGTERM')
process.on('exit', stopServer)
for (let i = 0; ; i++) {
  if (await fetch(EP).then(() => true, () => false)) break
  if (i > 100) throw new Error('fauxqs did not start')
  await new Promise((resolve) => setTimeout(resolve, 100))
}

// --- the peers' isolated configuration (what ../shared/bench/peers/env.sh sets)
const awsConfig = path.join(WORK, 'aws-config')
mkdirSync(WORK, {recursive: true})
writeFileSync(awsConfig, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n')
const env = {
  ...process.env,
  AWS_CONFIG_FILE: awsConfig,
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_REGION: 'us-east-1',
  AWS_PAGER: '',
  AWS_EC2_METADATA_DISABLED: 'true',
  RCLONE_CONFIG: '/dev/null',
  RCLONE_CONFIG_PEER_TYPE: 's3',
  RCLONE_CONFIG_PEER_PROVIDER: 'Other',
  RCLONE_CONFIG_PEER_ENDPOINT: EP,
  RCLONE_CONFIG_PEER_ACCESS_KEY_ID: 'S3RVER',
  RCLONE_CONFIG_PEER_SECRET_ACCESS_KEY: 'S3RVER',
  RCLONE_CONFIG_PEER_REGION: 'us-east-1',
  RCLONE_CONFIG_PEER_FORCE_PATH_STYLE: 'true',
  NODE_NO_WARNINGS: '1',
}
delete env.AWS_CA_BUNDLE
delete env.AWS_PROFILE
delete env.BUCKETWRIGHT_ENDPOINT

// --- the data (generated once, kept between runs): small/d0..d4/f0000..f0999.json, large/big00..19.bin
const DATA = path.join(WORK, 'data')
execFileSync(process.execPath, [path.join(PEERS, 'gen-data.mjs'), DATA], {stdio: 'inherit'})
const listFiles = (dir) => readdirSync(dir, {recursive: true, withFileTypes: true}).filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name))
// The daemon waits for files to be stable (2 s by default): date freshly generated data back a minute.
const old = new Date(Date.now() - 60_000)
for (const file of listFiles(DATA)) if (statSync(file).mtimeMs > old.getTime()) utimesSync(file, old, old)
const sets = {}
for (const name of ['small', 'large']) {
  const files = listFiles(path.join(DATA, name))
  sets[name] = {dir: path.join(DATA, name), files: files.length, bytes: files.reduce((sum, file) => sum + statSync(file).size, 0)}
}

const s3 = (args) => spawnSync(AWS, ['--endpoint-url', EP, 's3', ...args], {env, encoding: 'utf8'})
const objectCount = (bucket) => {
  const out = spawnSync('rclone', ['lsf', '-R', '--files-only', `PEER:${bucket}`], {env, encoding: 'utf8'})
  return out.stdout.split('\n').filter(Boolean).length
}

let bucketSerial = 0
/** Each tool and round gets a fresh bucket; the daemon gets a fresh root of hard links (it deletes what it ships). */
const daemonTool = (tag, extra = []) => ({
  prepare(set) {
    const bucket = `bw-${set.name}-${tag}-${++bucketSerial}`
    s3(['mb', `s3://${bucket}`])
    const root = path.join(WORK, 'roots', bucket)
    rmSync(root, {recursive: true, force: true})
    for (const file of listFiles(set.dir)) {
      const target = path.join(root, bucket, 'p', path.relative(set.dir, file))
      mkdirSync(path.dirname(target), {recursive: true})
      linkSync(file, target)
    }
    return {bucket, cmd: [process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'upload-daemon', '--once', '-d', root, '--endpoint', EP, '--concurrency', CONCURRENCY, ...extra]], cleanup: () => rmSync(root, {recursive: true, force: true})}
  },
})
const tools = {
  daemon: daemonTool('d'),
  // Large files only: the daemon forced to multipart with 8 MiB parts (as the AWS CLI does), to show what the
  // single-PUT threshold is worth on this server.
  'daemon-mp8': {...daemonTool('m', ['--multipart-threshold', '8']), only: 'large'},
  rclone: {
    prepare(set) {
      const bucket = `bw-${set.name}-r-${++bucketSerial}`
      s3(['mb', `s3://${bucket}`])
      return {bucket, cmd: ['rclone', ['copy', '--transfers', '16', set.dir, `PEER:${bucket}/p/`]]}
    },
  },
  aws: {
    prepare(set) {
      const bucket = `bw-${set.name}-a-${++bucketSerial}`
      s3(['mb', `s3://${bucket}`])
      return {bucket, cmd: [AWS, ['--endpoint-url', EP, 's3', 'sync', '--only-show-errors', set.dir, `s3://${bucket}/p/`]]}
    },
  },
}

const results = {}
for (const setName of ['small', 'large']) {
  if (!ONLY.test(setName)) continue
  const set = {...sets[setName], name: setName}
  const names = Object.keys(tools).filter((tool) => (ONLY.test(tool) || ONLY.test(setName)) && (!tools[tool].only || tools[tool].only === setName))
  for (let round = 0; round < RUNS; round++) {
    // Rotate the order each round so no tool always runs first (warm caches, server memory).
    const order = names.map((_, i) => names[(i + round) % names.length])
    for (const tool of order) {
      const run = tools[tool].prepare(set)
      const t0 = process.hrtime.bigint()
      const out = spawnSync(run.cmd[0], run.cmd[1], {env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024})
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      const count = objectCount(run.bucket)
      run.cleanup?.()
      if (out.status !== 0 || count !== set.files) {
        console.error(`${setName} ${tool} round ${round + 1}: exit ${out.status}, ${count}/${set.files} objects\n${(out.stderr ?? '').split('\n').filter((line) => !line.includes(' INFO ')).slice(-10).join('\n')}`)
        process.exitCode = 1
        continue
      }
      ;(results[`${setName}/${tool}`] ??= []).push(seconds)
      console.error(`${setName.padEnd(5)} round ${round + 1} ${tool.padEnd(6)} ${seconds.toFixed(2)} s`)
    }
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const lines = [`## bench:upload (RUNS=${RUNS}, fauxqs 1.9.2 patched, loopback; median seconds; MB = 1e6 B)`, '', '| set | tool | median s | files/s | MB/s | daemon ÷ tool |', '|---|---|---|---|---|---|']
const summary = {}
for (const [id, times] of Object.entries(results)) {
  const [setName, tool] = id.split('/')
  const set = sets[setName]
  const m = median(times)
  summary[id] = {median: m, runs: times, filesPerSecond: set.files / m, mbPerSecond: set.bytes / 1e6 / m}
}
for (const [id, s] of Object.entries(summary)) {
  const [setName, tool] = id.split('/')
  const daemon = summary[`${setName}/daemon`]
  const ratio = daemon && tool !== 'daemon' ? `${(s.median / daemon.median).toFixed(2)}× faster` : ''
  lines.push(`| ${setName} (${sets[setName].files} files) | ${tool} | ${s.median.toFixed(2)} | ${s.filesPerSecond.toFixed(0)} | ${s.mbPerSecond.toFixed(1)} | ${ratio} |`)
}
console.log(lines.join('\n'))
mkdirSync(path.join(WORK, 'results'), {recursive: true})
writeFileSync(path.join(WORK, 'results', 'bench-upload.json'), JSON.stringify({endpoint: EP, runs: RUNS, sets, summary}, null, 2))
stopServer()
