import {existsSync} from 'node:fs'
import {mkdir, readdir, utimes, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {createTestBucket, testS3Client} from '../helpers/s3.js'
import {bucketKeys, makeRoot, runDaemon, writeStable} from './helpers.js'

const client = testS3Client()

/** Makes a directory and dates it back an hour: far older than any --stability. */
async function oldDirectory(dir: string): Promise<void> {
  await mkdir(dir, {recursive: true})
  const then = new Date(Date.now() - 3600 * 1000)
  await utimes(dir, then, then)
}

describe('upload-daemon and directories', () => {
  it('never removes an empty folder the user made, with or without --prune-empty-dirs, however many scans', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-dirs')
    await oldDirectory(path.join(root, bucket, 'incoming'))
    await oldDirectory(path.join(root, bucket, 'deep', 'er', 'est'))
    await oldDirectory(path.join(root, 'other-empty-bucket-dir'))
    await writeStable(path.join(root, bucket, 'a.txt'), 'a')
    const survived = () => {
      expect(existsSync(path.join(root, bucket, 'incoming'))).toBe(true)
      expect(existsSync(path.join(root, bucket, 'deep', 'er', 'est'))).toBe(true)
      expect(existsSync(path.join(root, 'other-empty-bucket-dir'))).toBe(true)
    }
    for (const args of [[], [], ['--prune-empty-dirs'], ['--prune-empty-dirs']]) {
      const run = await runDaemon(['--once', '-d', root, '--stability', '0', ...args])
      expect(run.exitCode, run.stderr).toBe(0)
      survived()
    }
    expect(await bucketKeys(client, bucket)).toEqual(['a.txt'])
    // The writer that made "incoming" once can still write into it.
    await writeFile(path.join(root, bucket, 'incoming', 'next.txt'), 'next')
  })

  it('by default keeps the folders it empties by shipping, so a writer that made its folder once keeps writing', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-dirs')
    await writeStable(path.join(root, bucket, 'run42', 'part-1.json'), '{"n":1}\n')
    await writeStable(path.join(root, bucket, '2026', '12', '03', 'x.csv'), 'a,b\n')
    const run = await runDaemon(['--once', '-d', root])
    expect(run.exitCode).toBe(0)
    expect(run.result).toMatchObject({counters: {uploaded: 2}})
    expect(await bucketKeys(client, bucket)).toEqual(['2026/12/03/x.csv', 'run42/part-1.json'])
    expect(await readdir(path.join(root, bucket, 'run42'))).toEqual([])
    expect(await readdir(path.join(root, bucket, '2026', '12', '03'))).toEqual([])
    // Its next file goes into the same folder, without a mkdir.
    await writeFile(path.join(root, bucket, 'run42', 'part-2.json'), '{"n":2}\n')
    const again = await runDaemon(['--once', '-d', root, '--stability', '0'])
    expect(again.exitCode).toBe(0)
    expect(await bucketKeys(client, bucket)).toEqual(['2026/12/03/x.csv', 'run42/part-1.json', 'run42/part-2.json'])
  })

  it('--prune-empty-dirs removes only what shipping emptied: up to a folder holding anything else, never the bucket folder or the root', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-dirs')
    // 2026/12/03 is emptied by shipping; 2026/12 then holds only the user's empty "keep-me", so it stays.
    await writeStable(path.join(root, bucket, '2026', '12', '03', 'x.csv'), 'a,b\n')
    await oldDirectory(path.join(root, bucket, '2026', '12', 'keep-me'))
    // run7/a/b is emptied, then run7/a, then run7: all emptied by the daemon, all removed.
    await writeStable(path.join(root, bucket, 'run7', 'a', 'b', 'c.txt'), 'c')
    // A file directly in the bucket folder: shipping empties the bucket folder, which stays.
    await writeStable(path.join(root, bucket, 'top.txt'), 'top')
    // A folder that still holds a file not yet stable is not empty: it stays, and so does the file.
    await writeStable(path.join(root, bucket, 'busy', 'old.txt'), 'old')
    await writeFile(path.join(root, bucket, 'busy', 'fresh.txt'), 'fresh')
    const run = await runDaemon(['--once', '-d', root, '--prune-empty-dirs', '--stability', '5'])
    expect(run.exitCode).toBe(0)
    expect(await bucketKeys(client, bucket)).toEqual(['2026/12/03/x.csv', 'busy/old.txt', 'run7/a/b/c.txt', 'top.txt'])
    expect(existsSync(path.join(root, bucket, '2026', '12', '03'))).toBe(false)
    expect(await readdir(path.join(root, bucket, '2026', '12'))).toEqual(['keep-me'])
    expect(existsSync(path.join(root, bucket, 'run7'))).toBe(false)
    expect(await readdir(path.join(root, bucket, 'busy'))).toEqual(['fresh.txt'])
    expect(await readdir(path.join(root, bucket))).toEqual(['2026', 'busy'])
    // The bucket folder and the root stay even when shipping empties them both.
    const lone = await makeRoot()
    const loneBucket = await createTestBucket('bw-dirs')
    await writeStable(path.join(lone, loneBucket, 'only.txt'), 'only')
    expect((await runDaemon(['--once', '-d', lone, '--prune-empty-dirs'])).exitCode).toBe(0)
    expect(await bucketKeys(client, loneBucket)).toEqual(['only.txt'])
    expect(await readdir(lone)).toEqual([loneBucket])
    expect(await readdir(path.join(lone, loneBucket))).toEqual([])
  })
})
