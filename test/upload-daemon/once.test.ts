import {PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {Upload} from '@aws-sdk/lib-storage'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, stat, symlink, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, TEST_CREDENTIALS, testS3Client} from '../helpers/s3.js'
import {bucketKeys, makeRoot, objectBody, runDaemon, writeStable} from './helpers.js'

const client = testS3Client()
/** For arranging multipart objects: without the SDK's streamed CRC32, which the loopback server handles slowly. */
const leanClient = new S3Client({endpoint: s3Endpoint(), region: 'us-east-1', forcePathStyle: true, credentials: TEST_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED'})
let proxy: FaultProxy

beforeAll(async () => {
  proxy = await new FaultProxy(s3Endpoint()).start()
})
afterAll(async () => {
  await proxy.stop()
})

/** Requests the proxy saw for one bucket since `from`, as "METHOD path". */
function seen(bucket: string, from: number): string[] {
  return proxy.requests
    .slice(from)
    .filter((request) => request.url.startsWith(`/${bucket}`))
    .map((request) => `${request.method} ${request.url}`)
}

describe('upload-daemon --once', () => {
  it('uploads <root>/<bucket>/<key>, deletes verified files, and keeps the folders (see directories.test.ts)', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await writeStable(path.join(root, bucket, 'a.txt'), 'alpha\n')
    await writeStable(path.join(root, bucket, '2026', '11', 'b.json'), '{"b":1}\n')
    await writeStable(path.join(root, bucket, 'deep', 'er', 'c d+é.bin'), randomBytes(3000))
    const deepContent = await readFile(path.join(root, bucket, 'deep', 'er', 'c d+é.bin'))

    const run = await runDaemon(['--once', '-d', root])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({mode: 'once', counters: {uploaded: 3, failed: 0}})
    expect(await bucketKeys(client, bucket)).toEqual(['2026/11/b.json', 'a.txt', 'deep/er/c d+é.bin'])
    expect((await objectBody(client, bucket, 'a.txt'))?.toString()).toBe('alpha\n')
    expect(await objectBody(client, bucket, 'deep/er/c d+é.bin')).toEqual(deepContent)
    expect(existsSync(path.join(root, bucket, 'a.txt'))).toBe(false)
    expect(existsSync(path.join(root, bucket, '2026', '11', 'b.json'))).toBe(false)
    expect(existsSync(path.join(root, bucket, '2026', '11'))).toBe(true)
    expect(existsSync(path.join(root, bucket, 'deep', 'er'))).toBe(true)
    expect(existsSync(path.join(root, bucket))).toBe(true)
    expect(existsSync(root)).toBe(true)
    expect(run.stderr).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO Uploaded .*a\.txt → s3:\/\/bw-daemon-[0-9a-f]+\/a\.txt/m)
  })

  it('leaves files younger than --stability alone and uploads them once they are stable', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await writeStable(path.join(root, bucket, 'old.txt'), 'old')
    await mkdir(path.join(root, bucket), {recursive: true})
    await writeFile(path.join(root, bucket, 'fresh.txt'), 'fresh')

    const first = await runDaemon(['--once', '-d', root, '-s', '5'])
    expect(first.exitCode).toBe(0)
    expect(await bucketKeys(client, bucket)).toEqual(['old.txt'])
    expect(existsSync(path.join(root, bucket, 'fresh.txt'))).toBe(true)
    expect(first.stderr).toMatch(/WARN 1 file\(s\) modified less than 5 s ago/)

    const second = await runDaemon(['--once', '-d', root, '-s', '0'])
    expect(second.exitCode).toBe(0)
    expect(await bucketKeys(client, bucket)).toEqual(['fresh.txt', 'old.txt'])
  })

  it('reports directories that are not valid bucket names, and uploads them with --bucket-map', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-colony')
    await writeStable(path.join(root, 'distributed_colony', 'x', 'y.txt'), 'colony')

    const unmapped = await runDaemon(['--once', '-d', root])
    // Files left behind because of an error: cron must see it.
    expect(unmapped.exitCode).toBe(1)
    expect(unmapped.stderr).toMatch(/ERROR Directory "distributed_colony" is not a valid S3 bucket name; 1 file\(s\) under it skipped\. Map it to a real bucket: --bucket-map distributed_colony=<bucket>/)
    expect(existsSync(path.join(root, 'distributed_colony', 'x', 'y.txt'))).toBe(true)

    const mapped = await runDaemon(['--once', '-d', root, '--bucket-map', `distributed_colony=${bucket}`])
    expect(mapped.exitCode).toBe(0)
    expect((await objectBody(client, bucket, 'x/y.txt'))?.toString()).toBe('colony')
    expect(existsSync(path.join(root, 'distributed_colony'))).toBe(true)
    expect(existsSync(path.join(root, 'distributed_colony', 'x', 'y.txt'))).toBe(false)
  })

  it('refuses a --bucket-map whose target is not a valid bucket name (usage error, exit 2)', async () => {
    const run = await runDaemon(['--once', '-d', await makeRoot(), '--bucket-map', 'a=Not_Valid'])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toMatch(/"Not_Valid".*not a valid S3 bucket name/)
  })

  it('skips the files of a missing bucket with one ERROR naming it, and keeps going with the others', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    const missing = `bw-missing-${randomBytes(4).toString('hex')}`
    await writeStable(path.join(root, missing, 'one.txt'), '1')
    await writeStable(path.join(root, missing, 'two.txt'), '2')
    await writeStable(path.join(root, bucket, 'ok.txt'), 'ok')

    const run = await runDaemon(['--once', '-d', root, '--json'])
    expect(run.exitCode).toBe(1)
    expect(run.result).toMatchObject({counters: {uploaded: 1, bucketSkipped: 2}, unshippedByError: 2})
    expect(run.stderr.match(new RegExp(`ERROR Bucket "${missing}" does not exist`, 'g'))).toHaveLength(1)
    expect(run.stderr).toMatch(/Skipped 2 file\(s\)/)
    expect(existsSync(path.join(root, missing, 'one.txt'))).toBe(true)
    expect(await bucketKeys(client, bucket)).toEqual(['ok.txt'])
  })

  it('never uploads temporary files unless --include-temp', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    for (const name of ['x.tmp', 'y.part', 'z~', '.hidden', '.dir/inside.txt']) await writeStable(path.join(root, bucket, name), name)
    await writeStable(path.join(root, bucket, 'real.txt'), 'real')

    await runDaemon(['--once', '-d', root])
    expect(await bucketKeys(client, bucket)).toEqual(['real.txt'])
    for (const name of ['x.tmp', 'y.part', 'z~', '.hidden', '.dir/inside.txt']) expect(existsSync(path.join(root, bucket, name))).toBe(true)

    await runDaemon(['--once', '-d', root, '--include-temp'])
    expect(await bucketKeys(client, bucket)).toEqual(['.dir/inside.txt', '.hidden', 'real.txt', 'x.tmp', 'y.part', 'z~'])
  })

  it('never follows a symbolic link: a link to a file or directory outside the root is neither uploaded nor deleted', async () => {
    const root = await makeRoot()
    const outside = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await writeStable(path.join(outside, 'secret.txt'), 'outside the root')
    await writeStable(path.join(outside, 'dir', 'inner.txt'), 'inner')
    await mkdir(path.join(root, bucket), {recursive: true})
    await symlink(path.join(outside, 'secret.txt'), path.join(root, bucket, 'link.txt'))
    await symlink(path.join(outside, 'dir'), path.join(root, bucket, 'linkdir'))
    await writeStable(path.join(root, bucket, 'plain.txt'), 'plain')

    const run = await runDaemon(['--once', '-d', root])
    expect(run.exitCode).toBe(0)
    expect(await bucketKeys(client, bucket)).toEqual(['plain.txt'])
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('outside the root')
    expect(existsSync(path.join(outside, 'dir', 'inner.txt'))).toBe(true)
    expect(existsSync(path.join(root, bucket, 'link.txt'))).toBe(true)
    expect(run.stderr).toMatch(/WARN Skipped .*link\.txt: a symbolic link \(links are never followed\)/)
  })

  it('same content already in the bucket: deletes the local file without uploading it again', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    const content = randomBytes(1500)
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'dup.bin', Body: content}))
    await writeStable(path.join(root, bucket, 'dup.bin'), content)

    const from = proxy.requests.length
    const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--json'])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({counters: {alreadyThere: 1, uploaded: 0}})
    expect(seen(bucket, from).filter((request) => request.startsWith('PUT'))).toEqual([])
    expect(existsSync(path.join(root, bucket, 'dup.bin'))).toBe(false)
  })

  it('same size, other bytes: uploads (never deletes unseen) — by listing for many files and by HEAD for one', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    const names = Array.from({length: 10}, (_, i) => `many/f${i}.bin`)
    for (const name of [...names, 'one/solo.bin']) {
      await client.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: Buffer.alloc(1000, 1)}))
      await writeStable(path.join(root, bucket, name), Buffer.alloc(1000, 2))
    }
    const from = proxy.requests.length
    const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--json'])
    expect(run.result).toMatchObject({counters: {uploaded: 11, alreadyThere: 0}})
    for (const name of [...names, 'one/solo.bin']) expect(await objectBody(client, bucket, name)).toEqual(Buffer.alloc(1000, 2))
    const requests = seen(bucket, from)
    expect(requests.filter((request) => request.startsWith('PUT'))).toHaveLength(11)
    // Ten files in one directory: one ranged listing, no HEAD each; the lone file: one HEAD.
    expect(requests.filter((request) => request.startsWith('HEAD') && request.includes('many/'))).toEqual([])
    expect(requests.filter((request) => request.startsWith('HEAD') && request.includes('one/solo.bin'))).toHaveLength(1)
  })

  it('uploads a large file as a verified multipart upload, and recognises it by its multipart ETag afterwards', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    const big = randomBytes(9 * 1024 * 1024 + 123)
    await writeStable(path.join(root, bucket, 'big.bin'), big)
    const run = await runDaemon(['--once', '-d', root, '--multipart-threshold', '8'])
    expect(run.result).toMatchObject({counters: {uploaded: 1}})
    expect(run.stderr).toMatch(/big\.bin .*multipart, verified/)
    expect((await objectBody(client, bucket, 'big.bin'))?.equals(big)).toBe(true)

    // Put back the same bytes (and, beside it, same size with one byte changed): the first is already there.
    const changed = Buffer.from(big)
    changed[changed.length - 1] ^= 0xff
    await writeStable(path.join(root, bucket, 'big.bin'), big)
    await new Upload({client: leanClient, params: {Bucket: bucket, Key: 'other.bin', Body: big}, partSize: 5 * 1024 * 1024}).done()
    await writeStable(path.join(root, bucket, 'other.bin'), changed)
    const again = await runDaemon(['--once', '-d', root, '--multipart-threshold', '8', '--json'])
    expect(again.result).toMatchObject({counters: {alreadyThere: 1, uploaded: 1}})
    expect((await objectBody(client, bucket, 'other.bin'))?.equals(changed)).toBe(true)
  })

  it('sends files up to --multipart-threshold in one PUT, and switches to multipart when the store refuses the size (413)', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    // The loopback server refuses single PUT bodies above 11 MiB, as some S3-compatible stores do.
    const medium = randomBytes(3 * 1024 * 1024 + 5)
    const large = randomBytes(12 * 1024 * 1024 + 9)
    await writeStable(path.join(root, bucket, 'medium.bin'), medium)
    await writeStable(path.join(root, bucket, 'large.bin'), large)
    const from = proxy.requests.length
    const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint])
    expect(run.result).toMatchObject({counters: {uploaded: 2, failed: 0}})
    expect(run.stderr).toMatch(/Uploaded .*medium\.bin .*\(3\.0 MiB, verified/)
    expect(run.stderr).toMatch(/Uploaded .*large\.bin .*multipart, verified/)
    expect((await objectBody(client, bucket, 'medium.bin'))?.equals(medium)).toBe(true)
    expect((await objectBody(client, bucket, 'large.bin'))?.equals(large)).toBe(true)
    const requests = seen(bucket, from)
    expect(requests.filter((request) => request.startsWith('PUT') && request.endsWith('/medium.bin'))).toHaveLength(1)
    expect(requests.filter((request) => request.startsWith('PUT') && request.includes('/large.bin?') && request.includes('partNumber='))).toHaveLength(2)
  })

  it('retries through injected faults (503 SlowDown, 500, connection resets) and loses nothing', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    const files = Array.from({length: 30}, (_, i) => [`d${i % 3}/f${i}.txt`, `content ${i} ${randomBytes(8).toString('hex')}`] as const)
    for (const [name, content] of files) await writeStable(path.join(root, bucket, name), content)
    let n = 0
    proxy.plan = ({method}) => {
      if (method !== 'PUT') return {type: 'pass'}
      n++
      return n % 3 === 0 ? {type: 'status', status: 503, code: 'SlowDown'} : n % 3 === 1 ? {type: 'reset'} : n % 5 === 0 ? {type: 'status', status: 500, code: 'InternalError'} : {type: 'pass'}
    }
    try {
      const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--json'])
      const counters = (run.result as {counters: {failed: number}}).counters
      // Exit 1 exactly when a file was left behind by a failure.
      expect(run.exitCode).toBe(counters.failed > 0 ? 1 : 0)
    } finally {
      proxy.plan = () => ({type: 'pass'})
    }
    expect(n).toBeGreaterThan(30)
    // Whatever the faults did, each file is either still here or in the bucket, whole; a rerun finishes the job.
    for (const [name, content] of files) {
      const local = existsSync(path.join(root, bucket, name))
      if (!local) expect((await objectBody(client, bucket, name))?.toString()).toBe(content)
    }
    await runDaemon(['--once', '-d', root])
    for (const [name, content] of files) expect((await objectBody(client, bucket, name))?.toString()).toBe(content)
    for (const [name] of files) expect(existsSync(path.join(root, bucket, name))).toBe(false)
  })

  it('a failing upload is logged as ERROR, the file is kept, and the next scan uploads it', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await writeStable(path.join(root, bucket, 'stubborn.txt'), 'stubborn')
    await writeStable(path.join(root, bucket, 'fine.txt'), 'fine')
    proxy.plan = ({method, url}) => (method === 'PUT' && url.includes('stubborn') ? {type: 'status', status: 500, code: 'InternalError'} : {type: 'pass'})
    try {
      const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--json'], {BUCKETWRIGHT_MAX_ATTEMPTS: '2'})
      expect(run.exitCode).toBe(1)
      expect(run.result).toMatchObject({counters: {uploaded: 1, failed: 1}, unshippedByError: 1})
      expect(run.stderr).toMatch(/ERROR Upload of .*stubborn\.txt to s3:\/\/.*\/stubborn\.txt failed, retried next scan/)
    } finally {
      proxy.plan = () => ({type: 'pass'})
    }
    expect(existsSync(path.join(root, bucket, 'stubborn.txt'))).toBe(true)
    expect(await bucketKeys(client, bucket)).toEqual(['fine.txt'])
    await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint])
    expect(await bucketKeys(client, bucket)).toEqual(['fine.txt', 'stubborn.txt'])
  })

  it('missing permission: an ERROR naming the IAM action, the file kept', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await writeStable(path.join(root, bucket, 'denied.txt'), 'denied')
    proxy.plan = ({method}) => (method === 'PUT' ? {type: 'status', status: 403, code: 'AccessDenied'} : {type: 'pass'})
    try {
      const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint])
      expect(run.exitCode).toBe(1)
      expect(run.stderr).toMatch(/ERROR Upload of .*denied\.txt .*failed, retried next scan: Access denied: PutObject .*Grant the identity in use s3:PutObject on arn:aws:s3:::bw-daemon-[0-9a-f]+\/denied\.txt/)
    } finally {
      proxy.plan = () => ({type: 'pass'})
    }
    expect(existsSync(path.join(root, bucket, 'denied.txt'))).toBe(true)
    expect(await bucketKeys(client, bucket)).toEqual([])
  })

  it('logs JSON lines with --log-format json', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await writeStable(path.join(root, bucket, 'j.txt'), 'json')
    const run = await runDaemon(['--once', '-d', root, '--log-format', 'json'])
    const lines = run.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {level: string; message: string; key?: string})
    expect(lines.find((line) => line.key === 'j.txt')).toMatchObject({level: 'info', message: expect.stringMatching(/^Uploaded /)})
  })

  it('-h prints the help, with the flags and environment variables of the specification', async () => {
    const run = await runCli(['upload-daemon', '-h'])
    expect(run.code).toBe(0)
    for (const text of [
      '-i, --interval',
      'S3_UPLOAD_INTERVAL',
      '-d, --directory',
      'S3_ROOT_DIR',
      '-r, --region',
      'AWS_REGION',
      '-p, --profile',
      'AWS_PROFILE',
      '-s, --stability',
      'FILE_STABILITY_SECONDS',
      'default: eu-west-1',
      'default: output/s3',
      '--exclude=GLOB',
    ]) {
      expect(run.stdout).toContain(text)
    }
    // What it does with bad input, and its exit codes.
    const text = run.stdout.replaceAll(/\s+/g, ' ')
    expect(text).toContain('two local files mapping to one key are both kept and neither shipped')
    expect(text).toContain('Exit codes: 0 done (or stopped by SIGTERM); 1 with --once when files were left behind by an error')
    expect(text).toContain('2 usage error, e.g. a --directory that does not exist or is a file')
  })

  it('prints a systemd unit with the settings as environment', async () => {
    const run = await runDaemon(['--print-systemd-unit', '-d', '/data/out/s3', '-i', '30', '--bucket-map', 'a_b=a-b', '--exclude', '*.log', '--exclude', 'scratch/**'])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(/^\[Service\]$/m)
    expect(run.stdout).toMatch(/^Environment=S3_ROOT_DIR=\/data\/out\/s3$/m)
    expect(run.stdout).toMatch(/^Environment=S3_UPLOAD_INTERVAL=30$/m)
    expect(run.stdout).toMatch(/^ExecStart=\S+\/node \S+\/bin\/run\.js upload-daemon --bucket-map a_b=a-b --exclude "\*\.log" --exclude "scratch\/\*\*"$/m)
    // A usage error (a root that does not exist) is not restarted in a loop.
    expect(run.stdout).toMatch(/^RestartPreventExitStatus=2$/m)
    expect(run.stdout).toMatch(/^Environment=AWS_REGION=us-east-1$/m)
    expect(run.stdout).toMatch(/^KillSignal=SIGTERM$/m)
  })

  it('carries --keep, --prune-empty-dirs and --log-timezone local into the systemd unit, and none of them by default', async () => {
    const plain = await runDaemon(['--print-systemd-unit', '-d', '/data/out/s3'])
    expect(plain.stdout).not.toMatch(/BUCKETWRIGHT_KEEP|BUCKETWRIGHT_PRUNE_EMPTY_DIRS|BUCKETWRIGHT_LOG_TIMEZONE/)
    const run = await runDaemon(['--print-systemd-unit', '-d', '/data/out/s3', '--keep', '--prune-empty-dirs', '--log-timezone', 'local'])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(/^Environment=BUCKETWRIGHT_KEEP=true$/m)
    expect(run.stdout).toMatch(/^Environment=BUCKETWRIGHT_PRUNE_EMPTY_DIRS=true$/m)
    expect(run.stdout).toMatch(/^Environment=BUCKETWRIGHT_LOG_TIMEZONE=local$/m)
  })

  it('reads its settings from the environment the user specified (S3_ROOT_DIR, FILE_STABILITY_SECONDS)', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-daemon')
    await mkdir(path.join(root, bucket), {recursive: true})
    await writeFile(path.join(root, bucket, 'now.txt'), 'now')
    const run = await runDaemon(['--once'], {S3_ROOT_DIR: root, FILE_STABILITY_SECONDS: '0'})
    expect(run.exitCode).toBe(0)
    expect(await bucketKeys(client, bucket)).toEqual(['now.txt'])
    expect((await stat(path.join(root, bucket))).isDirectory()).toBe(true)
  })
})
