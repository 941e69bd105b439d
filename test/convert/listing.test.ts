import {PutObjectCommand} from '@aws-sdk/client-s3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage, RemoteError, type Storage} from '../../src/plugins/core/index.js'
import {type ListedWindow, listingWindows, listWindows, probeLocations} from '../../src/plugins/core/convert/listing.js'
import {bustimesSource} from '../../src/plugins/bustimes/index.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, testS3Client, useS3Env} from '../helpers/s3.js'

const START = Date.parse('2021-11-01T00:00:00Z') // a Monday: ISO week 44
const stamp = (time: number) => {
  const iso = new Date(time).toISOString()
  return `${iso.slice(0, 10)}__${iso.slice(11, 19).replaceAll(':', '-')}.json`
}

/** 20 days of keys, one every 17 minutes under raw/, one every 3 hours at the legacy root level. */
const RAW = Array.from({length: Math.floor((20 * 1440) / 17)}, (_, i) => `raw/bustimes__${stamp(START + i * 17 * 60_000)}`)
const ROOT = Array.from({length: 20 * 8}, (_, i) => `bustimes__${stamp(START + i * 3 * 3_600_000 + 60_000)}`)
const RANGE = {from: new Date(START), to: new Date(START + 20 * 86_400_000)}

/** The keys of the listed windows, bucket after bucket; asserts each bucket's objects are in time order. */
async function keysOf(listed: AsyncIterable<ListedWindow>): Promise<{keys: string[]; windows: string[]}> {
  const keys: string[] = []
  const windows: string[] = []
  for await (const {window, objects} of listed) {
    for (const bucket of window.buckets) {
      windows.push(bucket.key)
      const inputs = objects.get(bucket.key)!
      expect(inputs.map((input) => input.time)).toEqual(inputs.map((input) => input.time).sort((a, b) => a! - b!))
      keys.push(...inputs.map((input) => input.key))
    }
  }
  return {keys, windows}
}

/** All keys in snapshot-time order (root-level and raw/ interleaved by time). */
const timeOf = (key: string) => bustimesSource.layout.timeFromKey(key)!.getTime()
const inTimeOrder = [...RAW, ...ROOT].sort((a, b) => timeOf(a) - timeOf(b) || (a < b ? -1 : 1))

describe('convert listing: windows over one shared pool of prefix listings', () => {
  let bucket: string
  let storage: Storage

  beforeAll(async () => {
    useS3Env()
    const client = testS3Client()
    bucket = await createTestBucket('bw-listing')
    const all = [...RAW, ...ROOT]
    for (let i = 0; i < all.length; i += 64) await Promise.all(all.slice(i, i + 64).map((key) => client.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: '[]'}))))
    storage = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint()})
  }, 120_000)

  afterAll(async () => {
    await storage.close()
  })

  it.each([
    {size: 'week', concurrency: 32, ahead: 64},
    {size: 'day', concurrency: 3, ahead: 1},
    {size: 'hour', concurrency: 5, ahead: 4},
  ] as const)('lists every key once, in time order, by $size (pool $concurrency, $ahead prefixes ahead)', async ({size, concurrency, ahead}) => {
    const windows = listingWindows(size, RANGE, size === 'week' ? '{YYYY}-W{WW}' : size === 'day' ? '{YYYY}-{MM}-{DD}' : '{YYYY}-{MM}-{DD}T{HH}', () => true)
    const {keys, windows: buckets} = await keysOf(listWindows(storage, bustimesSource, windows, RANGE, {prefixConcurrency: concurrency, prefixesAhead: ahead}))
    expect(keys).toEqual(inTimeOrder)
    expect(buckets).toEqual([...buckets].sort())
    expect(buckets.length).toBe(size === 'week' ? 3 : size === 'day' ? 20 : 20 * 24)
  })

  it('skips the days outside each location’s span and still finds every key', async () => {
    const probe = await probeLocations(storage, bustimesSource, new Date('2026-01-01T00:00:00Z'))
    expect(probe.spans.get('raw/bustimes__')).toEqual({from: RANGE.from, to: new Date(START + 20 * 86_400_000)})
    // Per location (root level and raw/): a few rounds of 8 one-key probes over ~1,500 days, not a listing per day.
    expect(probe.requests).toBeLessThan(2 * 40)
    const windows = listingWindows('week', RANGE, '{YYYY}-W{WW}', () => true)
    const {keys} = await keysOf(listWindows(storage, bustimesSource, windows, RANGE, {spans: probe.spans}))
    expect(keys).toEqual(inTimeOrder)
  })

  it('lists a key once when a source’s prefixes overlap', async () => {
    const day = {from: new Date(START), to: new Date(START + 86_400_000)}
    const overlapping = {...bustimesSource, layout: {...bustimesSource.layout, prefixesFor: () => ['raw/bustimes__2021-11-01', 'raw/bustimes__2021-11-0', 'bustimes__2021-11-01']}}
    const {keys} = await keysOf(
      listWindows(
        storage,
        overlapping,
        listingWindows('day', day, '{YYYY}-{MM}-{DD}', () => true),
        day,
      ),
    )
    expect(keys).toEqual(inTimeOrder.filter((key) => timeOf(key) < day.to.getTime()))
  })

  it('lists ahead of a slow consumer only up to its bound', async () => {
    const started: string[] = []
    const counting: Storage = Object.assign(Object.create(storage) as Storage, {
      // Listings go page by page (Storage.listPages) where the storage has it, as S3's does.
      listPages: (prefix: string, options?: Parameters<Storage['list']>[1]) => {
        started.push(prefix)
        return storage.listPages!(prefix, options)
      },
    })
    const windows = listingWindows('day', RANGE, '{YYYY}-{MM}-{DD}', () => true)
    const listed = listWindows(counting, bustimesSource, windows, RANGE, {prefixConcurrency: 4, prefixesAhead: 6})[Symbol.asyncIterator]()
    const first = await listed.next()
    expect(first.value?.window.buckets[0].key).toBe('2021-11-01')
    await new Promise((resolve) => setTimeout(resolve, 300))
    // Each day window has 2 prefixes: the first window, then windows started while fewer than 6 prefixes waited.
    expect(started.length).toBeLessThanOrEqual(2 + 6 + 2)
    expect(started.length).toBeGreaterThan(2)
    await listed.return?.()
  })

  it('stops listing later windows when the consumer stops', async () => {
    const proxy = await new FaultProxy(s3Endpoint()).start()
    proxy.latencyMs = 20
    const slow = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint})
    try {
      for await (const {window} of listWindows(
        slow,
        bustimesSource,
        listingWindows('day', RANGE, '{YYYY}-{MM}-{DD}', () => true),
        RANGE,
        {prefixConcurrency: 1},
      )) {
        expect(window.buckets[0].key).toBe('2021-11-01')
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
      const atStop = proxy.requests.length
      await new Promise((resolve) => setTimeout(resolve, 400))
      // One listing at a time, 20 ms each: 20 more would have gone out by now had the look-ahead kept listing.
      expect(proxy.requests.length).toBeLessThanOrEqual(atStop + 1)
      expect(atStop).toBeLessThan(20 * 2)
    } finally {
      await slow.close()
      await proxy.stop()
    }
  })

  it('reports a listing that fails in a later window when that window’s turn comes', async () => {
    const proxy = await new FaultProxy(s3Endpoint()).start()
    proxy.plan = ({url}) => (url.includes(encodeURIComponent('raw/bustimes__2021-11-09')) ? {type: 'status', status: 500, code: 'InternalError'} : {type: 'pass'})
    const failing = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, maxAttempts: 2, retryBaseMs: 1})
    try {
      const seen: string[] = []
      const run = async () => {
        for await (const {window} of listWindows(
          failing,
          bustimesSource,
          listingWindows('week', RANGE, '{YYYY}-W{WW}', () => true),
          RANGE,
        ))
          seen.push(window.buckets[0].key)
      }
      await expect(run()).rejects.toBeInstanceOf(RemoteError)
      expect(seen).toEqual(['2021-W44'])
    } finally {
      await failing.close()
      await proxy.stop()
    }
  })
})
