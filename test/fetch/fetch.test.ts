import {PutObjectCommand} from '@aws-sdk/client-s3'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type ObjectInfo, openStorage} from '../../src/plugins/core/index.js'
import {writeGenerated} from '../../src/plugins/core/generate/generate.js'
import {CachedStorage, ReadCache} from '../../src/plugins/core/storage/cache.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {wydotBsmSource} from '../../src/plugins/wydot-bsm/index.js'
import {runInProcess} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, testS3Client, useS3Env} from '../helpers/s3.js'

interface FetchJson {
  objects: number
  bytes: number
  prefixes: string[]
  outsideRange: number
  cache: {hits: number; misses: number; expired: number} | null
}

describe('fetch through the read-through cache', () => {
  let tmp: string
  let bucket: string
  let proxy: FaultProxy
  const objectGets = () => proxy.count((request) => request.method === 'GET' && !request.url.includes('list-type'))
  const listings = () => proxy.requests.filter((request) => request.url.includes('list-type')).map((request) => decodeURIComponent(new URL(request.url, 'http://x').searchParams.get('prefix') ?? ''))

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-fetch-'))
    bucket = await createTestBucket('bw-fetch')
    useS3Env()
    // Four hours of BSM files in the bucket (12 objects an hour); the fetches ask for the middle two.
    const storage = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint(), region: 'us-east-1'})
    await writeGenerated(wydotBsmSource(), storage, {range: {from: new Date('2019-03-01T09:00:00Z'), to: new Date('2019-03-01T13:00:00Z')}, seed: 5, rate: 600})
    await storage.close()
    proxy = await new FaultProxy(s3Endpoint()).start()
    useS3Env(proxy.endpoint)
  })
  afterAll(async () => {
    await proxy.stop()
    await rm(tmp, {recursive: true, force: true})
  })

  const fetch = async (dir: string, ...extra: string[]) => {
    proxy.requests.length = 0
    const run = await runInProcess<FetchJson>([
      'fetch',
      `s3://${bucket}/`,
      path.join(tmp, dir),
      '--source',
      'wydot-bsm',
      '--from',
      '2019-03-01T10',
      '--to',
      '2019-03-01T12',
      '--cache-dir',
      path.join(tmp, 'cache'),
      '--json',
      ...extra,
    ])
    expect(run.exitCode, run.stdout + run.stderr).toBe(0)
    return run.result!
  }

  it('first run: lists only the range hours and downloads each object once', async () => {
    const first = await fetch('one')
    expect(first.objects).toBe(24)
    expect(first.prefixes).toEqual(['wydot/BSM/2019/03/01/10/', 'wydot/BSM/2019/03/01/11/'])
    expect(listings().sort()).toEqual(['wydot/BSM/2019/03/01/10/', 'wydot/BSM/2019/03/01/11/'])
    expect(objectGets()).toBe(24)
    expect(first.cache).toMatchObject({hits: 0, misses: 24})
  })

  it('second run makes no GET request and writes the same bytes', async () => {
    const second = await fetch('two')
    expect(objectGets()).toBe(0)
    expect(listings()).toHaveLength(2) // the listing is always fresh
    expect(second.cache).toMatchObject({hits: 24, misses: 0})
    const one = new LocalStorage(path.join(tmp, 'one'))
    for await (const info of one.list()) {
      expect((await readFile(path.join(tmp, 'two', info.key))).equals(await readFile(path.join(tmp, 'one', info.key)))).toBe(true)
    }
  })

  it('a changed object (new ETag) is downloaded again; the others still come from the cache', async () => {
    const key = 'wydot/BSM/2019/03/01/10/wydot-filtered-bsm-1551434400000.json'
    await testS3Client(s3Endpoint()).send(new PutObjectCommand({Bucket: bucket, Key: key, Body: '{"changed":true}\n'}))
    const run = await fetch('three')
    expect(objectGets()).toBe(1)
    expect(run.cache).toMatchObject({hits: 23, misses: 1})
    expect(await readFile(path.join(tmp, 'three', key), 'utf8')).toBe('{"changed":true}\n')
  })

  it('entries older than --cache-ttl are downloaded again', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const run = await fetch('four', '--cache-ttl', '1s')
    expect(objectGets()).toBe(24)
    expect(run.cache).toMatchObject({hits: 0, misses: 24, expired: 24})
    const again = await fetch('five', '--cache-ttl', '1h')
    expect(objectGets()).toBe(0)
    expect(again.cache!.hits).toBe(24)
  })

  it('--no-cache always GETs', async () => {
    const run = await fetch('six', '--no-cache')
    expect(objectGets()).toBe(24)
    expect(run.cache).toBeNull()
  })
})

describe('ReadCache size cap', () => {
  it('evicts the least recently used entries beyond the cap, across runs', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-cache-'))
    const body = (text: string) => Readable.from([Buffer.from(text.repeat(100))])
    const cache = new ReadCache({dir, maxBytes: 250})
    await cache.store('s3://b/', 'a', 'e1', body('a'))
    await cache.store('s3://b/', 'b', 'e1', body('b'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await cache.lookup('s3://b/', 'a', 'e1')).toBeDefined() // a is now more recent than b
    await cache.store('s3://b/', 'c', 'e1', body('c'))
    expect(cache.stats.evictions).toBe(1)
    expect(await cache.lookup('s3://b/', 'b', 'e1')).toBeUndefined()
    expect(await cache.size()).toBe(200)
    // A new process sees the same entries and order from the files' times.
    const later = new ReadCache({dir, maxBytes: 250})
    expect(await later.size()).toBe(200)
    expect(await later.lookup('s3://b/', 'a', 'e1')).toBeDefined()
    expect(await later.lookup('s3://b/', 'a', 'e2')).toBeUndefined() // another ETag is another object
    // Another process evicts an entry this one knows: a miss, not a broken read.
    await rm((await cache.lookup('s3://b/', 'c', 'e1'))!)
    expect(await later.lookup('s3://b/', 'c', 'e1')).toBeUndefined()
    expect(await later.size()).toBe(100)
    await rm(dir, {recursive: true, force: true})
  })
})

describe('CachedStorage when the bytes do not match the listed ETag', () => {
  // Object bodies only: the kept listings (listings/, for --offline) are not objects.
  const filesIn = async (dir: string) => (await readdir(dir, {recursive: true, withFileTypes: true})).filter((entry) => entry.isFile() && path.basename(entry.parentPath) !== 'listings').length

  it('an object overwritten between listing and GET is served as downloaded but not cached under the old ETag', async () => {
    const bucket = await createTestBucket('bw-cache-race')
    const client = testS3Client(s3Endpoint())
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'a.json', Body: 'version one\n'}))
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-cache-race-'))
    const cache = new ReadCache({dir})
    const storage = new CachedStorage(await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint(), region: 'us-east-1'}), cache)
    const listed: ObjectInfo[] = []
    for await (const info of storage.list()) listed.push(info)
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'a.json', Body: 'version two!\n'}))
    expect((await storage.readBytes('a.json')).toString()).toBe('version two!\n')
    expect(await cache.lookup(storage.uri, 'a.json', listed[0].etag!)).toBeUndefined()
    expect(await filesIn(dir)).toBe(0) // the transient copy is gone
    // The next listing shows the new ETag: downloaded once more, then cached.
    for await (const _ of storage.list()) void _
    expect((await storage.readBytes('a.json')).toString()).toBe('version two!\n')
    expect((await storage.readBytes('a.json')).toString()).toBe('version two!\n')
    expect(cache.stats).toMatchObject({misses: 2, hits: 1})
    await storage.close()
    await rm(dir, {recursive: true, force: true})
  })

  it('an ETag that is not the MD5 (SSE-KMS) but did not change is confirmed by HEAD and cached', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-cache-kms-'))
    await writeFile(path.join(root, 'b.json'), '{"kms":true}\n')
    const kmsEtag = '0123456789abcdef0123456789abcdef'
    // Stands in for a KMS-encrypted bucket, whose ETags are 32 hex digits that are not the body's MD5.
    class KmsLikeStorage extends LocalStorage {
      override async head(key: string): Promise<ObjectInfo | undefined> {
        const info = await super.head(key)
        return info && {...info, etag: kmsEtag}
      }
    }
    const dir = path.join(root, '.cache')
    const cache = new ReadCache({dir})
    const storage = new CachedStorage(new KmsLikeStorage(path.join(root)), cache)
    expect((await storage.readBytes('b.json')).toString()).toBe('{"kms":true}\n')
    expect((await storage.readBytes('b.json')).toString()).toBe('{"kms":true}\n')
    expect(cache.stats).toMatchObject({misses: 1, hits: 1})
    expect(await cache.lookup(storage.uri, 'b.json', kmsEtag)).toBeDefined()
    await rm(root, {recursive: true, force: true})
  })
})
