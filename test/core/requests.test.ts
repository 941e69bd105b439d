import {afterAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {DEFAULT_PART_SIZE, listRequests, requestCost, RequestTally, uploadRequests} from '../../src/plugins/core/storage/requests.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'

describe('request counts and prices (storage/requests.ts)', () => {
  it('counts an upload as one PUT up to one part, and as create + parts + complete above it', () => {
    expect(uploadRequests(0)).toBe(1)
    expect(uploadRequests(DEFAULT_PART_SIZE)).toBe(1)
    expect(uploadRequests(DEFAULT_PART_SIZE + 1)).toBe(4)
    expect(uploadRequests(3 * DEFAULT_PART_SIZE)).toBe(5)
    expect(uploadRequests(10, 4)).toBe(5)
  })

  it('counts a listing as one page per 1,000 keys, and an empty listing as one request', () => {
    expect([0, 1, 1000, 1001, 2500].map(listRequests)).toEqual([1, 1, 1, 2, 3])
  })

  it('prices LIST/PUT/COPY at $0.005 and GET/HEAD at $0.0004 per 1,000; DELETE is free', () => {
    expect(requestCost({list: 1000, put: 1000, copy: 1000, get: 1000, head: 1000, delete: 1_000_000})).toEqual({list: 0.005, get: 0.0008, put: 0.01, total: 0.0158})
    expect(requestCost({})).toEqual({list: 0, get: 0, put: 0, total: 0})
    // The total is the rounded sum, not the sum of rounded parts: three GETs of $0.0000004 are $0.000001.
    expect(requestCost({get: 1, head: 2}).total).toBe(0.000001)
  })

  it('tallies requests by kind', () => {
    const tally = new RequestTally()
    tally.listing(2001)
    tally.upload(DEFAULT_PART_SIZE * 2)
    tally.add({get: 2, delete: 1})
    tally.add({get: 1, copy: 4})
    expect(tally.counts()).toEqual({list: 3, get: 3, head: 0, put: 4, copy: 4, delete: 1})
  })
})

// The rule is the storage's: a real upload of each size makes exactly the PUT-class requests the rule plans.
describe.each(s3Servers())('uploadRequests matches the requests S3Storage makes on $name', ({endpoint}) => {
  let storage: Storage
  afterAll(() => storage?.close())

  it.each([1024, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE + 1, 2 * DEFAULT_PART_SIZE + 5])('%i bytes', async (size) => {
    useS3Env(endpoint)
    storage ??= await openStorage(`s3://${await createTestBucket('bw-requests', testS3Client(endpoint))}/`, {endpoint, retryBaseMs: 5})
    const puts = () => ['PutObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'].reduce((sum, op) => sum + (storage.stats!.requests[op] ?? 0), 0)
    const before = puts()
    await storage.write(`size-${size}.bin`, Buffer.alloc(size, 7))
    expect(puts() - before).toBe(uploadRequests(size))
  })
})
