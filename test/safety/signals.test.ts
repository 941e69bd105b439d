import {type ChildProcess, execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {BIN} from '../helpers/cli.js'
import {createTestBucket, s3Env} from '../helpers/s3.js'
import {until} from '../helpers/wait.js'

/**
 * A Node older than 22 outside node_modules (the system's), on which bin/run.js re-runs itself on the bundled Node:
 * the case where the process a user signals is not the one doing the work.
 */
function systemOldNode(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/bin', '/usr/bin', '/bin']
  for (const dir of dirs.filter((entry) => entry && !entry.includes('node_modules'))) {
    const candidate = path.join(dir, 'node')
    if (!existsSync(candidate)) continue
    try {
      const major = Number(execFileSync(candidate, ['-p', 'process.versions.node.split(".")[0]'], {encoding: 'utf8'}).trim())
      if (major < 22) return candidate
    } catch {
      // Not a working node.
    }
  }
  return undefined
}

const oldNode = systemOldNode()
if (!oldNode) console.warn('SKIPPED test/safety/signals.test.ts: no Node < 22 outside node_modules on this machine, so bin/run.js never re-runs itself here.')

/** The processes whose parent is `pid` (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Whether a process runs (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

const started: ChildProcess[] = []
const strays: number[] = []
const temps: string[] = []

afterEach(() => {
  for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL')
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, {recursive: true, force: true})))
})

/** Starts `bin/run.js ARGS` on the system's old Node; resolves once bin/run.js has started the real process. */
async function startOnOldNode(args: string[], env: Record<string, string>) {
  const child = spawn(oldNode!, [BIN, ...args], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  started.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  child.stdout!.resume()
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})))
  const real = await until('the re-run on the bundled Node', () => childrenOf(child.pid!)[0])
  strays.push(real)
  return {child, real, exited, stderr: () => stderr}
}

describe.skipIf(!oldNode)('signals reach the real process when bin/run.js re-runs itself on the bundled Node', () => {
  /** A foreground daemon on the loopback S3 server, proven to be working (it shipped a file) before the signal. */
  async function workingDaemon() {
    const bucket = await createTestBucket('bw-signal')
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-signal-'))
    temps.push(root)
    await mkdir(path.join(root, bucket))
    const daemon = await startOnOldNode(['upload-daemon', '-d', root, '-i', '1', '-s', '0'], {...s3Env(), AWS_EC2_METADATA_DISABLED: 'true'})
    await writeFile(path.join(root, bucket, 'first.txt'), 'shipped before the signal')
    await until('the first upload', () => !existsSync(path.join(root, bucket, 'first.txt')))
    return daemon
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the PID the user started stops upload-daemon cleanly, and no process is left`, async () => {
      const daemon = await workingDaemon()
      expect(daemon.real).not.toBe(daemon.child.pid)
      expect(alive(daemon.real)).toBe(true)
      daemon.child.kill(signal)
      // The daemon's grace period: it finishes what is in flight (nothing here) and exits.
      const end = await Promise.race([daemon.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000))])
      expect(end).toEqual({code: 0, signal: null})
      expect(daemon.stderr()).toMatch(/Stopping: single uploads in flight finish/)
      await until('the real process to be gone', () => !alive(daemon.real), 5000)
      expect(alive(daemon.real)).toBe(false)
    })
  }

  it('a signal the command does not handle ends both processes, and the parent ends by that signal too', async () => {
    const daemon = await workingDaemon()
    daemon.child.kill('SIGHUP')
    expect(await daemon.exited).toEqual({code: null, signal: 'SIGHUP'})
    await until('the real process to be gone', () => !alive(daemon.real), 5000)
  })

  it('when the PID the user started is killed outright (SIGKILL), the real process stops cleanly by itself', async () => {
    const daemon = await workingDaemon()
    daemon.child.kill('SIGKILL')
    await daemon.exited
    await until('the real process to notice and stop', () => !alive(daemon.real), 20_000)
    expect(daemon.stderr()).toMatch(/Stopping: single uploads in flight finish/)
  })

  it('a background daemon started through the old Node (upload-daemon start) outlives the command that started it', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-signal-bg-'))
    temps.push(root)
    const runDir = path.join(root, 'run')
    const env = {...process.env, ...s3Env(), AWS_EC2_METADATA_DISABLED: 'true'}
    const start = spawnSync(oldNode!, [BIN, 'upload-daemon', 'start', '-d', root, '--run-dir', runDir, '--json'], {env, encoding: 'utf8'})
    expect(start.status, start.stderr).toBe(0)
    const {pid} = JSON.parse(start.stdout) as {pid: number}
    strays.push(pid)
    // Longer than the re-run's watch for a vanished starter (1 s): the daemon is not its direct child, so stays.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(alive(pid)).toBe(true)
    const stop = spawnSync(oldNode!, [BIN, 'upload-daemon', 'stop', '--run-dir', runDir], {env, encoding: 'utf8'})
    expect(stop.status, stop.stderr).toBe(0)
    expect(alive(pid)).toBe(false)
  })

  it("passes the real process's exit code on", async () => {
    const run = spawn(oldNode!, [BIN, 'no-such-command'], {stdio: ['ignore', 'ignore', 'pipe']})
    started.push(run)
    let stderr = ''
    run.stderr!.on('data', (chunk) => (stderr += chunk))
    const code = await new Promise<number | null>((resolve) => run.on('exit', resolve))
    expect(code).toBe(2)
    expect(stderr).toMatch(/no-such-command/)
  })
})

describe('a SIGTERM while upload-daemon waits on its start-up checks', () => {
  it('stops it at once (exit 0, nothing shipped), not after the credential check times out', async () => {
    // An endpoint that accepts connections and never answers: the credential check would wait out its 15 s timeout.
    const silent = net.createServer((socket) => socket.on('error', () => {}))
    const connected = new Promise<void>((resolve) => silent.once('connection', () => resolve()))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-signal-'))
    temps.push(root)
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`
      const daemon = spawn(process.execPath, [BIN, 'upload-daemon', '-d', root, '-i', '1'], {env: {...process.env, ...s3Env(endpoint), AWS_EC2_METADATA_DISABLED: 'true'}, stdio: ['ignore', 'ignore', 'pipe']})
      started.push(daemon)
      let stderr = ''
      daemon.stderr!.on('data', (chunk) => (stderr += chunk))
      const exited = new Promise<number | null>((resolve) => daemon.on('exit', resolve))
      await connected
      daemon.kill('SIGTERM')
      // Well under the check's own 15 s timeout: the signal, not the timeout, ended it.
      const end = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000))])
      expect(end, stderr).toBe(0)
      expect(stderr).toMatch(/Stopped before the first scan/)
      expect(stderr).not.toMatch(/ERROR/)
    } finally {
      silent.close()
    }
  })
})
