import {S3Client} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {FastS3} from '../../src/plugins/core/storage/fast-s3.js'

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

describe('lean ListObjectsV2 parsing (no network)', () => {
  it('decodes entities and character references, and takes the token of a truncated page', async () => {
    const {parseListPage} = await import('../../src/plugins/core/storage/fast-s3.js')
    const xml = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b&lt;c&gt;&quot;&apos;&#x41;&#66;</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>p/z</Key><LastModified>2024-01-02T03:04:06.000Z</LastModified><ETag>"abc-2"</ETag><Size>0</Size></Contents><NextContinuationToken>tok&amp;en</NextContinuationToken></ListBucketResult>`
    expect(parseListPage(xml)).toEqual({
      objects: [
        {key: `p/a&b<c>"'AB`, size: 12, etag: '0123456789abcdef0123456789abcdef', lastModified: new Date('2024-01-02T03:04:05.000Z')},
        {key: 'p/z', size: 0, etag: 'abc-2', lastModified: new Date('2024-01-02T03:04:06.000Z')},
      ],
      nextToken: 'tok&en',
    })
  })

  it('refuses what it does not understand, so the SDK lists that page instead', async () => {
    const {FastPathError, parseListPage} = await import('../../src/plugins/core/storage/fast-s3.js')
    expect(() => parseListPage('<Error><Code>AccessDenied</Code></Error>')).toThrow(FastPathError)
    expect(() => parseListPage('<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>')).toThrow(/without a continuation token/)
    expect(() => parseListPage('<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>')).toThrow(/without Key or Size/)
    expect(() => parseListPage('<ListBucketResult><Contents><Key>a&nbsp;b</Key><Size>1</Size></Contents></ListBucketResult>')).toThrow(/unknown XML entity/)
  })
})
