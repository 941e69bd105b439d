import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, runCli} from '../helpers/cli.js'
import {fileSystemError} from '../../src/plugins/core/errors/filesystem.js'
import {UserError} from '../../src/plugins/core/errors/errors.js'
import {makeDirectory} from '../../src/plugins/core/storage/make-directory.js'

/**
 * Errors of the local disk are the user's to fix, never a bug: each ends as a UserError (exit 1) naming the path and
 * what to do. Produced for real: another user's folder (run as nobody), a full and a read-only file system (a tmpfs
 * in a mount namespace of its own), a file in the way, and /proc, where Node's recursive mkdir spins forever.
 */

interface ErrorDocument {
  error: {code: string; message: string; cause: string; exitCode: number; nextSteps: string[]; details: Record<string, unknown>}
}

const NOBODY = 65534
const asRoot = process.getuid?.() === 0
const canSetpriv = asRoot && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']).status === 0
/** Whether this process may mount a tmpfs in a mount namespace of its own (root, outside a locked-down container). */
const canMount = asRoot && spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt']).status === 0
if (!canSetpriv) console.warn('SKIPPED (test/safety/filesystem.test.ts): cannot run a command as another user here (needs root and setpriv); chmod does not stop root.')
if (!canMount) console.warn('SKIPPED (test/safety/filesystem.test.ts): cannot mount a tmpfs in a mount namespace here (needs root and unshare -m); the full and read-only disk cases did not run.')

let T = ''
let raw = ''
const node = process.execPath

beforeAll(async () => {
  T = await mkdtemp(path.join(os.tmpdir(), 'bw-fs-'))
  await chmod(T, 0o755)
  raw = path.join(T, 'raw')
  // Two hours of bustimes objects: enough to write a few hundred KB of output.
  const made = await runCli(['generate', raw, '--source', 'bustimes', '--from', '2021-11-08', '--to', '2021-11-08T02', '--rate', '30'])
  expect(made.code).toBe(0)
  execFileSync('chmod', ['-R', 'a+rX', raw])
}, 120_000)
afterAll(async () => {
  await rm(T, {recursive: true, force: true})
})

const convertArgs = (output: string) => ['convert', raw, output, '--source', 'bustimes', '--bucket', 'hour', '--to', '2021-11-08T02', '--compression', 'none', '--json']

/** `bin/run.js ARGS` in a mount namespace where `mountpoint` is a tmpfs with `options`; then lists what is left there. */
function inTmpfs(mountpoint: string, options: string, args: string[]): {code: number | null; error: ErrorDocument['error']; left: string} {
  const quoted = [node, BIN, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ')
  const script = `mount -t tmpfs -o ${options} tmpfs '${mountpoint}' || exit 99; ${quoted} > '${T}/stdout'; code=$?; find '${mountpoint}' -mindepth 1 > '${T}/left'; exit $code`
  const run = spawnSync('unshare', ['-m', 'sh', '-c', script], {encoding: 'utf8', env: {...process.env, XDG_CACHE_HOME: path.join(T, 'cache')}})
  const stdout = execFileSync('cat', [`${T}/stdout`], {encoding: 'utf8'})
  return {code: run.status, error: (JSON.parse(stdout) as ErrorDocument).error, left: execFileSync('cat', [`${T}/left`], {encoding: 'utf8'})}
}

describe('local file-system errors are user errors naming the path', () => {
  it.skipIf(!canMount)('a full disk (ENOSPC): DISK_FULL naming the file, and no temp file left behind', async () => {
    const mnt = path.join(T, 'full')
    await mkdir(mnt)
    const run = inTmpfs(mnt, 'size=128k', convertArgs(path.join(mnt, 'out')))
    expect(run.code).toBe(1)
    expect(run.error).toMatchObject({code: 'DISK_FULL', cause: 'user', exitCode: 1, details: {errno: 'ENOSPC'}})
    expect(run.error.message).toContain(path.join(mnt, 'out'))
    expect(run.error.nextSteps.join(' ')).toMatch(/Free space/)
    expect(run.left).not.toContain('.bw-tmp-')
  })

  it.skipIf(!canMount)('a read-only file system (EROFS): READ_ONLY_FILE_SYSTEM naming the folder', async () => {
    const mnt = path.join(T, 'readonly')
    await mkdir(mnt)
    const run = inTmpfs(mnt, 'ro,size=64k', convertArgs(path.join(mnt, 'out')))
    expect(run.code).toBe(1)
    expect(run.error).toMatchObject({code: 'READ_ONLY_FILE_SYSTEM', cause: 'user', exitCode: 1})
    expect(run.error.message).toContain(path.join(mnt, 'out'))
  })

  it.skipIf(!canSetpriv)("another user's folder (EACCES), for an output and for an input: PERMISSION_DENIED naming it", async () => {
    const home = path.join(T, 'nobody')
    await mkdir(home)
    await chown(home, NOBODY, NOBODY)
    const locked = path.join(T, 'root-only')
    await mkdir(locked, {mode: 0o755})
    const secret = path.join(T, 'secret')
    await mkdir(secret, {mode: 0o700})
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', node, BIN, ...args], {encoding: 'utf8', env: {...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, 'cache')}})

    const output = asNobody(convertArgs(path.join(locked, 'out')))
    expect(output.status).toBe(1)
    const written = (JSON.parse(output.stdout) as ErrorDocument).error
    expect(written).toMatchObject({code: 'PERMISSION_DENIED', cause: 'user', details: {path: path.join(locked, 'out'), errno: 'EACCES'}})
    expect(written.nextSteps.join(' ')).toContain(path.join(locked, 'out'))

    const input = asNobody(['convert', secret, path.join(home, 'out'), '--source', 'bustimes', '--json'])
    expect(input.status).toBe(1)
    expect((JSON.parse(input.stdout) as ErrorDocument).error).toMatchObject({code: 'PERMISSION_DENIED', details: {path: secret}})
    expect(existsSync(path.join(home, 'out'))).toBe(false)
  })

  it('a file where a folder of the output must go (ENOTDIR at write time): a user error naming it', async () => {
    const output = path.join(T, 'out-with-file')
    await mkdir(output)
    await writeFile(path.join(output, '2021'), 'in the way')
    const run = await runCli([...convertArgs(output), '--key-template', '{YYYY}/{MM}-{DD}T{HH}.jsonl'])
    expect(run.code).toBe(1)
    const {error} = JSON.parse(run.stdout) as ErrorDocument
    expect(error).toMatchObject({code: 'NOT_A_DIRECTORY', cause: 'user'})
    expect(error.message).toContain(path.join(output, '2021'))
  })

  it('an output under /proc fails at once instead of spinning in mkdir', async () => {
    // A timeout here (runCli kills the command after 20 s) means the old endless loop.
    const run = await runCli(['generate', '/proc/bw-no-such-dir/out', '--source', 'bustimes', '--from', '2021-11-08', '--to', '2021-11-08T01', '--json'], {timeoutMs: 20_000})
    expect(run.code).toBe(1)
    expect((JSON.parse(run.stdout) as ErrorDocument).error).toMatchObject({code: 'CANNOT_CREATE_DIRECTORY', cause: 'user', details: {path: '/proc/bw-no-such-dir'}})
  })

  it('a compile cache under /proc does not hang start-up', async () => {
    const run = await runCli(['--version'], {env: {XDG_CACHE_HOME: '/proc/bw-no-such-dir', NODE_COMPILE_CACHE: undefined}, timeoutMs: 20_000})
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^bucketwright\//)
  })
})

describe('makeDirectory', () => {
  it('makes missing parents, accepts an existing folder or a link to one, and is safe to race', async () => {
    const deep = path.join(T, 'made', 'a', 'b', 'c')
    await Promise.all(Array.from({length: 8}, () => makeDirectory(deep)))
    expect(await readdir(path.join(T, 'made', 'a', 'b'))).toEqual(['c'])
    await makeDirectory(deep)
    execFileSync('ln', ['-s', deep, path.join(T, 'made', 'link')])
    await makeDirectory(path.join(T, 'made', 'link'))
  })

  it('under a dangling symbolic link: a user error, not an endless loop', async () => {
    const dangling = path.join(T, 'dangling')
    execFileSync('ln', ['-s', path.join(T, 'gone'), dangling])
    await expect(makeDirectory(path.join(dangling, 'x'))).rejects.toBeInstanceOf(UserError)
    await expect(makeDirectory(dangling)).rejects.toThrow(/broken symbolic link/)
  })

  it('translates real errors of the file system, and leaves other errors alone', async () => {
    const full = await writeFile('/dev/full', 'x').catch((error: unknown) => error)
    expect(fileSystemError(full)).toMatchObject({code: 'DISK_FULL', exitCode: 1})
    const missing = await readdir(path.join(T, 'nope')).catch((error: unknown) => error)
    expect(fileSystemError(missing)).toMatchObject({code: 'NO_SUCH_FILE', details: {path: path.join(T, 'nope')}})
    expect(fileSystemError(new Error('boom'))).toBeUndefined()
    expect(fileSystemError(Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED', syscall: 'connect'}))).toBeUndefined()
  })
})
