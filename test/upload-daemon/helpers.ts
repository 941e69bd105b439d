import {GetObjectCommand, ListObjectsV2Command, S3Client} from '@aws-sdk/client-s3'
import {type ChildProcess, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, lchownSync, lstatSync, readdirSync} from 'node:fs'
import {mkdir, mkdtemp, rm, utimes, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, onTestFinished} from 'vitest'

import {BIN, runInProcess} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {credentialsFor, s3Env} from '../helpers/s3.js'

/** Folders made by {@link makeRoot} outside a test (removed by {@link removeRoots}). */
const leftover: string[] = []

/** Gives every directory under `dir` its owner's permissions back, so that it can be removed. */
function unlock(dir: string): void {
  try {
    chmodSync(dir, 0o700)
    for (const entry of readdirSync(dir, {withFileTypes: true})) if (entry.isDirectory() && !entry.isSymbolicLink()) unlock(path.join(dir, entry.name))
  } catch {
    // Best effort: rm reports what is left.
  }
}

async function removeRoot(dir: string): Promise<void> {
  unlock(dir)
  await rm(dir, {recursive: true, force: true})
}

/** A fresh root directory for one test, removed when the test ends (unreadable entries included). */
export async function makeRoot(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bw-daemon-'))
  try {
    onTestFinished(() => removeRoot(root))
  } catch {
    leftover.push(root)
  }
  return root
}

/** Removes the roots made outside a test (call from afterAll). */
export async function removeRoots(): Promise<void> {
  await Promise.all(leftover.splice(0).map((dir) => removeRoot(dir)))
}

/** Writes a file and dates it back, so the daemon sees it as stable. */
export async function writeStable(file: string | Buffer, content: string | Buffer, ageSeconds = 30): Promise<void> {
  await mkdir(path.dirname(file.toString()), {recursive: true})
  await writeFile(file, content)
  const then = new Date(Date.now() - ageSeconds * 1000)
  await utimes(file, then, then)
}

/** The body of an object, or undefined when there is none. */
export async function objectBody(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({Bucket: bucket, Key: key}))
    return Buffer.from(await out.Body!.transformToByteArray())
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey' || (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return undefined
    throw error
  }
}

/** SHA-256 (hex) of bytes. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Every key in a bucket. */
export async function bucketKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const out = await client.send(new ListObjectsV2Command({Bucket: bucket, ContinuationToken: token}))
    keys.push(...(out.Contents ?? []).map((item) => item.Key!))
    token = out.IsTruncated ? out.NextContinuationToken : undefined
  } while (token)
  return keys.sort()
}

/** Environment for daemon runs against the loopback server: no metadata service, fast retries. */
export function daemonEnv(endpoint?: string): Record<string, string> {
  return {...s3Env(endpoint), AWS_EC2_METADATA_DISABLED: 'true'}
}

/** Runs `upload-daemon ARGS` in this process with the loopback environment. */
export async function runDaemon(args: string[], env: Record<string, string | undefined> = {}) {
  const saved: Record<string, string | undefined> = {}
  const all = {...daemonEnv(), ...env}
  for (const [key, value] of Object.entries(all)) {
    saved[key] = process.env[key]
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  try {
    return await runInProcess<Record<string, unknown>>(['upload-daemon', ...args])
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}

/**
 * Root ignores file permissions, so a test of unreadable entries runs the daemon as `nobody` (setpriv) when the
 * suite runs as root (as here and in CI), and as the current user otherwise (where chmod works as it is).
 */
export const AS_ROOT = process.getuid?.() === 0
const NOBODY = 65534

/**
 * Hands a tree over to the user the daemon runs as in {@link spawnDaemon}: as root, everything under `dir` (and `dir`
 * itself) becomes nobody's, except the paths in `keep`, which stay root's (so that mode 000 shuts nobody out).
 */
export function handOver(dir: string, keep: string[] = []): void {
  if (!AS_ROOT) return
  const kept = new Set(keep.map((entry) => path.resolve(entry)))
  // Paths as bytes: names that are not UTF-8 must be reached too.
  const walk = (entry: Buffer) => {
    if (kept.has(entry.toString())) return
    lchownSync(entry, NOBODY, NOBODY)
    if (!lstatSync(entry).isDirectory()) return
    for (const name of readdirSync(entry, {encoding: 'buffer'})) walk(Buffer.concat([entry, Buffer.from('/'), name]))
  }
  walk(Buffer.from(path.resolve(dir)))
}

/** A spawned daemon: its process, its output so far, and its exit. */
export interface SpawnedDaemon {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number>
}

/**
 * Spawns `bucketwright upload-daemon ARGS` (the built CLI) as the unprivileged user of {@link handOver} when the
 * suite runs as root, with a HOME of its own. The caller kills it (or it exits by itself with --once).
 */
export async function spawnDaemon(args: string[], env: Record<string, string>): Promise<SpawnedDaemon> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'bw-daemon-home-'))
  handOver(home)
  const command = AS_ROOT ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, BIN] : [process.execPath, BIN]
  const child = spawn(command[0], [...command.slice(1), 'upload-daemon', ...args], {
    env: {...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache'), XDG_DATA_HOME: path.join(home, '.local/share'), ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += chunk))
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => {
      void rm(home, {recursive: true, force: true})
      resolve(code ?? (signal ? 128 : 1))
    }),
  )
  try {
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
  } catch {
    // Outside a test: the caller stops it.
  }
  return {child, stdout: () => stdout, stderr: () => stderr, exited}
}

/**
 * For one describe block: a client of the store (no checksums it was not asked for, as the daemon's peers) and a
 * fault proxy in front of it, started before the block's tests and stopped after them.
 */
export function storeBehindProxy(endpoint: string): {client: S3Client; proxy: FaultProxy} {
  const store = {
    client: new S3Client({endpoint, region: 'us-east-1', forcePathStyle: true, credentials: credentialsFor(endpoint), requestChecksumCalculation: 'WHEN_REQUIRED'}),
    proxy: new FaultProxy(endpoint),
  }
  beforeAll(async () => {
    await store.proxy.start()
  })
  afterAll(async () => {
    await store.proxy.stop()
    store.client.destroy()
  })
  return store
}
