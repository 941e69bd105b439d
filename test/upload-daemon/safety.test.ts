import {PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {Upload} from '@aws-sdk/lib-storage'
import {randomBytes} from 'node:crypto'
import {appendFileSync, chmodSync, existsSync, readFileSync, rmSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {crc32Base64} from '../../src/plugins/core/storage/s3/same-content.js'
import {runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, credentialsFor, s3Servers} from '../helpers/s3.js'
import {sameCrcOtherBytes} from './collide.js'
import {EtagProxy} from './etag-proxy.js'
import {AS_ROOT, bucketKeys, daemonEnv, handOver, makeRoot, objectBody, runDaemon, sha256, spawnDaemon, writeStable} from './helpers.js'

const MIB = 1024 * 1024

interface Counters {
  uploaded: number
  alreadyThere: number
  failed: number
  deleteFailed: number
  changed: number
  vanished: number
  collisions: number
  scanErrors: number
  bucketSkipped: number
}
type Result = {counters: Counters; unshippedByError: number}

describe.each(s3Servers())('upload-daemon safety on $name', ({name, endpoint}) => {
  const env = daemonEnv(endpoint)
  /** Without the SDK's streamed checksums: arranging objects, never what is tested. */
  const client = new S3Client({endpoint, region: 'us-east-1', forcePathStyle: true, credentials: credentialsFor(endpoint), requestChecksumCalculation: 'WHEN_REQUIRED'})
  /** One scan in this process; its result is the command's return value (the `--json` document). */
  const once = (args: string[], extra: Record<string, string> = {}) => runDaemon(['--once', ...args], {...env, ...extra})
  /** A full GET of the object compared by SHA-256 with the expected bytes. */
  const expectStored = async (bucket: string, key: string, expected: Buffer) => {
    const body = await objectBody(client, bucket, key)
    expect(body, `s3://${bucket}/${key}`).toBeDefined()
    expect(sha256(body!)).toBe(sha256(expected))
  }

  let faults: FaultProxy
  let liar: EtagProxy
  beforeAll(async () => {
    faults = await new FaultProxy(endpoint).start()
    liar = await new EtagProxy(endpoint).start()
  })
  afterAll(async () => {
    await faults.stop()
    await liar.stop()
  })

  it('a file with the length and CRC32 of the stored object but other bytes is uploaded, never deleted as "the same" (by HEAD and by listing)', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-crc', client)
    const forged = new Map<string, Buffer>()
    // One lone file (HEAD, which reports the CRC32 on stores that keep it) and nine in one directory (a listing).
    for (const key of ['lone/a.bin', ...Array.from({length: 9}, (_, i) => `many/f${i}.bin`)]) {
      const stored = randomBytes(2000 + key.length)
      await client.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: stored, ChecksumCRC32: crc32Base64(stored)}))
      forged.set(key, sameCrcOtherBytes(stored))
      await writeStable(path.join(root, bucket, key), forged.get(key)!)
    }
    // And one whose bytes really are there: deleted without an upload, so the test can tell the two apart.
    const same = randomBytes(1234)
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'lone/same.bin', Body: same, ChecksumCRC32: crc32Base64(same)}))
    await writeStable(path.join(root, bucket, 'lone', 'same.bin'), same)

    const run = await once(['-d', root])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({counters: {uploaded: 10, alreadyThere: 1, failed: 0}})
    for (const [key, bytes] of forged) await expectStored(bucket, key, bytes)
    // Every file shipped or proven there is gone (its folder stays: see directories.test.ts).
    for (const key of [...forged.keys(), 'lone/same.bin']) expect(existsSync(path.join(root, bucket, key))).toBe(false)
  })

  it('a large file the bucket holds as a multipart upload (fauxqs: md5-of-md5s ETag, s3rver: whole MD5) is recognised; one changed byte is uploaded', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-mp', client)
    const big = randomBytes(9 * MIB + 123)
    await new Upload({client, params: {Bucket: bucket, Key: 'same.bin', Body: big}, partSize: 5 * MIB}).done()
    await new Upload({client, params: {Bucket: bucket, Key: 'other.bin', Body: big}, partSize: 5 * MIB}).done()
    const changed = Buffer.from(big)
    changed[5 * MIB + 1] ^= 0xff
    await writeStable(path.join(root, bucket, 'same.bin'), big)
    await writeStable(path.join(root, bucket, 'other.bin'), changed)

    const run = await once(['-d', root, '--multipart-threshold', '8'])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({counters: {alreadyThere: 1, uploaded: 1, failed: 0}})
    await expectStored(bucket, 'other.bin', changed)
    await expectStored(bucket, 'same.bin', big)
    expect(existsSync(path.join(root, bucket, 'same.bin'))).toBe(false)
    expect(existsSync(path.join(root, bucket, 'other.bin'))).toBe(false)
  })

  it('a file above the multipart threshold arrives byte-identical (full GET + SHA-256), verified, and the local file is deleted', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-big', client)
    const big = randomBytes(17 * MIB + 5)
    await writeStable(path.join(root, bucket, 'deep', 'big.bin'), big)
    const run = await once(['-d', root, '--multipart-threshold', '8'])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({counters: {uploaded: 1, failed: 0}, unshippedByError: 0})
    // fauxqs answers the multipart ETag; s3rver the whole object's MD5, which is verified as such, not called corrupted.
    expect(run.stderr).toMatch(name === 's3rver' ? /multipart, verified by the digest the store reports; local file deleted/ : /multipart, verified; local file deleted/)
    await expectStored(bucket, 'deep/big.bin', big)
    expect(existsSync(path.join(root, bucket, 'deep', 'big.bin'))).toBe(false)
  })

  it('through the AWS SDK (the lean request refused once) every upload form stores the exact bytes: no aws-chunked framing', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-sdk', client)
    const files = new Map([
      ['small.txt', randomBytes(2048)],
      ['medium.bin', randomBytes(3 * MIB + 3)],
      ['large.bin', randomBytes(9 * MIB + 9)],
    ])
    for (const [key, bytes] of files) await writeStable(path.join(root, bucket, key), bytes)
    const refused = new Set<string>()
    faults.plan = ({method, url}) => {
      // The first PUT of each object or part fails; the lean path never retries, so the SDK sends it again.
      if (method !== 'PUT' || !url.startsWith(`/${bucket}/`) || refused.has(url)) return {type: 'pass'}
      refused.add(url)
      return {type: 'status', status: 500, code: 'InternalError'}
    }
    try {
      const run = await once(['-d', root, '--multipart-threshold', '8', '--endpoint', faults.endpoint])
      expect(run.exitCode).toBe(0)
      expect(run.result).toMatchObject({counters: {uploaded: 3, failed: 0}})
    } finally {
      faults.plan = () => ({type: 'pass'})
    }
    expect([...refused].some((url) => url.includes('partNumber='))).toBe(true)
    expect([...refused].some((url) => url.endsWith('/small.txt'))).toBe(true)
    for (const [key, bytes] of files) await expectStored(bucket, key, bytes)
  })

  it('a store whose ETags are no MD5: a correct object is verified (by a HEAD digest, else by reading it back), deleted locally, never reported failed', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-opaque', client)
    const byHead = randomBytes(5000)
    const byReadBack = randomBytes(6000)
    await writeStable(path.join(root, bucket, 'a', 'by-head.bin'), byHead)
    await writeStable(path.join(root, bucket, 'b', 'by-read-back.bin'), byReadBack)
    liar.rule = ({method, url}) => {
      if (!url.startsWith(`/${bucket}/`)) return {}
      if (method === 'PUT') return {replaceEtag: 'opaque-etag'}
      // For the second file the HEAD lies too: only reading it back can tell.
      if (method === 'HEAD' && url.includes('by-read-back')) return {replaceEtag: 'opaque-etag'}
      return {}
    }
    try {
      const run = await once(['-d', root, '--endpoint', liar.endpoint])
      expect(run.exitCode).toBe(0)
      expect(run.result).toMatchObject({counters: {uploaded: 2, failed: 0}})
      expect(run.stderr).toMatch(/by-head\.bin .*verified by the digest the store reports; local file deleted/)
      expect(run.stderr).toMatch(/by-read-back\.bin .*verified by reading it back; local file deleted/)
    } finally {
      liar.rule = () => ({})
    }
    await expectStored(bucket, 'a/by-head.bin', byHead)
    await expectStored(bucket, 'b/by-read-back.bin', byReadBack)
    expect(existsSync(path.join(root, bucket, 'a', 'by-head.bin'))).toBe(false)
    expect(existsSync(path.join(root, bucket, 'b', 'by-read-back.bin'))).toBe(false)
  })

  it('a store that acknowledges a write it did not keep: proven different, the local file kept, exit 1', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-lost', client)
    const local = randomBytes(4000)
    const other = randomBytes(4000)
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'k.bin', Body: other}))
    await writeStable(path.join(root, bucket, 'k.bin'), local)
    liar.rule = ({method, url}) => (method === 'PUT' && url.startsWith(`/${bucket}/`) ? {fakeEtag: 'not-a-digest'} : {})
    try {
      const run = await once(['-d', root, '--endpoint', liar.endpoint])
      expect(run.exitCode).toBe(1)
      expect(run.result).toMatchObject({counters: {uploaded: 0, failed: 1}, unshippedByError: 1})
      expect(run.stderr).toMatch(/ERROR Upload of .*k\.bin .*does not hold the bytes sent/)
    } finally {
      liar.rule = () => ({})
    }
    expect(await readFile(path.join(root, bucket, 'k.bin'))).toEqual(local)
    // What the store holds is left alone: the daemon never deletes an object.
    await expectStored(bucket, 'k.bin', other)
  })

  it('a multipart part answered with the MD5 of other bytes: aborted before completion, the object already there untouched, file kept', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-part', client)
    const old = randomBytes(9 * MIB + 1)
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'big.bin', Body: old.subarray(0, 1000)}))
    await writeStable(path.join(root, bucket, 'big.bin'), old)
    liar.rule = ({method, url}) => (method === 'PUT' && url.includes('partNumber=2') ? {replaceEtag: '0123456789abcdef0123456789abcdef'} : {})
    try {
      const run = await once(['-d', root, '--multipart-threshold', '8', '--endpoint', liar.endpoint])
      expect(run.exitCode).toBe(1)
      expect(run.result).toMatchObject({counters: {uploaded: 0, failed: 1}})
      expect(run.stderr).toMatch(/ERROR Upload of .*big\.bin .*Part 2 of .* the MD5 of other bytes/)
    } finally {
      liar.rule = () => ({})
    }
    expect(existsSync(path.join(root, bucket, 'big.bin'))).toBe(true)
    await expectStored(bucket, 'big.bin', old.subarray(0, 1000))
  })

  it('two local files that map to one key: neither shipped, both kept, one ERROR naming both; unstable ones count too; exit 1', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-clash', client)
    const write = async (relative: string, ageSeconds = 30) => {
      const content = `${relative} ${randomBytes(8).toString('hex')}`
      await writeStable(path.join(root, relative), content, ageSeconds)
      return content
    }
    const contents = new Map<string, string>()
    // Three directories for one bucket: the real one and two mapped to it.
    for (const dir of [bucket, 'alias_one', 'alias_two']) contents.set(`${dir}/same/k.txt`, await write(`${dir}/same/k.txt`))
    // A stable file and a fresh one (not yet stable) under one key: shipping the stable one now would let the
    // other overwrite it later.
    contents.set(`${bucket}/fresh.txt`, await write(`${bucket}/fresh.txt`))
    contents.set('alias_one/fresh.txt', await write('alias_one/fresh.txt', 0))
    await write(`${bucket}/only-real.txt`)
    await write('alias_two/only-alias.txt')

    const run = await once(['-d', root, '-s', '5', '--bucket-map', `alias_one=${bucket}`, '--bucket-map', `alias_two=${bucket}`])
    expect(run.exitCode).toBe(1)
    expect(run.result).toMatchObject({counters: {uploaded: 2, collisions: 5, failed: 0}, unshippedByError: 5})
    expect(await bucketKeys(client, bucket)).toEqual(['only-alias.txt', 'only-real.txt'])
    for (const [relative, content] of contents) expect(await readFile(path.join(root, relative), 'utf8')).toBe(content)
    const clash = run.stderr.split('\n').find((line) => line.includes(`s3://${bucket}/same/k.txt`))
    expect(clash).toMatch(/ERROR 3 local files map to/)
    for (const dir of [bucket, 'alias_one', 'alias_two']) expect(clash).toContain(path.join(root, dir, 'same', 'k.txt'))
    expect(run.stderr).toMatch(new RegExp(`ERROR 2 local files map to s3://${bucket}/fresh\\.txt`))
  })

  it('files vanishing or growing between the scan and their upload: WARN naming them, nothing else disturbed, exit 0', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-vanish', client)
    for (const key of ['gone.txt', 'gonedir/x.txt', 'grow.txt', 'stays.txt']) await writeStable(path.join(root, bucket, key), `${key}\n`)
    faults.plan = ({method, url}) => {
      // HeadBucket comes after the scan and before any file is read.
      if (method === 'HEAD' && (url === `/${bucket}` || url === `/${bucket}/`)) {
        rmSync(path.join(root, bucket, 'gone.txt'), {force: true})
        rmSync(path.join(root, bucket, 'gonedir'), {recursive: true, force: true})
        if (readFileSync(path.join(root, bucket, 'grow.txt'), 'utf8') === 'grow.txt\n') appendFileSync(path.join(root, bucket, 'grow.txt'), 'more\n')
      }
      return {type: 'pass'}
    }
    try {
      const run = await once(['-d', root, '--endpoint', faults.endpoint])
      expect(run.exitCode).toBe(0)
      expect(run.result).toMatchObject({counters: {uploaded: 1, vanished: 2, changed: 1, failed: 0}})
      expect(run.stderr).toMatch(/WARN .*gone\.txt vanished before it could be read/)
      expect(run.stderr).toMatch(/WARN .*gonedir\/x\.txt vanished before it could be read/)
      expect(run.stderr).toMatch(/WARN .*grow\.txt changed while it was read/)
    } finally {
      faults.plan = () => ({type: 'pass'})
    }
    expect(await bucketKeys(client, bucket)).toEqual(['stays.txt'])
    expect(await readFile(path.join(root, bucket, 'grow.txt'), 'utf8')).toBe('grow.txt\nmore\n')
  })

  it(`unreadable entries (${AS_ROOT ? 'daemon run as nobody, since root reads anything' : 'chmod'}): ERROR naming each, the rest shipped, exit 1; --exclude silences them`, async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-eacces', client)
    const at = (...parts: string[]) => path.join(root, bucket, ...parts)
    await writeStable(at('ok.txt'), 'ok')
    await writeStable(at('sub', 'ok2.txt'), 'ok2')
    await writeStable(at('locked.txt'), 'locked')
    await writeStable(at('secret', 's.txt'), 'secret')
    await writeStable(at('noexec', 'f.txt'), 'noexec')
    await writeStable(at('readonly', 'kept.txt'), 'kept')
    // Owned by root when the suite is root, so that the daemon (nobody) is shut out by the mode.
    handOver(root, [at('locked.txt'), at('secret'), at('noexec'), at('readonly')])
    if (AS_ROOT) handOver(at('readonly', 'kept.txt'))
    chmodSync(at('locked.txt'), 0o000)
    chmodSync(at('secret'), 0o000)
    chmodSync(at('noexec'), AS_ROOT ? 0o754 : 0o644) // listable, not searchable
    chmodSync(at('readonly'), 0o555)

    const daemon = await spawnDaemon(['--once', '--json', '-d', root], env)
    expect(await daemon.exited).toBe(1)
    const result = JSON.parse(daemon.stdout()) as Result
    expect(result).toMatchObject({counters: {uploaded: 3, failed: 1, deleteFailed: 1, scanErrors: 2}, unshippedByError: 4})
    const stderr = daemon.stderr()
    expect(stderr).toMatch(new RegExp(`ERROR Cannot list directory ${at('secret')}: permission denied`))
    expect(stderr).toMatch(new RegExp(`ERROR Cannot look at 1 file\\(s\\) in ${at('noexec')}: permission denied`))
    expect(stderr).toMatch(new RegExp(`ERROR Upload of ${at('locked.txt')} .*Cannot read ${at('locked.txt')}: permission denied`))
    expect(stderr).toMatch(new RegExp(`ERROR Uploaded ${at('readonly', 'kept.txt')} .*local file NOT deleted: Cannot delete`))
    expect(stderr).not.toMatch(/UNEXPECTED|bug/i)
    expect(await bucketKeys(client, bucket)).toEqual(['ok.txt', 'readonly/kept.txt', 'sub/ok2.txt'])
    await expectStored(bucket, 'readonly/kept.txt', Buffer.from('kept'))
    for (const kept of [at('locked.txt'), at('secret', 's.txt'), at('noexec', 'f.txt'), at('readonly', 'kept.txt')]) expect(existsSync(kept)).toBe(true)
    expect(existsSync(at('ok.txt'))).toBe(false)

    // Left out on purpose, the same entries are no error.
    const excluded = await spawnDaemon(['--once', '--json', '-d', root, '--exclude', 'secret/**', '--exclude', 'noexec/', '--exclude', 'locked.txt', '--exclude', '/*/readonly/**'], env)
    expect(await excluded.exited).toBe(0)
    expect(excluded.stderr()).not.toMatch(/ERROR/)
  })

  it('the foreground daemon keeps running past an unreadable directory and ships what comes later', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-fg', client)
    await writeStable(path.join(root, bucket, 'first.txt'), 'first')
    await writeStable(path.join(root, bucket, 'secret', 's.txt'), 'secret')
    handOver(root, [path.join(root, bucket, 'secret')])
    chmodSync(path.join(root, bucket, 'secret'), 0o000)
    const daemon = await spawnDaemon(['-d', root, '-i', '1', '-s', '0'], env)
    const until = async (what: string, check: () => boolean | Promise<boolean>) => {
      for (let i = 0; !(await check()); i++) {
        if (i > 200 || daemon.child.exitCode !== null) throw new Error(`${what}: not seen; daemon exit ${daemon.child.exitCode}\n${daemon.stderr()}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    await until('first upload', async () => (await bucketKeys(client, bucket)).includes('first.txt'))
    await writeFile(path.join(root, bucket, 'later.txt'), 'later')
    handOver(path.join(root, bucket, 'later.txt'))
    await until('later upload', async () => (await bucketKeys(client, bucket)).includes('later.txt'))
    await until('a third scan', () => (daemon.stderr().match(/Cannot list directory/g) ?? []).length >= 3)
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
    expect(existsSync(path.join(root, bucket, 'secret', 's.txt'))).toBe(true)
  })

  it('names that are not UTF-8: ERROR naming each (bytes shown as \\xNN), never confused with a real U+FFFD name; temp names and --exclude globs left alone', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-names', client)
    const dir = path.join(root, bucket, 'odd')
    await mkdir(dir, {recursive: true})
    const raw = (bytes: number[], suffix: string) => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes), Buffer.from(suffix)])
    // Two names that decode alike (both to U+FFFD.txt) beside a file really named U+FFFD.txt.
    await writeStable(raw([0xff], '.txt'), 'invalid ff')
    await writeStable(raw([0xfe], '.txt'), 'invalid fe')
    await writeStable(path.join(dir, '\uFFFD.txt'), 'real replacement character')
    const temps = ['a.partial', 'b.crdownload', 'c.swp', 'd.swx', '#e#', '.~lock.f#', 'g.tmp', 'h.part', 'i~', '.hidden']
    for (const name of temps) await writeStable(path.join(root, bucket, 't', name), name)
    const excluded = ['logs/x.log', 'deep/er/y.log', 'skip/z.txt', 'skip/in/w.txt', 'cache/c.bin', 'top.csv']
    for (const name of excluded) await writeStable(path.join(root, bucket, name), name)
    for (const name of ['keep.txt', 'sub/top.csv', 'cachefile.bin']) await writeStable(path.join(root, bucket, name), name)

    const run = await once(['-d', root, '--exclude', '*.log', '--exclude', 'skip/**', '--exclude', 'cache/', '--exclude', `/${bucket}/top.csv`])
    expect(run.exitCode).toBe(1)
    expect(run.result).toMatchObject({counters: {uploaded: 4, scanErrors: 2, failed: 0}})
    expect(run.stderr).toMatch(/ERROR .*odd\/\\xff\.txt: the name is not valid UTF-8/)
    expect(run.stderr).toMatch(/ERROR .*odd\/\\xfe\.txt: the name is not valid UTF-8/)
    expect(await bucketKeys(client, bucket)).toEqual(['cachefile.bin', 'keep.txt', 'odd/\uFFFD.txt', 'sub/top.csv'])
    expect((await objectBody(client, bucket, 'odd/\uFFFD.txt'))?.toString()).toBe('real replacement character')
    expect(readFileSync(raw([0xff], '.txt'), 'utf8')).toBe('invalid ff')
    expect(readFileSync(raw([0xfe], '.txt'), 'utf8')).toBe('invalid fe')
    for (const name of [...temps.map((temp) => `t/${temp}`), ...excluded]) expect(existsSync(path.join(root, bucket, name)), name).toBe(true)
    // Excluded by name, the undecodable files are no error either.
    const quiet = await once(['-d', root, '--exclude', 'odd/**', '--exclude', '*.log', '--exclude', 'skip/**', '--exclude', 'cache/', '--exclude', `/${bucket}/top.csv`, '-s', '0'])
    expect(quiet.exitCode).toBe(0)
    expect(quiet.stderr).not.toMatch(/ERROR/)
  })
})

describe('upload-daemon: a root that is not a directory', () => {
  it('-d naming a missing directory: usage error (exit 2) naming it, with what to do; nothing created', async () => {
    const missing = path.join(await makeRoot(), 'no', 'such', 'root')
    const run = await runDaemon(['--once', '-d', missing])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toContain(`The root directory ${missing} does not exist.`)
    expect(existsSync(missing)).toBe(false)
    const json = await runCli(['upload-daemon', '--once', '-d', missing, '--json'], {env: daemonEnv()})
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({error: {code: 'ROOT_NOT_FOUND', exitCode: 2, nextSteps: [`Create it: mkdir -p ${missing}`, expect.any(String)], details: {root: missing}}})
  })

  it('-d naming a file: usage error (exit 2) naming it; `start` refuses it the same way before starting anything', async () => {
    const file = path.join(await makeRoot(), 'a-file')
    await writeFile(file, 'not a directory')
    const run = await runDaemon(['--once', '-d', file])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toContain(`The root ${file} is a file, not a directory.`)
    const below = await runDaemon(['--once', '-d', path.join(file, 'below')])
    expect(below.exitCode).toBe(2)
    expect(below.error?.message).toMatch(/is not a directory: a part of that path is a file/)
    const runDir = await makeRoot()
    const start = await runDaemon(['start', '-d', file, '--run-dir', runDir])
    expect(start.exitCode).toBe(2)
    expect(existsSync(path.join(runDir, 'upload-daemon.pid'))).toBe(false)
  })
})
