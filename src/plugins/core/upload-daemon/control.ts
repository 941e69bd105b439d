import {spawn} from 'node:child_process'
import {open, readFile, rm, unlink} from 'node:fs/promises'
import path from 'node:path'

import {RemoteError, UserError} from '../errors/errors.js'
import {makeDirectory} from '../storage/make-directory.js'
import type {DaemonState} from './daemon.js'

/** The files of a background daemon: PID file, log file and the state file it keeps its counters in. */
export interface RunFiles {
  dir: string
  pidFile: string
  logFile: string
  stateFile: string
}

/** The `--json` result of `upload-daemon start`. */
export interface StartResult {
  pid: number
  pidFile: string
  logFile: string
  stateFile: string
}

/** The `--json` result of `upload-daemon stop`. */
export interface StopResult {
  /** Whether a daemon was running and has now stopped. */
  stopped: boolean
  pid?: number
  /** A PID file was left by a daemon that is gone; it was removed. */
  stalePidFile: boolean
  waitedMs: number
}

/** The `--json` result of `upload-daemon status`. */
export interface StatusResult {
  running: boolean
  pid?: number
  uptimeSeconds?: number
  state?: DaemonState
  logFile: string
  stalePidFile: boolean
}

/** The run files in `dir`. */
export function runFiles(dir: string): RunFiles {
  return {dir, pidFile: path.join(dir, 'upload-daemon.pid'), logFile: path.join(dir, 'upload-daemon.log'), stateFile: path.join(dir, 'upload-daemon.state.json')}
}

/** The PID in a PID file, or undefined when there is none (or it is not a number). */
export async function readPid(pidFile: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => '')
  const pid = Number.parseInt(text.trim(), 10)
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

/**
 * Whether `pid` is a running upload daemon. On Linux the command line is checked too, so a PID reused by another
 * program after a crash is not mistaken for the daemon.
 */
export async function isDaemonAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined)
  return cmdline === undefined || cmdline.includes('upload-daemon')
}

/** The state file, when there is one. */
export async function readState(stateFile: string): Promise<DaemonState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile, 'utf8')) as DaemonState
  } catch {
    return undefined
  }
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/**
 * Starts the daemon in the background: takes the PID file exclusively (a live daemon there → refused), spawns
 * `bin upload-daemon ARGS` detached with its output appended to the log file, then waits until the daemon reports
 * in through its state file (credentials checked) or exits (the log tail goes into the error).
 */
export async function startDetached(options: {files: RunFiles; bin: string; args: string[]; waitMs?: number}): Promise<StartResult> {
  const {files} = options
  await makeDirectory(files.dir)
  let pidHandle
  for (let attempt = 0; ; attempt++) {
    try {
      pidHandle = await open(files.pidFile, 'wx')
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error
      const pid = await readPid(files.pidFile)
      if (pid !== undefined && (await isDaemonAlive(pid))) {
        throw new UserError(`The upload daemon is already running (PID ${pid}); not starting a second one.`, {
          code: 'ALREADY_RUNNING',
          nextSteps: ['See what it is doing: `bucketwright upload-daemon status`.', 'Stop it first to restart with other settings: `bucketwright upload-daemon stop`.'],
          details: {pid, pidFile: files.pidFile},
        })
      }
      await unlink(files.pidFile).catch(() => {})
    }
  }
  await rm(files.stateFile, {force: true})
  const log = await open(files.logFile, 'a')
  let child
  try {
    child = spawn(process.execPath, [options.bin, 'upload-daemon', ...options.args, '--state-file', files.stateFile, '--pid-file', files.pidFile], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      cwd: process.cwd(),
      env: process.env,
    })
    await pidHandle.writeFile(`${child.pid}\n`)
  } finally {
    await pidHandle.close()
    await log.close()
  }
  const pid = child.pid!
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  const deadline = Date.now() + (options.waitMs ?? 15_000)
  while (Date.now() < deadline) {
    if (exited !== undefined) break
    const state = await readState(files.stateFile)
    if (state?.pid === pid) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.unref()
  if (exited !== undefined) {
    if ((await readPid(files.pidFile)) === pid) await unlink(files.pidFile).catch(() => {})
    throw new UserError(`The upload daemon exited at start (code ${exited}). Its log (${files.logFile}) ends with:\n${await tail(files.logFile)}`, {
      code: 'DAEMON_FAILED_TO_START',
      nextSteps: ['Fix what the log says, or run it in the foreground to see it directly: `bucketwright upload-daemon --once`.'],
      details: {exitCode: exited, logFile: files.logFile},
    })
  }
  return {pid, pidFile: files.pidFile, logFile: files.logFile, stateFile: files.stateFile}
}

/** Sends SIGTERM and waits for the daemon to finish what is in flight; removes the PID file once it is gone. */
export async function stopDaemon(options: {files: RunFiles; timeoutMs: number}): Promise<StopResult> {
  const {files} = options
  const pid = await readPid(files.pidFile)
  if (pid === undefined) return {stopped: false, stalePidFile: false, waitedMs: 0}
  if (!(await isDaemonAlive(pid))) {
    await unlink(files.pidFile).catch(() => {})
    return {stopped: false, pid, stalePidFile: true, waitedMs: 0}
  }
  const started = Date.now()
  process.kill(pid, 'SIGTERM')
  while (await isDaemonAlive(pid)) {
    if (Date.now() - started > options.timeoutMs) {
      throw new RemoteError(`The upload daemon (PID ${pid}) is still finishing its uploads after ${Math.round(options.timeoutMs / 1000)} s.`, {
        code: 'STOP_TIMEOUT',
        nextSteps: [
          'Wait and run `bucketwright upload-daemon stop` again, or give it longer with --timeout.',
          `Force it with \`kill -9 ${pid}\`: nothing is lost (unverified files are never deleted), uploads restart on the next start.`,
        ],
        details: {pid},
      })
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if ((await readPid(files.pidFile)) === pid) await unlink(files.pidFile).catch(() => {})
  return {stopped: true, pid, stalePidFile: false, waitedMs: Date.now() - started}
}

/** PID, uptime and counters of the background daemon. */
export async function daemonStatus(files: RunFiles): Promise<StatusResult> {
  const pid = await readPid(files.pidFile)
  if (pid === undefined) return {running: false, logFile: files.logFile, stalePidFile: false}
  if (!(await isDaemonAlive(pid))) return {running: false, pid, logFile: files.logFile, stalePidFile: true, state: await readState(files.stateFile)}
  const state = await readState(files.stateFile)
  const uptimeSeconds = state?.pid === pid ? Math.round((Date.now() - Date.parse(state.startedAt)) / 1000) : undefined
  return {running: true, pid, uptimeSeconds, state: state?.pid === pid ? state : undefined, logFile: files.logFile, stalePidFile: false}
}
