import {createHash, randomBytes} from 'node:crypto'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {openStorage, parseObjectOptions, RemoteError, type Storage, UsageError} from '../../src/plugins/core/index.js'
import type {S3Storage} from '../../src/plugins/core/storage/s3/storage.js'
import {type Fault, FaultProxy, type ProxiedRequest} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'

const MiB = 1024 * 1024
const PART = 5 * MiB

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64')
/** An ETag as S3 gives an SSE-KMS object: 32 hex digits, and not the MD5 of the bytes. */
const kmsEtag = () => randomBytes(16).toString('hex')
const flipOneByte = (body: Buffer) => {
  const changed = Buffer.from(body)
  changed[changed.length >> 1] ^= 0xff
  return changed
}

describe('parseObjectOptions: every bad value is a usage error naming its flag', () => {
  const refused = (flags: Parameters<typeof parseObjectOptions>[0], flag: string) => {
    let error: unknown
    try {
      parseObjectOptions(flags)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).code).toBe('BAD_OBJECT_OPTION')
    expect((error as UsageError).message).toContain(flag)
  }

  it('refuses storage classes, encryptions and ACLs S3 does not know', () => {
    refused({'storage-class': 'COLD'}, '--storage-class')
    refused({'storage-class': 'STANDARD IA'}, '--storage-class')
    refused({sse: 'kms'}, '--sse')
    refused({sse: 'aws:kms:dsse:extra'}, '--sse')
    refused({acl: 'owner-full-control'}, '--acl')
  })

  it('refuses a KMS key without --sse aws:kms, and with --sse AES256', () => {
    refused({'sse-kms-key-id': 'alias/data'}, '--sse-kms-key-id')
    refused({sse: 'AES256', 'sse-kms-key-id': 'alias/data'}, '--sse-kms-key-id')
    refused({sse: 'aws:kms', 'sse-kms-key-id': 'alias/da\nta'}, '--sse-kms-key-id')
  })

  it('refuses metadata that is not key=value, keys that are no header token, values no header can carry, and more than 2 KB', () => {
    refused({metadata: ['owner']}, '--metadata')
    refused({metadata: ['=nobody']}, '--metadata')
    refused({metadata: ['team name=data']}, '--metadata')
    refused({metadata: ['a:b=1']}, '--metadata')
    refused({metadata: ['path/x=1']}, '--metadata')
    refused({metadata: ['note=line\nbreak']}, '--metadata')
    refused({metadata: ['city=Zürich']}, '--metadata')
    refused({metadata: ['a=' + 'x'.repeat(1500), 'b=' + 'y'.repeat(600)]}, '--metadata')
  })

  it('normalizes what S3 spells one way, keeps the rest as given, and sends nothing when no flag is set', () => {
    expect(parseObjectOptions({})).toBeUndefined()
    expect(parseObjectOptions({metadata: []})).toBeUndefined()
    expect(
      parseObjectOptions({
        'storage-class': 'standard_ia',
        sse: 'AWS:KMS',
        'sse-kms-key-id': ' arn:aws:kms:eu-west-1:111122223333:key/abc ',
        acl: 'Bucket-Owner-Full-Control',
        metadata: ['Team=data=eng', 'team=ops', 'empty='],
      }),
    ).toEqual({
      storageClass: 'STANDARD_IA',
      sse: 'aws:kms',
      sseKmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      acl: 'bucket-owner-full-control',
      // Names lowercase as S3 keeps them (a later key wins); a value may hold `=` and may be empty.
      metadata: {team: 'ops', empty: ''},
    })
    expect(parseObjectOptions({sse: 'aes256'})).toEqual({sse: 'AES256'})
  })
})

const objects = {storageClass: 'STANDARD_IA', sse: 'aws:kms' as const, sseKmsKeyId: 'alias/bucketwright-test', acl: 'bucket-owner-full-control', metadata: {team: 'data', 'run-id': 'r-42'}}

/** Whether a request carries every object option as S3's REST API names it. */
function carriesOptions(request: ProxiedRequest, withMetadata = true): boolean {
  const h = request.all ?? {}
  return (
    h['x-amz-storage-class'] === 'STANDARD_IA' &&
    h['x-amz-server-side-encryption'] === 'aws:kms' &&
    h['x-amz-server-side-encryption-aws-kms-key-id'] === 'alias/bucketwright-test' &&
    h['x-amz-acl'] === 'bucket-owner-full-control' &&
    (!withMetadata || (h['x-amz-meta-team'] === 'data' && h['x-amz-meta-run-id'] === 'r-42'))
  )
}

/** The lean path signs no payload; the SDK (over http) signs the body's hash. */
const isSdk = (r: ProxiedRequest) => r.all !== undefined && r.all['x-amz-content-sha256'] !== 'UNSIGNED-PAYLOAD'
const isPut = (r: {method: string; url: string}) => r.method === 'PUT' && !r.url.includes('uploadId=') && !r.url.includes('CopyObject')
const isCreate = (r: {method: string; url: string}) => r.method === 'POST' && /[?&]uploads(=|&|$)/.test(r.url)
const isPart = (r: {method: string; url: string}) => r.method === 'PUT' && r.url.includes('uploadId=')
const isComplete = (r: {method: string; url: string}) => r.method === 'POST' && r.url.includes('uploadId=')
const isCopy = (r: {method: string; url: string}) => r.method === 'PUT' && r.url.includes('x-id=CopyObject')

// fauxqs and s3rver do not encrypt, keep storage classes or ACLs: what is tested is that every write request
// carries the options, and that verification under SSE-KMS (an ETag that is no MD5) rests on the SHA-256.
describe.each(s3Servers())('object options on $name', ({endpoint}) => {
  let proxy: FaultProxy
  let storage: S3Storage
  let direct: Storage
  let bucket: string

  beforeAll(async () => {
    useS3Env(endpoint)
    bucket = await createTestBucket('bw-objopts', testS3Client(endpoint))
    proxy = await new FaultProxy(endpoint).start()
    storage = (await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, retryBaseMs: 2, maxAttempts: 3, partSize: PART, objects})) as S3Storage
    direct = await openStorage(`s3://${bucket}/`, {endpoint})
  })

  afterAll(async () => {
    await storage.close()
    await direct.close()
    await proxy.stop()
  })

  beforeEach(() => {
    proxy.plan = () => ({type: 'pass'})
    proxy.requests.length = 0
  })

  it('sends them with a single PUT and a multipart create on the lean path, and a SHA-256 of the body on the PUT', async () => {
    const small = Buffer.from('a small object under SSE-KMS\n')
    const big = randomBytes(PART + 1000)
    await storage.write('lean/small.txt', small, {contentType: 'text/plain', metadata: {team: 'writer-wins'}})
    await storage.write('lean/big.bin', big)
    const put = proxy.requests.find((r) => isPut(r) && r.url.includes('small.txt'))!
    expect(isSdk(put)).toBe(false)
    expect(carriesOptions(put, false)).toBe(true)
    // The writer's own metadata wins over --metadata of the same name; the others are added.
    expect(put.all).toMatchObject({'x-amz-meta-team': 'writer-wins', 'x-amz-meta-run-id': 'r-42', 'content-type': 'text/plain', 'x-amz-checksum-sha256': sha256(small)})
    expect(put.all?.['x-amz-checksum-crc32']).toBeUndefined()
    const create = proxy.requests.find((r) => isCreate(r))!
    expect(isSdk(create)).toBe(false)
    expect(carriesOptions(create)).toBe(true)
    // Parts and the completion describe no object: they carry no options (S3 refuses some of them there).
    for (const request of proxy.requests.filter((r) => isPart(r) || isComplete(r))) expect(request.all?.['x-amz-storage-class']).toBeUndefined()
    expect((await direct.readBytes('lean/small.txt')).equals(small)).toBe(true)
    expect((await direct.readBytes('lean/big.bin')).equals(big)).toBe(true)
  })

  it('sends them through the SDK when the lean path fails, and with a copy', async () => {
    const small = Buffer.from('through the SDK\n')
    const big = randomBytes(PART + 1)
    // Every write fails once, on the lean path: the SDK sends it again.
    const failed = new Set<string>()
    proxy.plan = (r) => ((isPut(r) || isCreate(r)) && !failed.has(r.url) ? (failed.add(r.url), {type: 'status', status: 500, code: 'InternalError'}) : {type: 'pass'})
    await storage.write('sdk/small.txt', small)
    await storage.write('sdk/big.bin', big)
    const put = proxy.requests.find((r) => isSdk(r) && isPut(r))!
    expect(carriesOptions(put)).toBe(true)
    expect(put.all?.['x-amz-checksum-sha256']).toBe(sha256(small))
    expect(carriesOptions(proxy.requests.find((r) => isSdk(r) && isCreate(r))!)).toBe(true)
    proxy.plan = () => ({type: 'pass'})
    await storage.copy('sdk/small.txt', 'sdk/copy.txt')
    // A copy keeps the source's metadata (S3's COPY directive); class, encryption and ACL are the run's.
    expect(carriesOptions(proxy.requests.find(isCopy)!, false)).toBe(true)
    expect((await direct.readBytes('sdk/copy.txt')).equals(small)).toBe(true)
    expect((await direct.readBytes('sdk/big.bin')).equals(big)).toBe(true)
  })

  /** The store answers as S3 does under SSE-KMS: an ETag that is no MD5, and the encryption header. */
  const asKms = (match: (r: {method: string; url: string}) => boolean, more: Partial<Extract<Fault, {type: 'tamper'}>> = {}) => {
    let tampered = 0
    proxy.plan = (r) => {
      if (r.method === 'HEAD' || match(r)) {
        if (match(r)) tampered++
        return {type: 'tamper', responseHeaders: {etag: `"${kmsEtag()}"`, 'x-amz-server-side-encryption': 'aws:kms'}, ...(match(r) && tampered === 1 ? more : {})}
      }
      return {type: 'pass'}
    }
  }

  it('verifies a single PUT whose ETag is no MD5 by the SHA-256, and a multipart upload by reading it back', async () => {
    const small = randomBytes(4096)
    asKms(isPut)
    const written = await storage.write('kms/small.bin', small)
    expect(written.etag).not.toBe(createHash('md5').update(small).digest('hex'))
    const heads = proxy.requests.filter((r) => r.method === 'HEAD' && r.url.includes('kms/small.bin'))
    // The write was checked: asked of the store by HEAD in checksum mode (the SHA-256 it keeps, or else read back).
    expect(heads.length).toBeGreaterThan(0)
    expect(heads[0].all?.['x-amz-checksum-mode']).toBe('ENABLED')
    // A store that kept the SHA-256 the PUT sent settles it by HEAD; one that did not has the bytes read back.
    const kept = (await direct.head('kms/small.bin', {checksum: true}))?.checksums?.some((c) => c.algorithm === 'SHA256' && c.value === sha256(small))
    expect(proxy.count((r) => r.method === 'GET' && r.url.includes('kms/small.bin')) > 0).toBe(!kept)
    expect((await direct.readBytes('kms/small.bin')).equals(small)).toBe(true)

    const big = randomBytes(PART + 5)
    asKms(isComplete, {responseBody: (xml) => xml.replace(/<ETag>[^<]*<\/ETag>/, `<ETag>&quot;${kmsEtag()}-2&quot;</ETag>`)})
    await storage.write('kms/big.bin', big)
    // S3 keeps no full-object SHA-256 of a multipart upload: its bytes were read back.
    expect(proxy.count((r) => r.method === 'GET' && r.url.includes('kms/big.bin'))).toBeGreaterThan(0)
    expect((await direct.readBytes('kms/big.bin')).equals(big)).toBe(true)
  })

  it('fails a single PUT under SSE-KMS when the store kept other bytes, whose SHA-256 then differs', async () => {
    const body = randomBytes(8192)
    const changed = flipOneByte(body)
    // The bytes change on the way, with Content-MD5 and SHA-256 to match: the store takes them.
    asKms(isPut, {requestBody: flipOneByte, requestHeaders: {'x-amz-checksum-sha256': sha256(changed)}})
    const error = await storage.write('kms/corrupt.bin', body).catch((e: unknown) => e)
    expect(proxy.count((r) => r.fault === 'tamper' && isPut(r))).toBeGreaterThan(0)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('WRITE_CORRUPTED')
    expect((error as RemoteError).message).toContain(sha256(body))
  })

  it('fails a multipart upload under SSE-KMS when a part reached the store changed', async () => {
    const body = randomBytes(PART + 77)
    let parts = 0
    proxy.plan = (r) => {
      if (isPart(r) && parts++ === 0) return {type: 'tamper', requestBody: flipOneByte}
      if (isComplete(r) || r.method === 'HEAD')
        return {type: 'tamper', responseHeaders: {etag: `"${kmsEtag()}"`, 'x-amz-server-side-encryption': 'aws:kms'}, responseBody: (xml) => xml.replace(/<ETag>[^<]*<\/ETag>/, `<ETag>&quot;${kmsEtag()}-2&quot;</ETag>`)}
      return {type: 'pass'}
    }
    const error = await storage.write('kms/corrupt-big.bin', body).catch((e: unknown) => e)
    expect(parts).toBeGreaterThan(0)
    expect((error as RemoteError).code).toBe('WRITE_CORRUPTED')
  })
})
