import {randomBytes} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {Logger} from '../../src/plugins/core/progress/logger.js'
import {S3Connection} from '../../src/plugins/core/storage/s3/s3-client.js'
import {UploadDaemon} from '../../src/plugins/core/upload-daemon/daemon.js'
import {HashWorker} from '../../src/plugins/core/upload-daemon/hash-worker.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'
import {bucketKeys, daemonEnv, makeRoot, objectBody, runDaemon, writeStable} from './helpers.js'

const MIB = 1024 * 1024

describe.each(s3Servers())('upload-daemon --keep on $name', ({endpoint}) => {
  const client = testS3Client(endpoint)

  it('ships and keeps every local file; a rerun uploads only what the bucket does not prove to hold', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-keep', client)
    const big = randomBytes(1.5 * MIB)
    await writeStable(path.join(root, bucket, 'a.txt'), 'alpha')
    await writeStable(path.join(root, bucket, 'd', 'big.bin'), big)
    const args = ['--once', '-d', root, '--keep', '--multipart-threshold', '1', '--prune-empty-dirs']
    const first = await runDaemon(args, daemonEnv(endpoint))
    expect(first.exitCode, first.stderr).toBe(0)
    expect(first.result).toMatchObject({counters: {uploaded: 2, alreadyThere: 0, failed: 0}})
    expect(first.stderr).toMatch(/Uploaded .*a\.txt → .*local file kept \(--keep\)/)
    expect(await bucketKeys(client, bucket)).toEqual(['a.txt', 'd/big.bin'])
    // Nothing deleted, not even the folder --prune-empty-dirs would take once emptied.
    expect(await readFile(path.join(root, bucket, 'a.txt'), 'utf8')).toBe('alpha')
    expect(await readFile(path.join(root, bucket, 'd', 'big.bin'))).toEqual(big)

    // A new run (nothing remembered): both proven in the bucket by digest (MD5 ETag, multipart ETag), none uploaded.
    const second = await runDaemon(args, daemonEnv(endpoint))
    expect(second.exitCode, second.stderr).toBe(0)
    expect(second.result).toMatchObject({counters: {uploaded: 0, alreadyThere: 2}})

    // Same size, other bytes: uploaded again, the other still not; both still local.
    await writeStable(path.join(root, bucket, 'a.txt'), 'ALPHA')
    const third = await runDaemon(args, daemonEnv(endpoint))
    expect(third.result).toMatchObject({counters: {uploaded: 1, alreadyThere: 1}})
    expect((await objectBody(client, bucket, 'a.txt'))?.toString()).toBe('ALPHA')
    expect(await readFile(path.join(root, bucket, 'a.txt'), 'utf8')).toBe('ALPHA')
    expect(await readFile(path.join(root, bucket, 'd', 'big.bin'))).toEqual(big)
  })

  it('within one run, a file already shipped is not read again until it changes', async () => {
    useS3Env(endpoint)
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-keep', client)
    await writeStable(path.join(root, bucket, 'x.txt'), 'one')
    await writeStable(path.join(root, bucket, 'y.txt'), 'why')
    const lines: string[] = []
    const connection = new S3Connection({endpoint, retryBaseMs: 2, maxAttempts: 3})
    const hasher = new HashWorker()
    try {
      const daemon = new UploadDaemon(
        {root, intervalSeconds: 1, stabilitySeconds: 1, concurrency: 4, includeTemp: false, exclude: [], bucketMap: {}, partSize: 8 * MIB, singlePutLimit: 32 * MIB, keep: true, endpoint, region: 'us-east-1'},
        connection,
        new Logger({stream: {write: (line: string) => lines.push(line)}}),
        hasher,
      )
      const signal = new AbortController().signal
      expect(await daemon.scan(signal)).toMatchObject({candidates: 2, uploaded: 2, unchangedSinceShipped: 0})
      expect(await daemon.scan(signal)).toMatchObject({candidates: 0, uploaded: 0, alreadyThere: 0, unchangedSinceShipped: 2})
      // Changed (same size, other bytes, new mtime): read, compared, uploaded.
      await writeStable(path.join(root, bucket, 'x.txt'), 'two', 20)
      expect(await daemon.scan(signal)).toMatchObject({candidates: 1, uploaded: 1, unchangedSinceShipped: 1})
      expect((await objectBody(client, bucket, 'x.txt'))?.toString()).toBe('two')
      // A file removed and written again under the same name (a new inode) is looked at again.
      await writeFile(path.join(root, bucket, 'y.txt.new'), 'why')
      const {rename, stat, utimes} = await import('node:fs/promises')
      const old = await stat(path.join(root, bucket, 'y.txt'))
      await utimes(path.join(root, bucket, 'y.txt.new'), old.atime, old.mtime)
      await rename(path.join(root, bucket, 'y.txt.new'), path.join(root, bucket, 'y.txt'))
      expect(await daemon.scan(signal)).toMatchObject({candidates: 1, uploaded: 0, alreadyThere: 1, unchangedSinceShipped: 1})
      expect(await readFile(path.join(root, bucket, 'y.txt'), 'utf8')).toBe('why')
    } finally {
      connection.close()
      await hasher.close()
    }
  })
})
