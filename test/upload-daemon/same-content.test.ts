import {S3Client} from '@aws-sdk/client-s3'
import {Upload} from '@aws-sdk/lib-storage'
import {createHash, randomBytes} from 'node:crypto'
import {writeFile} from 'node:fs/promises'
import {open} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {compareContent, crc32Base64, digestForComparison, partSizesFor} from '../../src/plugins/core/upload-daemon/same-content.js'
import {createTestBucket, s3Endpoint, TEST_CREDENTIALS} from '../helpers/s3.js'
import {makeRoot} from './helpers.js'

const MIB = 1024 * 1024

describe('compareContent', () => {
  const body = Buffer.from('the same bytes')
  const md5 = createHash('md5').update(body).digest('hex')
  it('decides by checksum, never by size alone', () => {
    const other = Buffer.from('other bytes!!!')
    expect(other.length).toBe(body.length)
    expect(compareContent({size: body.length, etag: md5}, {size: body.length, md5})).toBe('same')
    expect(compareContent({size: body.length, etag: createHash('md5').update(other).digest('hex')}, {size: body.length, md5})).toBe('different')
    expect(compareContent({size: body.length, crc32: crc32Base64(other)}, {size: body.length, crc32: crc32Base64(body)})).toBe('different')
    expect(compareContent({size: body.length, crc32: crc32Base64(body), checksumType: 'FULL_OBJECT'}, {size: body.length, crc32: crc32Base64(body)})).toBe('same')
    // An ETag that is no MD5 (SSE-KMS, unknown store) and no checksum: cannot tell, so the file is uploaded.
    expect(compareContent({size: body.length, etag: 'not-an-md5'}, {size: body.length, md5})).toBe('unknown')
    expect(compareContent({size: body.length + 1, etag: md5}, {size: body.length, md5})).toBe('different')
  })
  it('finds the part sizes that split a size into the ETag\'s part count', () => {
    expect(partSizesFor(20 * MIB, 3, 8 * MIB)).toEqual(expect.arrayContaining([8 * MIB]))
    expect(partSizesFor(20 * MIB, 4, 8 * MIB)).toEqual(expect.arrayContaining([5 * MIB]))
    for (const size of partSizesFor(20 * MIB, 4, 8 * MIB)) expect(Math.ceil((20 * MIB) / size)).toBe(4)
  })
})

describe('digestForComparison against real multipart uploads', () => {
  it('recomputes the multipart ETag of an object uploaded with another part size, and tells one changed byte', async () => {
    const client = new S3Client({endpoint: s3Endpoint(), region: 'us-east-1', forcePathStyle: true, credentials: TEST_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED'})
    const bucket = await createTestBucket('bw-etag')
    const data = randomBytes(11 * MIB + 7)
    const done = await new Upload({client, params: {Bucket: bucket, Key: 'k', Body: data}, partSize: 5 * MIB}).done()
    const remote = {size: data.length, etag: done.ETag!.replaceAll('"', '')}
    expect(remote.etag).toMatch(/-3$/)
    const file = path.join(await makeRoot(), 'f')
    await writeFile(file, data)
    let handle = await open(file)
    expect(compareContent(remote, (await digestForComparison(handle, data.length, remote, 8 * MIB)).digests)).toBe('same')
    await handle.close()
    data[MIB] ^= 1
    await writeFile(file, data)
    handle = await open(file)
    expect(compareContent(remote, (await digestForComparison(handle, data.length, remote, 8 * MIB)).digests)).toBe('different')
    await handle.close()
  })
})
