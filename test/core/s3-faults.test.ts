import {createHash} from 'node:crypto'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {openStorage, RemoteError, type Storage} from '../../src/plugins/core/index.js'
import type {S3Storage} from '../../src/plugins/core/storage/s3/storage.js'
import {type Fault, FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, credentialsFor, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

const SLOWDOWN = {type: 'status', status: 503, code: 'SlowDown'} as const
const INTERNAL = {type: 'status', status: 500, code: 'InternalError'} as const

describe.each(s3Servers())('S3 retries over real HTTP through a fault-injecting proxy, on $name', ({name, endpoint}) => {
  let proxy: FaultProxy
  let storage: Storage
  let direct: Storage
  let bucket: string

  beforeAll(async () => {
    useS3Env(endpoint)
    bucket = await createTestBucket('bw-faults', testS3Client(endpoint))
    proxy = await new FaultProxy(endpoint).start()
    storage = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, retryBaseMs: 2, maxAttempts: 6})
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

  /** Fails the first `times` requests matching `match` with `fault`. */
  const failFirst = (times: number, match: (r: {method: string; url: string}) => boolean, fault: Fault) => {
    let left = times
    proxy.plan = (request) => (match(request) && left-- > 0 ? fault : {type: 'pass'})
  }

  it('writes through 503 SlowDown and 500s, retrying, with exactly one object stored', async () => {
    failFirst(3, (r) => r.method === 'PUT', SLOWDOWN)
    const before = (storage as S3Storage).stats.retries
    const result = await storage.write('retry/put.txt', 'survives throttling')
    expect(proxy.count((r) => r.method === 'PUT')).toBe(4)
    expect((storage as S3Storage).stats.retries - before).toBe(3)
    expect(result.etag).toBe(createHash('md5').update('survives throttling').digest('hex'))
    expect((await direct.readBytes('retry/put.txt')).toString()).toBe('survives throttling')
  })

  it('completes a multipart upload when parts fail, with no duplicate or partial object', async () => {
    const body = Buffer.alloc(20 * 1024 * 1024, 7)
    body.write('head', 0)
    failFirst(2, (r) => r.method === 'PUT' && r.url.includes('partNumber=2'), INTERNAL)
    const result = await storage.write('retry/multipart.bin', body)
    expect(result.parts).toBe(3)
    expect(proxy.count((r) => r.url.includes('partNumber=2'))).toBe(3)
    const back = await direct.readBytes('retry/multipart.bin')
    expect(back.equals(body)).toBe(true)
    const listed = []
    for await (const o of direct.list('retry/multipart')) listed.push(o.key)
    expect(listed).toEqual(['retry/multipart.bin'])
  })

  it('aborts a multipart upload that cannot complete, leaving no parts and no object behind', async () => {
    const body = Buffer.alloc(20 * 1024 * 1024, 3)
    proxy.plan = (r) => (r.method === 'PUT' && r.url.includes('partNumber=2') ? INTERNAL : {type: 'pass'})
    const error = await storage.write('retry/aborted.bin', body).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RemoteError)
    const aborts = proxy.requests.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='))
    expect(await direct.head('retry/aborted.bin')).toBeUndefined()
    if (name === 's3rver') {
      // s3rver 3.x does not implement AbortMultipartUpload (it answers 405): the lean abort, then the SDK's, were tried.
      expect(aborts).toHaveLength(2)
      return
    }
    expect(aborts).toHaveLength(1)
    // The aborted upload is gone at the server: a part sent to it now is refused.
    const uploadId = new URL(aborts[0].url, 'http://x').searchParams.get('uploadId')!
    const {UploadPartCommand} = await import('@aws-sdk/client-s3')
    const late = await (await (direct as S3Storage).client()).send(new UploadPartCommand({Bucket: bucket, Key: 'retry/aborted.bin', UploadId: uploadId, PartNumber: 3, Body: Buffer.from('late')})).catch((e: Error) => e)
    expect((late as Error).name).toBe('NoSuchUpload')
    expect(await direct.head('retry/aborted.bin')).toBeUndefined()
  })

  it('writes on the lean path: one PUT for a small body; create, parts and complete for a large one', async () => {
    const before = {...(storage as S3Storage).stats.requests}
    const retries = (storage as S3Storage).stats.retries
    const small = await storage.write('lean/small.json', '{"a":1}', {contentType: 'application/json', metadata: {origin: 'test'}})
    expect(small).toMatchObject({size: 7, parts: 0, etag: createHash('md5').update('{"a":1}').digest('hex')})
    expect(proxy.requests.map((r) => r.method)).toEqual(['PUT'])
    const body = Buffer.alloc(17 * 1024 * 1024, 5)
    body.write('first part', 0)
    body.write('last part', body.length - 9)
    proxy.requests.length = 0
    const large = await storage.write(
      'lean/large.bin',
      (async function* () {
        for (let at = 0; at < body.length; at += 1_000_000) yield body.subarray(at, at + 1_000_000)
      })(),
    )
    expect(large).toMatchObject({size: body.length, parts: 3, md5: createHash('md5').update(body).digest('hex')})
    expect(proxy.requests.map((r) => `${r.method} ${new URL(r.url, 'http://x').search.replace(/=[^&]*/g, '')}`).sort()).toEqual([
      'POST ?uploadId',
      'POST ?uploads',
      'PUT ?partNumber&uploadId',
      'PUT ?partNumber&uploadId',
      'PUT ?partNumber&uploadId',
    ])
    const stats = (storage as S3Storage).stats
    const delta = (operation: string) => (stats.requests[operation] ?? 0) - (before[operation] ?? 0)
    expect([delta('PutObject'), delta('CreateMultipartUpload'), delta('UploadPart'), delta('CompleteMultipartUpload'), stats.retries - retries]).toEqual([1, 1, 3, 1, 0])
    expect((await direct.readBytes('lean/large.bin')).equals(body)).toBe(true)
    // A lean HEAD reports what the SDK's does.
    const {HeadObjectCommand} = await import('@aws-sdk/client-s3')
    const sdk = await (await (direct as S3Storage).client()).send(new HeadObjectCommand({Bucket: bucket, Key: 'lean/small.json'}))
    proxy.requests.length = 0
    const head = await storage.head('lean/small.json')
    expect(proxy.requests.map((r) => r.method)).toEqual(['HEAD'])
    expect(head).toMatchObject({key: 'lean/small.json', size: sdk.ContentLength, etag: sdk.ETag?.replaceAll('"', ''), metadata: sdk.Metadata, lastModified: sdk.LastModified})
    expect(await storage.head('lean/missing.json')).toBeUndefined()
  })

  it('starts and completes a multipart upload through the SDK when the lean requests fail', async () => {
    const body = Buffer.alloc(9 * 1024 * 1024, 1)
    const failed = new Set<string>()
    proxy.plan = (r) => {
      const kind = r.url.includes('uploadId=') ? 'complete' : 'create'
      if (r.method !== 'POST' || failed.has(kind)) return {type: 'pass'}
      failed.add(kind)
      return INTERNAL
    }
    const result = await storage.write('lean/fallback.bin', body)
    expect(result.parts).toBe(2)
    // Each POST twice: the lean one that failed, then the SDK's.
    expect(proxy.count((r) => r.method === 'POST' && r.url.includes('uploads'))).toBe(2)
    expect(proxy.count((r) => r.method === 'POST' && r.url.includes('uploadId='))).toBe(2)
    expect((await direct.readBytes('lean/fallback.bin')).equals(body)).toBe(true)
  })

  it('refuses a write the store acknowledges with another ETag than the MD5 of the bytes sent', async () => {
    await direct.write('lean/acknowledged.txt', 'an older version')
    // The proxy answers the PUT itself, 200 with a foreign ETag: as a store that kept other bytes would.
    failFirst(1, (r) => r.method === 'PUT', {type: 'status', status: 200, code: 'OK', headers: {etag: '"00000000000000000000000000000000"'}})
    const error = await storage.write('lean/acknowledged.txt', 'the new bytes').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('WRITE_CORRUPTED')
    expect((error as RemoteError).message).toMatch(/expected [0-9a-f]{32}.*removed/)
    // What was under the name is removed rather than left as a possibly corrupt object.
    expect(await direct.head('lean/acknowledged.txt')).toBeUndefined()
  })

  it('reads and lists through connection resets', async () => {
    await direct.write('retry/get.txt', 'read me through resets')
    failFirst(2, (r) => r.method === 'GET', {type: 'reset'})
    expect((await storage.readBytes('retry/get.txt')).toString()).toBe('read me through resets')
    failFirst(2, (r) => r.method === 'GET' && r.url.includes('list-type=2'), {type: 'reset'})
    const keys = []
    for await (const o of storage.list('retry/')) keys.push(o.key)
    expect(keys).toContain('retry/get.txt')
    expect(proxy.count((r) => r.url.includes('list-type=2'))).toBe(3)
  })

  it('resumes a body cut off mid-stream from the next byte, pinned to the same version', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff
    await direct.write('retry/cut.bin', body)
    failFirst(1, (r) => r.method === 'GET' && r.url.includes('cut.bin'), {type: 'truncate', afterBytes: 1_000_000})
    const chunks: Buffer[] = []
    for await (const chunk of await storage.read('retry/cut.bin')) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).equals(body)).toBe(true)
    const gets = proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('cut.bin'))
    expect(gets).toHaveLength(2)
    expect(Number(/^bytes=(\d+)-$/.exec(gets[1].headers?.range ?? '')?.[1])).toBeGreaterThan(0)
    expect(gets[1].headers?.['if-match']).toBeTruthy()
  })

  it('reads whole objects on the lean path in one GET each, and again through the SDK when a body is cut off', async () => {
    const body = Buffer.alloc(600 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff
    await direct.write('lean/a.bin', body)
    const before = (storage as S3Storage).stats.requests.GetObject ?? 0
    const whole = await storage.readBytes('lean/a.bin')
    expect(whole.equals(body)).toBe(true)
    // A buffer of its own, transferable to a worker thread.
    expect(whole.byteOffset).toBe(0)
    expect(whole.buffer.byteLength).toBe(body.length)
    expect(proxy.count((r) => r.method === 'GET')).toBe(1)
    expect(proxy.requests[0].authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${credentialsFor(endpoint).accessKeyId}/`))
    expect((storage as S3Storage).stats.requests.GetObject).toBe(before + 1)

    proxy.requests.length = 0
    failFirst(1, (r) => r.method === 'GET', {type: 'truncate', afterBytes: 100_000})
    expect((await storage.readBytes('lean/a.bin')).equals(body)).toBe(true)
    expect(proxy.count((r) => r.method === 'GET')).toBe(2)

    const missing = await storage.readBytes('lean/none.bin').catch((error: unknown) => error)
    expect(missing).toMatchObject({code: 'NO_SUCH_KEY'})
  })

  it('lists on the lean path in one request a page, keys with XML-special and non-ASCII characters intact', async () => {
    const keys = ['odd/a&b.json', 'odd/less<more>.json', 'odd/quote"\'.json', 'odd/space here.json', 'odd/ünï©ødé-日本.json', 'odd/plus+sign.json']
    for (const key of keys) await direct.write(key, key)
    proxy.requests.length = 0
    const listed: string[] = []
    for await (const info of storage.list('odd/')) listed.push(info.key)
    expect(listed).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
    expect(proxy.count((r) => r.url.includes('list-type=2'))).toBe(1)
    const info = (await collect(storage.list('odd/a&b')))[0]
    expect(info).toMatchObject({key: 'odd/a&b.json', size: 'odd/a&b.json'.length})
    expect(info.etag).toMatch(/^[0-9a-f]{32}$/)
    // Pages: start-after and continuation tokens on the lean path give every key once, in order.
    const startAfter: string[] = []
    for await (const item of storage.list('odd/', {startAfter: 'odd/less<more>.json'})) startAfter.push(item.key)
    expect(startAfter).toEqual(listed.slice(listed.indexOf('odd/less<more>.json') + 1))
  })

  it('lists through the SDK when the lean page fails, without losing or repeating keys', async () => {
    for (let i = 0; i < 3; i++) await direct.write(`fallback/${i}.json`, String(i))
    failFirst(1, (r) => r.url.includes('list-type=2'), INTERNAL)
    const listed: string[] = []
    for await (const info of storage.list('fallback/')) listed.push(info.key)
    expect(listed).toEqual(['fallback/0.json', 'fallback/1.json', 'fallback/2.json'])
  })

  it('fails with an actionable error, not a stack trace, when throttling persists', async () => {
    proxy.plan = (r) => (r.method === 'PUT' ? SLOWDOWN : {type: 'pass'})
    // A storage of its own: earlier tests' lean failures in a row may have turned the lean path off in the shared one.
    const fresh = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, retryBaseMs: 2, maxAttempts: 6})
    const error = await fresh.write('retry/never.txt', 'x').catch((e: unknown) => e)
    await fresh.close()
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('THROTTLED')
    expect((error as RemoteError).message).toMatch(/SlowDown.*after 6 attempts/)
    expect((error as RemoteError).nextSteps.join(' ')).toMatch(/Run again later/)
    // One attempt on the lean path, then the SDK's 6 (maxAttempts).
    expect(proxy.count((r) => r.method === 'PUT')).toBe(7)
    expect(await direct.head('retry/never.txt')).toBeUndefined()
  })

  it('fails with an actionable error when 500s persist on reads', async () => {
    await direct.write('retry/broken.txt', 'x')
    proxy.plan = (r) => (r.method === 'GET' ? INTERNAL : {type: 'pass'})
    const error = await storage.readBytes('retry/broken.txt').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('REMOTE_FAILURE')
    expect((error as RemoteError).details).toMatchObject({operation: 'GetObject', bucket, key: 'retry/broken.txt', httpStatus: 500})
  })
})
