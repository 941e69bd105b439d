import {HeadObjectCommand} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {contentTypeFor} from '../../src/plugins/core/upload-daemon/content-type.js'
import {createTestBucket, s3Servers, testS3Client} from '../helpers/s3.js'
import {daemonEnv, makeRoot, runDaemon, writeStable} from './helpers.js'

describe('contentTypeFor', () => {
  it('types a key by its last extension, as aws s3 cp does, and application/octet-stream when unknown', () => {
    expect(contentTypeFor('2026/12/a.json')).toBe('application/json')
    expect(contentTypeFor('x/REPORT.CSV')).toBe('text/csv')
    expect(contentTypeFor('notes.txt')).toBe('text/plain')
    expect(contentTypeFor('img/p.png')).toBe('image/png')
    expect(contentTypeFor('week.json.gz')).toBe('application/gzip')
    expect(contentTypeFor('d/part-0.parquet')).toBe('application/vnd.apache.parquet')
    expect(contentTypeFor('d/records.jsonl')).toBe('application/x-ndjson')
    expect(contentTypeFor('d/seg.zst')).toBe('application/zstd')
    for (const key of ['d/no-extension', 'd/.env', 'file.unknownext', 'dir.v2/name']) expect(contentTypeFor(key), key).toBe('application/octet-stream')
  })
})

describe.each(s3Servers())('upload-daemon Content-Type on $name', ({endpoint}) => {
  const client = testS3Client(endpoint)

  it('HEAD shows the type of the extension, for single PUTs and multipart uploads', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-ctype', client)
    await writeStable(path.join(root, bucket, 'a.json'), '{"a":1}\n')
    await writeStable(path.join(root, bucket, 'dir', 'b.csv'), 'x,y\n1,2\n')
    await writeStable(path.join(root, bucket, 'page.html'), '<p>hi</p>')
    // Above --multipart-threshold (1 MiB): a multipart upload, whose type is set when it is created.
    await writeStable(path.join(root, bucket, 'big.json.gz'), randomBytes(1536 * 1024))
    const run = await runDaemon(['--once', '-d', root, '--multipart-threshold', '1'], daemonEnv(endpoint))
    expect(run.exitCode, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/big\.json\.gz .*multipart/)
    const typeOf = async (key: string) => (await client.send(new HeadObjectCommand({Bucket: bucket, Key: key}))).ContentType
    expect(await typeOf('a.json')).toBe('application/json')
    expect(await typeOf('dir/b.csv')).toBe('text/csv')
    expect(await typeOf('page.html')).toBe('text/html')
    expect(await typeOf('big.json.gz')).toBe('application/gzip')
  })
})
