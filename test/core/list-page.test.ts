import {ListObjectsV2Command, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import http from 'node:http'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {listObjectsPage, parseListObjectsPage} from '../../src/plugins/core/storage/list-page.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, testS3Client, useS3Env} from '../helpers/s3.js'

/** Keys that need XML escaping or are outside ASCII, beside plain ones. */
const KEYS = ['plain/a.json', 'amp/a&b.json', 'lt/<tag>.json', "quote/it's \"q\".json", 'space/a b+c%20.json', 'unicode/größe-日本.json', 'emoji/😀.json', 'tab/a\tb.json']

/** The raw ListObjectsV2 body the server sends (the loopback server takes unsigned requests). */
async function rawPage(bucket: string, query = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(`${s3Endpoint()}/${bucket}?list-type=2${query}`, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve(body))
    }).on('error', reject)
  })
}

describe('ListObjectsV2 pages read without the SDK parser', () => {
  let client: S3Client
  let bucket: string
  let storage: Storage

  beforeAll(async () => {
    useS3Env()
    client = testS3Client()
    bucket = await createTestBucket('bw-list-page')
    await Promise.all(KEYS.map((key, i) => client.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'x'.repeat(i)}))))
    storage = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint()})
  })

  afterAll(async () => {
    await storage.close()
  })

  it('reads the server’s own XML exactly as the SDK does: keys with entities and non-ASCII, sizes, ETags, dates', async () => {
    const sdk = await client.send(new ListObjectsV2Command({Bucket: bucket}))
    const fast = parseListObjectsPage(await rawPage(bucket))
    expect(fast).toBeDefined()
    expect(fast!.contents).toEqual(sdk.Contents!.map((item) => ({key: item.Key, size: item.Size, lastModified: item.LastModified, etag: item.ETag})))
    expect(fast!.contents.map((item) => item.key).sort()).toEqual([...KEYS].sort())
    expect(fast!.isTruncated).toBe(false)
    // Through the SDK (signing, retries), the body is read by the fast reader, not the SDK.
    const sent = await listObjectsPage(client, {Bucket: bucket})
    expect(sent.readBy).toBe('bucketwright')
    expect(sent.contents).toEqual(fast!.contents)
  })

  it('follows continuation tokens page by page like the SDK', async () => {
    const first = parseListObjectsPage(await rawPage(bucket, '&max-keys=3'))!
    expect(first.contents).toHaveLength(3)
    expect(first.isTruncated).toBe(true)
    const sdk = await client.send(new ListObjectsV2Command({Bucket: bucket, MaxKeys: 3}))
    expect(first.nextContinuationToken).toBe(sdk.NextContinuationToken)
    const all = await client.send(new ListObjectsV2Command({Bucket: bucket}))
    const listed = []
    for await (const info of storage.list('', {pageSize: 3})) listed.push(info)
    expect(listed.map((info) => info.key)).toEqual(all.Contents!.map((item) => item.Key))
    expect(listed.map((info) => info.etag)).toEqual(all.Contents!.map((item) => item.ETag!.replaceAll('"', '')))
  })

  it('leaves what it does not fully understand to the SDK', () => {
    const page = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>${body}</ListBucketResult>`
    const object = (key: string) => `<Contents><Key>${key}</Key><LastModified>2021-11-01T00:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>1</Size></Contents>`
    expect(parseListObjectsPage(page(object('a&amp;b&#x1F600;&#13;')))?.contents[0].key).toBe('a&b😀\r')
    expect(parseListObjectsPage(page(object('a&nbsp;b')))).toBeUndefined()
    expect(parseListObjectsPage(page(object('a') + '<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>'))).toBeUndefined()
    expect(parseListObjectsPage(page('<EncodingType>url</EncodingType>' + object('a%20b')))).toBeUndefined()
    expect(parseListObjectsPage(page('<KeyCount>2</KeyCount>' + object('a')))).toBeUndefined()
    expect(parseListObjectsPage(page(object('a').replace('<Size>1</Size>', '<Size>x</Size>')))).toBeUndefined()
    expect(parseListObjectsPage('<Error><Code>InternalError</Code></Error>')).toBeUndefined()
  })

  it('still retries a 200 carrying an error and a body cut off mid-page', async () => {
    const proxy = await new FaultProxy(s3Endpoint()).start()
    const listings = (r: {url: string}) => r.url.includes('list-type=2')
    let failed = 0
    proxy.plan = (request) => {
      if (!listings(request) || failed >= 2) return {type: 'pass'}
      failed++
      return failed === 1 ? {type: 'status', status: 200, code: 'InternalError'} : {type: 'truncate', afterBytes: 300}
    }
    const through = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, retryBaseMs: 1, maxAttempts: 5})
    try {
      const keys = []
      for await (const info of through.list('')) keys.push(info.key)
      expect(keys.sort()).toEqual([...KEYS].sort())
      expect(proxy.count(listings)).toBe(3)
    } finally {
      await through.close()
      await proxy.stop()
    }
  })
})
