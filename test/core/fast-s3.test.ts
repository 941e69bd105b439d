import {S3Client} from '@aws-sdk/client-s3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {FastS3, sdkTarget} from '../../src/plugins/core/storage/s3/fast-s3.js'
import {quickTarget} from '../../src/plugins/core/storage/s3/s3-client.js'

// The lean path must address a bucket exactly as the SDK would, or its requests go to the wrong host.
describe('FastS3 endpoint resolution (no network)', () => {
  const credentials = {accessKeyId: 'A', secretAccessKey: 'S'}
  const base = (fast: FastS3, bucket: string) => (fast as unknown as {base(bucket: string): Promise<URL>}).base(bucket)

  it('uses virtual-hosted addressing on AWS, path-style for names with dots', async () => {
    const client = new S3Client({region: 'eu-west-1', credentials})
    const fast = new FastS3(client, 4)
    expect((await base(fast, 'my-bucket')).href).toBe('https://my-bucket.s3.eu-west-1.amazonaws.com/')
    expect((await base(fast, 'my.dotted.bucket')).href).toBe('https://s3.eu-west-1.amazonaws.com/my.dotted.bucket')
    fast.close()
  })

  it('uses path-style on a custom endpoint', async () => {
    const client = new S3Client({region: 'us-east-1', credentials, endpoint: 'http://127.0.0.1:9000', forcePathStyle: true})
    const fast = new FastS3(client, 4)
    expect((await base(fast, 'bucket-a')).href).toBe('http://127.0.0.1:9000/bucket-a')
    fast.close()
  })
})

// Without the SDK the lean path must reach the very URL, region and credentials the SDK would, or not be used at all.
describe('the lean target resolved without the SDK (no network)', () => {
  const env = {AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token', AWS_REGION: 'eu-central-1'}
  const saved: Record<string, string | undefined> = {}
  beforeEach(() => {
    for (const name of [...Object.keys(env), 'AWS_PROFILE']) saved[name] = process.env[name]
    Object.assign(process.env, env)
    delete process.env.AWS_PROFILE
  })
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })

  it('matches the SDK for an explicit endpoint, with and without a base path', async () => {
    for (const endpoint of ['http://127.0.0.1:9000', 'http://127.0.0.1:9000/', 'https://minio.example.com/storage/s3']) {
      const quick = (await quickTarget({endpoint}))!
      const sdk = sdkTarget(new S3Client({region: 'eu-central-1', endpoint, forcePathStyle: true}))
      expect((await quick.base('bucket-a')).href).toBe((await sdk.base('bucket-a')).href)
      expect(await quick.region()).toBe(await sdk.region())
      expect(await quick.credentials()).toEqual({accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token'})
      expect(await sdk.credentials()).toMatchObject(await quick.credentials())
    }
  })

  it('leaves AWS endpoints, virtual-hosted addressing and named profiles to the SDK', async () => {
    expect(await quickTarget({})).toBeUndefined()
    expect(await quickTarget({endpoint: 'http://127.0.0.1:9000', forcePathStyle: false})).toBeUndefined()
    expect(await quickTarget({endpoint: 'http://127.0.0.1:9000', profile: 'prod'})).toBeUndefined()
    process.env.AWS_PROFILE = 'prod'
    expect(await quickTarget({endpoint: 'http://127.0.0.1:9000'})).toBeUndefined()
    delete process.env.AWS_PROFILE
    delete process.env.AWS_SECRET_ACCESS_KEY
    expect(await quickTarget({endpoint: 'http://127.0.0.1:9000'})).toBeUndefined()
    // Anonymous access needs no credentials at all.
    expect(await (await quickTarget({endpoint: 'http://127.0.0.1:9000', anonymous: true}))!.credentials()).toEqual({accessKeyId: '', secretAccessKey: ''})
  })
})

describe('lean ListObjectsV2 parsing (no network)', () => {
  it('decodes entities and character references, and takes the token of a truncated page', async () => {
    const {parseListPage} = await import('../../src/plugins/core/storage/s3/fast-s3.js')
    const xml = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b&lt;c&gt;&quot;&apos;&#x41;&#66;</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>p/z</Key><LastModified>2024-01-02T03:04:06.000Z</LastModified><ETag>"abc-2"</ETag><Size>0</Size></Contents><NextContinuationToken>tok&amp;en</NextContinuationToken></ListBucketResult>`
    expect(parseListPage(xml)).toEqual({
      objects: [
        {key: `p/a&b<c>"'AB`, size: 12, etag: '0123456789abcdef0123456789abcdef', lastModified: new Date('2024-01-02T03:04:05.000Z')},
        {key: 'p/z', size: 0, etag: 'abc-2', lastModified: new Date('2024-01-02T03:04:06.000Z')},
      ],
      nextToken: 'tok&en',
    })
  })

  it('reads times in other forms than the one S3 writes, and sizes beyond 2^32', async () => {
    const {parseListPage} = await import('../../src/plugins/core/storage/s3/fast-s3.js')
    const page = parseListPage(
      `<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><LastModified>2024-01-02T03:04:05Z</LastModified><Size>5000000000000</Size></Contents><Contents><Key>b</Key><LastModified>2024-01-02T03:04:05.123+01:00</LastModified><Size>0</Size></Contents><Contents><Key>c</Key><Size>7</Size></Contents></ListBucketResult>`,
    )
    expect(page.objects.map((o) => [o.key, o.size, o.lastModified.toISOString()])).toEqual([
      ['a', 5_000_000_000_000, '2024-01-02T03:04:05.000Z'],
      ['b', 0, '2024-01-02T02:04:05.123Z'],
      ['c', 7, '1970-01-01T00:00:00.000Z'],
    ])
  })

  it('refuses what it does not understand, so the SDK lists that page instead', async () => {
    const {FastPathError, parseListPage} = await import('../../src/plugins/core/storage/s3/fast-s3.js')
    expect(() => parseListPage('<Error><Code>AccessDenied</Code></Error>')).toThrow(FastPathError)
    expect(() => parseListPage('<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>')).toThrow(/without a continuation token/)
    expect(() => parseListPage('<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>')).toThrow(/without Key or Size/)
    expect(() => parseListPage('<ListBucketResult><Contents><Key>k</Key><Size>12 </Size></Contents></ListBucketResult>')).toThrow(/without Key or Size/)
    expect(() => parseListPage('<ListBucketResult><Contents><Key>a&nbsp;b</Key><Size>1</Size></Contents></ListBucketResult>')).toThrow(/unknown XML entity/)
  })
})
