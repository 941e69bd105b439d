import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {appendFile, mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, testS3Client} from '../helpers/s3.js'
import {until} from '../helpers/wait.js'
import {bucketKeys, daemonEnv, makeRoot, objectBody, writeStable} from './helpers.js'

const client = testS3Client()
const children: ChildProcess[] = []
let proxy: FaultProxy

beforeAll(async () => {
  proxy = await new FaultProxy(s3Endpoint()).start()
})
afterAll(async () => {
  await proxy.stop()
})
afterEach(() => {
  proxy.latencyMs = 0
  proxy.plan = () => ({type: 'pass'})
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
})

/** Starts `upload-daemon ARGS` in the foreground, as systemd would; stderr is collected. */
function foreground(args: string[], env: Record<string, string | undefined> = {}): {child: ChildProcess; stderr: () => string; exited: Promise<number | null>} {
  const child = spawn(process.execPath, [BIN, 'upload-daemon', ...args], {env: {...process.env, ...daemonEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {child, stderr: () => stderr, exited}
}

/** Whether a process runs (a zombie left to a container's PID 1 that does not reap counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return !/^\d+ \(.*\) Z/.test(stat)
}

describe('upload-daemon start | status | stop', () => {
  it('starts in the background, refuses a second start, reports PID, uptime and counters, and stops cleanly', async () => {
    const root = await makeRoot()
    const runDir = await makeRoot()
    const bucket = await createTestBucket('bw-life')
    const env = daemonEnv()
    const started = await runCli(['upload-daemon', 'start', '-d', root, '-i', '1', '-s', '0', '--run-dir', runDir, '--bucket-map', `alias_dir=${bucket}`, '--json'], {env})
    expect(started.code).toBe(0)
    const {pid, logFile} = JSON.parse(started.stdout) as {pid: number; logFile: string}
    expect(alive(pid)).toBe(true)
    expect((await readFile(path.join(runDir, 'upload-daemon.pid'), 'utf8')).trim()).toBe(String(pid))

    const again = await runCli(['upload-daemon', 'start', '-d', root, '--run-dir', runDir], {env})
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already running \(PID \d+\)/)
    expect(alive(pid)).toBe(true)

    await mkdir(path.join(root, bucket), {recursive: true})
    await writeFile(path.join(root, bucket, 'bg.txt'), 'background')
    await until('the upload', async () => (await objectBody(client, bucket, 'bg.txt'))?.toString() === 'background' && !existsSync(path.join(root, bucket, 'bg.txt')))

    const status = await until('counters in status', async () => {
      const run = await runCli(['upload-daemon', 'status', '--run-dir', runDir, '--json'], {env})
      const parsed = JSON.parse(run.stdout) as {running: boolean; pid: number; uptimeSeconds: number; state: {counters: {uploaded: number; scans: number}}}
      return run.code === 0 && parsed.state?.counters.uploaded === 1 ? parsed : undefined
    })
    expect(status).toMatchObject({running: true, pid})
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0)
    expect(status.state.counters.scans).toBeGreaterThanOrEqual(1)
    const text = await runCli(['upload-daemon', 'status', '--run-dir', runDir], {env})
    expect(text.stdout).toMatch(new RegExp(`running\\s+PID ${pid}\\s+uptime \\d+s`))
    expect(text.stdout).toMatch(/uploaded 1 /)

    // Two files for one key: held back, and status says so.
    await writeStable(path.join(root, bucket, 'c.txt'), 'one')
    await writeStable(path.join(root, 'alias_dir', 'c.txt'), 'two')
    await until('the collision in status', async () => {
      const run = await runCli(['upload-daemon', 'status', '--run-dir', runDir], {env})
      return /held\s+key collisions 2/.test(run.stdout)
    })
    expect(await readFile(path.join(root, 'alias_dir', 'c.txt'), 'utf8')).toBe('two')

    const stopped = await runCli(['upload-daemon', 'stop', '--run-dir', runDir, '--json'], {env})
    expect(stopped.code).toBe(0)
    expect(JSON.parse(stopped.stdout)).toMatchObject({stopped: true, pid})
    expect(alive(pid)).toBe(false)
    expect(existsSync(path.join(runDir, 'upload-daemon.pid'))).toBe(false)
    expect(await readFile(logFile, 'utf8')).toMatch(/INFO Uploaded .*bg\.txt/)

    const after = await runCli(['upload-daemon', 'status', '--run-dir', runDir], {env})
    expect(after.code).toBe(1)
    expect(after.stdout).toMatch(/not running/)
    const stopAgain = await runCli(['upload-daemon', 'stop', '--run-dir', runDir, '--json'], {env})
    expect(JSON.parse(stopAgain.stdout)).toMatchObject({stopped: false})
  })

  it('start reports a daemon that dies at start (bad credentials) with the end of its log, and leaves no PID file', async () => {
    const runDir = await makeRoot()
    proxy.plan = ({method, url}) => (method === 'GET' && url.split('?')[0] === '/' ? {type: 'status', status: 403, code: 'SignatureDoesNotMatch'} : {type: 'pass'})
    const run = await runCli(['upload-daemon', 'start', '-d', await makeRoot(), '--endpoint', proxy.endpoint, '--run-dir', runDir], {env: daemonEnv()})
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/exited at start/)
    expect(run.stderr).toMatch(/rejected/)
    expect(existsSync(path.join(runDir, 'upload-daemon.pid'))).toBe(false)
  })
})

describe('upload-daemon in the foreground', () => {
  it('uploads a file that is being appended to only once it is stable, whole, and only once', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-life')
    const file = path.join(root, bucket, 'growing.log')
    await mkdir(path.dirname(file), {recursive: true})
    const daemon = foreground(['-d', root, '-i', '1', '-s', '1', '--endpoint', proxy.endpoint])
    const from = proxy.requests.length
    let expected = ''
    for (let i = 0; i < 14; i++) {
      const line = `line ${i} ${randomBytes(16).toString('hex')}\n`
      await appendFile(file, line)
      expected += line
      await new Promise((resolve) => setTimeout(resolve, 250))
      // While it is being written, the file is never shipped.
      expect(existsSync(file)).toBe(true)
    }
    await until('the finished file in the bucket', async () => !existsSync(file) && (await objectBody(client, bucket, 'growing.log')))
    expect((await objectBody(client, bucket, 'growing.log'))?.toString()).toBe(expected)
    const puts = proxy.requests.slice(from).filter((request) => request.method === 'PUT' && request.url.includes('growing.log'))
    expect(puts).toHaveLength(1)
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
  })

  it('SIGTERM during a multipart upload: aborts it cleanly, keeps the local file, exits 0', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-life')
    const big = randomBytes(17 * 1024 * 1024)
    await writeStable(path.join(root, bucket, 'big.bin'), big)
    proxy.latencyMs = 400
    const from = proxy.requests.length
    const daemon = foreground(['-d', root, '-i', '60', '--multipart-threshold', '8', '--endpoint', proxy.endpoint])
    await until('a part upload', () => proxy.requests.slice(from).some((request) => request.method === 'PUT' && request.url.includes('partNumber=')))
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
    expect(existsSync(path.join(root, bucket, 'big.bin'))).toBe(true)
    expect(await bucketKeys(client, bucket)).toEqual([])
    expect(proxy.requests.slice(from).some((request) => request.method === 'DELETE' && request.url.includes('uploadId='))).toBe(true)
    expect(daemon.stderr()).toMatch(/WARN Upload of .*big\.bin aborted on shutdown/)
  })

  it('SIGKILL in the middle of a multipart upload, then a restart: every file arrives once and whole; nothing deleted before its verified upload', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-life')
    const files = new Map<string, Buffer>()
    for (let i = 0; i < 2; i++) files.set(`big/${i}.bin`, randomBytes(9 * 1024 * 1024 + i))
    for (let i = 0; i < 20; i++) files.set(`small/${i}.txt`, randomBytes(500 + i))
    for (const [name, content] of files) await writeStable(path.join(root, bucket, name), content)
    proxy.latencyMs = 150
    let from = proxy.requests.length
    const daemon = foreground(['-d', root, '-i', '60', '--concurrency', '4', '--multipart-threshold', '8', '--endpoint', proxy.endpoint])
    await until('a part upload', () => proxy.requests.slice(from).some((request) => request.method === 'PUT' && request.url.includes('partNumber=')))
    daemon.child.kill('SIGKILL')
    await daemon.exited
    // At the moment of the crash: each file is either still here, untouched, or in the bucket, whole.
    let local = 0
    for (const [name, content] of files) {
      if (existsSync(path.join(root, bucket, name))) {
        local++
        expect((await readFile(path.join(root, bucket, name))).equals(content)).toBe(true)
      } else {
        expect((await objectBody(client, bucket, name))?.equals(content)).toBe(true)
      }
    }
    expect(local).toBeGreaterThan(0)
    const before = new Set(await bucketKeys(client, bucket))

    proxy.latencyMs = 0
    from = proxy.requests.length
    const rerun = foreground(['--once', '-d', root, '--multipart-threshold', '8', '--endpoint', proxy.endpoint])
    expect(await rerun.exited).toBe(0)
    for (const [name, content] of files) {
      expect(existsSync(path.join(root, bucket, name))).toBe(false)
      expect((await objectBody(client, bucket, name))?.equals(content)).toBe(true)
    }
    // Once: nothing already in the bucket was sent again, and each remaining file exactly once.
    const requests = proxy.requests.slice(from)
    for (const name of files.keys()) {
      const puts = requests.filter((request) => request.method === 'PUT' && request.url.split('?')[0].endsWith(`/${name}`) && !request.url.includes('partNumber='))
      const completes = requests.filter((request) => request.method === 'POST' && request.url.split('?')[0].endsWith(`/${name}`) && request.url.includes('uploadId='))
      expect(puts.length + completes.length).toBe(before.has(name) ? 0 : 1)
    }
  })
})
