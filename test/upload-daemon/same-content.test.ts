import {HeadObjectCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {Upload} from '@aws-sdk/lib-storage'
import {createHash, randomBytes} from 'node:crypto'
import {open, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {crc32} from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {compareContent, crc32Base64, partSizesFor, remoteFromSdk, wantedDigests} from '../../src/plugins/core/storage/s3/same-content.js'
import {digestForComparison} from '../../src/plugins/core/upload-daemon/file-digest.js'
import {createTestBucket, credentialsFor, s3Servers} from '../helpers/s3.js'
import {sameCrcOtherBytes} from './collide.js'
import {makeRoot} from './helpers.js'

const MIB = 1024 * 1024
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex')
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('base64')
const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest('base64')

describe('compareContent', () => {
  const body = randomBytes(4096)
  const forged = sameCrcOtherBytes(body)

  it('the forged file really shares length and CRC32 but not bytes (the premise of the tests below)', () => {
    expect(forged.length).toBe(body.length)
    expect(crc32(forged)).toBe(crc32(body))
    expect(forged.equals(body)).toBe(false)
  })

  it('a matching CRC32 never proves sameness, whatever the store says about the checksum type', () => {
    const local = {size: forged.length, crc32: crc32Base64(forged), md5: md5(forged)}
    for (const checksumType of [undefined, 'FULL_OBJECT']) {
      expect(compareContent({size: body.length, checksums: {crc32: crc32Base64(body)}, checksumType}, local)).toBe('unknown')
    }
    // With the MD5 ETag of the stored bytes beside it: still not the same.
    expect(compareContent({size: body.length, etag: md5(body), checksums: {crc32: crc32Base64(body)}}, local)).not.toBe('same')
    // A CRC32 mismatch does prove a difference.
    expect(compareContent({size: body.length, checksums: {crc32: crc32Base64(Buffer.from(body).fill(0))}}, local)).toBe('different')
  })

  it('size alone proves nothing; another size proves a difference', () => {
    expect(compareContent({size: body.length}, {size: body.length, md5: md5(body)})).toBe('unknown')
    expect(compareContent({size: body.length + 1, etag: md5(body)}, {size: body.length, md5: md5(body)})).toBe('different')
  })

  it('a full-object SHA-256 or SHA-1 decides both ways; a composite one (of parts) decides nothing', () => {
    expect(compareContent({size: body.length, checksums: {sha256: sha256(body)}}, {size: body.length, sha256: sha256(body)})).toBe('same')
    expect(compareContent({size: body.length, checksums: {sha256: sha256(body)}}, {size: body.length, sha256: sha256(forged)})).toBe('different')
    expect(compareContent({size: body.length, checksums: {sha1: sha1(body)}, checksumType: 'FULL_OBJECT'}, {size: body.length, sha1: sha1(body)})).toBe('same')
    expect(compareContent({size: body.length, checksums: {sha256: sha256(body)}, checksumType: 'COMPOSITE'}, {size: body.length, sha256: sha256(body)})).toBe('unknown')
    expect(compareContent({size: body.length, checksums: {sha256: `${sha256(body)}-3`}}, {size: body.length, sha256: `${sha256(body)}-3`})).toBe('unknown')
  })

  it('an MD5 ETag proves sameness, except under SSE-KMS where the ETag is no digest', () => {
    expect(compareContent({size: body.length, etag: md5(body)}, {size: body.length, md5: md5(body)})).toBe('same')
    expect(compareContent({size: body.length, etag: md5(body)}, {size: body.length, md5: md5(forged)})).not.toBe('same')
    expect(compareContent({size: body.length, etag: md5(body), serverSideEncryption: 'aws:kms'}, {size: body.length, md5: md5(body)})).toBe('unknown')
    // An ETag that is no MD5 (an unknown store) and no checksum: cannot tell, so the file is uploaded.
    expect(compareContent({size: body.length, etag: 'not-an-md5'}, {size: body.length, md5: md5(body)})).toBe('unknown')
  })

  it('asks only for the digests that can decide, strongest first', () => {
    expect(wantedDigests({size: 10, checksums: {sha256: 'x', sha1: 'y', crc32: 'z'}, etag: md5(body)}, 10, 8 * MIB)).toEqual({md5: false, sha256: true, sha1: false, partSizes: []})
    expect(wantedDigests({size: 10, checksums: {crc32: 'z'}, etag: md5(body)}, 10, 8 * MIB)).toEqual({md5: true, sha256: false, sha1: false, partSizes: []})
    expect(wantedDigests({size: 10, etag: md5(body), serverSideEncryption: 'aws:kms'}, 10, 8 * MIB)).toEqual({md5: false, sha256: false, sha1: false, partSizes: []})
    expect(wantedDigests({size: 11, etag: md5(body)}, 10, 8 * MIB)).toEqual({md5: false, sha256: false, sha1: false, partSizes: []})
    expect(wantedDigests({size: 20 * MIB, etag: `${md5(body)}-3`}, 20 * MIB, 8 * MIB).partSizes).toContain(8 * MIB)
  })

  it("finds the part sizes that split a size into the ETag's part count", () => {
    expect(partSizesFor(20 * MIB, 3, 8 * MIB)).toEqual(expect.arrayContaining([8 * MIB]))
    expect(partSizesFor(20 * MIB, 4, 8 * MIB)).toEqual(expect.arrayContaining([5 * MIB]))
    for (const size of partSizesFor(20 * MIB, 4, 8 * MIB)) expect(Math.ceil((20 * MIB) / size)).toBe(4)
  })
})

describe.each(s3Servers())('same content of stored objects on $name', ({name, endpoint}) => {
  const client = new S3Client({endpoint, region: 'us-east-1', forcePathStyle: true, credentials: credentialsFor(endpoint), requestChecksumCalculation: 'WHEN_REQUIRED'})

  /** Judges a local file against the object under `key`, as the daemon does: HEAD, then the wanted digests. */
  async function judge(bucket: string, key: string, data: Buffer) {
    const remote = remoteFromSdk(await client.send(new HeadObjectCommand({Bucket: bucket, Key: key, ChecksumMode: 'ENABLED'})))
    const file = path.join(await makeRoot(), 'f')
    await writeFile(file, data)
    const handle = await open(file)
    try {
      return {remote, verdict: compareContent(remote, (await digestForComparison(handle, data.length, remote, 8 * MIB)).digests)}
    } finally {
      await handle.close()
    }
  }

  it('a multipart upload (fauxqs: md5-of-md5s-N ETag; s3rver: the whole object MD5) is the same for its bytes, not for one changed byte', async () => {
    const bucket = await createTestBucket('bw-etag', client)
    const data = randomBytes(11 * MIB + 7)
    await new Upload({client, params: {Bucket: bucket, Key: 'k', Body: data}, partSize: 5 * MIB}).done()
    const same = await judge(bucket, 'k', data)
    // The premise: each server's own ETag form.
    if (name === 's3rver') expect(same.remote.etag).toBe(md5(data))
    else expect(same.remote.etag).toMatch(/^[0-9a-f]{32}-3$/)
    expect(same.verdict).toBe('same')
    const changed = Buffer.from(data)
    changed[MIB] ^= 1
    expect((await judge(bucket, 'k', changed)).verdict).not.toBe('same')
  })

  it('an object whose store reports its CRC32: a file of the same length and CRC32 with other bytes is not the same', async () => {
    const bucket = await createTestBucket('bw-crc', client)
    const stored = randomBytes(3000)
    const forged = sameCrcOtherBytes(stored)
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'k', Body: stored, ChecksumCRC32: crc32Base64(stored)}))
    const result = await judge(bucket, 'k', forged)
    if (name === 'fauxqs') expect(result.remote.checksums?.crc32).toBe(crc32Base64(forged))
    expect(result.verdict).not.toBe('same')
    expect((await judge(bucket, 'k', stored)).verdict).toBe('same')
  })
})
