import {PutObjectCommand} from '@aws-sdk/client-s3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {createTestBucket, s3Endpoint, testS3Client, useS3Env} from '../helpers/s3.js'

const PREFIXES = Array.from({length: 40}, (_, i) => `day-${String(i).padStart(2, '0')}/`)
const KEYS = PREFIXES.flatMap((prefix, i) => Array.from({length: i % 3 === 0 ? 0 : 3 + (i % 4)}, (_, j) => `${prefix}obj-${j}`))

describe('listMany over S3: order, completeness, bounded look-ahead', () => {
  let storage: Storage

  beforeAll(async () => {
    useS3Env()
    const client = testS3Client()
    const bucket = await createTestBucket('bw-list-many')
    await Promise.all(KEYS.map((key) => client.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'x'}))))
    storage = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint()})
  })

  afterAll(async () => {
    await storage.close()
  })

  it('yields every key once, in prefix order, empty prefixes included, whatever the concurrency', async () => {
    for (const concurrency of [1, 3, 32]) {
      const keys: string[] = []
      for await (const info of storage.listMany(PREFIXES, {concurrency})) keys.push(info.key)
      expect(keys).toEqual(KEYS)
    }
  })

  it('starts prefixes at most twice the concurrency ahead of a slow consumer', async () => {
    const started: string[] = []
    const counting = Object.assign(Object.create(storage) as Storage, {
      // Listings go page by page (Storage.listPages) where the storage has it, as S3's does.
      listPages: (prefix: string, options?: Parameters<Storage['list']>[1]) => {
        started.push(prefix)
        return storage.listPages!(prefix, options)
      },
    })
    const {listManyInOrder} = await import('../../src/plugins/core/storage/list-many.js')
    const listing = listManyInOrder(counting, PREFIXES, {concurrency: 3})[Symbol.asyncIterator]()
    const first = await listing.next()
    expect(first.value?.key).toBe(KEYS[0])
    await new Promise((resolve) => setTimeout(resolve, 300))
    // Consumer on prefix #1 (day-00 is empty): prefixes up to #1 + 2 × 3 may have started, no more.
    expect(started.length).toBeGreaterThan(3)
    expect(started.length).toBeLessThanOrEqual(1 + 2 * 3)
    const rest: string[] = [first.value!.key]
    for (let next = await listing.next(); !next.done; next = await listing.next()) rest.push(next.value.key)
    expect(rest).toEqual(KEYS)
    expect(started).toEqual(PREFIXES)
  })
})
