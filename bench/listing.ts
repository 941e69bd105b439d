/**
 * The listing part of `npm run bench:convert` (PARTS=listing): bustimes keys, one a minute, listed through the fault
 * proxy with 30 ms (S3-like) and 0 ms added per request, three ways, interleaved rounds, medians:
 * - one paginated listing of `raw/bustimes__` (what a tool without a key layout does);
 * - the source's day prefixes in parallel (`Storage.listMany`);
 * - convert's own listing path: `startProbe`, then `listWindows` over week windows from the start while the probe searches for the end, as convert's service runs it.
 * Every listing is checked while it runs: all keys, each exactly once, in key order (per bucket, in time order).
 *
 * On two servers, because the target models S3: an S3 LIST costs about its latency whatever the bucket's size (it
 * reads an index). The indexed server (listing-server.ts) does that; fauxqs, the test server, filters and sorts the
 * whole bucket on every LIST, so at 50,000 keys its own CPU per request outweighs the added latency and parallel
 * requests only queue behind each other. Its rows are printed too, labelled, so nothing is hidden.
 * The proxy runs in a process of its own (proxy-process.ts). The client CPU of each listing (this process: HTTP,
 * signing, parsing) is printed beside its time: where it nears the time, the listing is bound by this machine's CPU
 * rather than by the latency.
 *   LIST_ROUNDS=5 LIST_SERVERS=indexed,fauxqs
 */
import {CreateBucketCommand} from '@aws-sdk/client-s3'
import http from 'node:http'
import os from 'node:os'

import {testS3Client} from '../test/helpers/s3.js'
import {startProxyProcess, startServerProcess} from './spawn-server.js'

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`)

const START = Date.parse('2021-11-01T00:00:00Z')
/** The i-th key: one a minute from START, so key order is index order. */
const keyAt = (i: number) => {
  const iso = new Date(START + i * 60_000).toISOString()
  return `raw/bustimes__${iso.slice(0, 10)}__${iso.slice(11, 19).replaceAll(':', '-')}.json`
}

const SERVERS = {
  indexed: 'bench/listing-server.ts: keys in one sorted array, a LIST binary-searches its start and costs about the same at any bucket size, like S3 — the server the target models',
  fauxqs: 'the test server: filters and sorts every key of the bucket on each LIST, so its own CPU per request grows with the bucket and parallel requests queue on it — for comparison',
} as const

/** Puts `count` keys (2-byte bodies) into a bucket over plain HTTP: both servers take unsigned path-style PUTs. */
async function seed(endpoint: string, bucket: string, count: number): Promise<void> {
  const agent = new http.Agent({keepAlive: true, maxSockets: 32})
  const put = (key: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(`${endpoint}/${bucket}/${key}`, {method: 'PUT', agent, headers: {'content-length': 2}}, (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key}: HTTP ${res.statusCode}`))))
      })
      req.on('error', reject)
      req.end('[]')
    })
  let next = 0
  await Promise.all(Array.from({length: 32}, async () => {
    while (next < count) await put(keyAt(next++))
  }))
  agent.destroy()
}

/** Checks that a listing yields exactly `expected`, in order (the keys built beforehand, so checking costs little). */
function expectInOrder(what: string, expected: string[]) {
  const count = expected.length
  let seen = 0
  return {
    next(key: string) {
      if (seen >= count || key !== expected[seen]) throw new Error(`${what}: key #${seen} is ${key}, expected ${seen < count ? expected[seen] : 'no more keys'}`)
      seen++
    },
    done() {
      if (seen !== count) throw new Error(`${what}: ${seen} keys listed, expected ${count}`)
    },
  }
}

/** Lists `count` keys one, two and three ways through a proxy with `latency` ms added; medians of `rounds`. */
async function measure(endpoint: string, bucket: string, count: number, latency: number, rounds: number): Promise<string> {
  const {openStorage} = await import('../src/plugins/core/index.js')
  const {bustimesSource} = await import('../src/plugins/bustimes/index.js')
  const {listingWindows, listWindows, overallSpan, startProbe} = await import('../src/plugins/core/convert/listing.js')
  const proxy = await startProxyProcess(endpoint, latency)
  const storage = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, region: 'us-east-1'})
  const range = {from: new Date(START), to: new Date(START + count * 60_000)}
  const probeSeconds: number[] = []
  const ways = {
    async sequential(check: ReturnType<typeof expectInOrder>) {
      for await (const info of storage.list('raw/bustimes__')) check.next(info.key)
    },
    async parallel(check: ReturnType<typeof expectInOrder>) {
      for await (const info of storage.listMany(bustimesSource.layout.prefixesFor(range))) check.next(info.key)
    },
    // As convert's service does it (service.ts): find where the key locations' objects start, list week windows
    // from there while the search for the end runs, skipping the empty days after it once that is known.
    async convert(check: ReturnType<typeof expectInOrder>) {
      const now = new Date()
      const t = performance.now()
      const probe = startProbe(storage, bustimesSource, now)
      const spans = await probe.started
      const from = overallSpan(spans)!.from
      void probe.done.then(() => probeSeconds.push((performance.now() - t) / 1000))
      const probed = {from, to: now}
      const windows = listingWindows('week', probed, '{YYYY}-W{WW}.jsonl.gz', () => true)
      for await (const listed of listWindows(storage, bustimesSource, windows, probed, {spans, spansFinal: probe.done, known: probe.known})) {
        for (const bucket of listed.window.buckets) for (const input of listed.objects.get(bucket.key)!) check.next(input.key)
      }
      await probe.done
    },
  }
  type Way = keyof typeof ways
  const expected = Array.from({length: count}, (_, i) => keyAt(i))
  const seconds: Record<Way, number[]> = {sequential: [], parallel: [], convert: []}
  const cpu: Record<Way, number[]> = {sequential: [], parallel: [], convert: []}
  const requests: Record<Way, number> = {sequential: 0, parallel: 0, convert: 0}
  try {
    for (let round = 0; round < rounds; round++) {
      const order = (Object.keys(ways) as Way[]).map((_, i, all) => all[(i + round) % all.length])
      for (const way of order) {
        const check = expectInOrder(way, expected)
        await proxy.reset()
        const t = performance.now()
        const used = process.cpuUsage()
        await ways[way](check)
        seconds[way].push((performance.now() - t) / 1000)
        const {user, system} = process.cpuUsage(used)
        cpu[way].push((user + system) / 1e6)
        check.done()
        requests[way] = await proxy.count()
      }
    }
  } finally {
    await storage.close()
    await proxy.stop()
  }
  const seq = median(seconds.sequential)
  const cell = (way: Way, label: string) => `${label} ${median(seconds[way]).toFixed(2)} s (${requests[way]} requests, client CPU ${median(cpu[way]).toFixed(2)} s) ${(seq / median(seconds[way])).toFixed(1)}x`
  return (
    `    ${String(latency).padStart(2)} ms added: one paginated listing ${seq.toFixed(2)} s (${requests.sequential} requests, client CPU ${median(cpu.sequential).toFixed(2)} s) | ` +
    `${cell('parallel', 'day prefixes in parallel (listMany, 32 at once)')} | ${cell('convert', "convert's listing (probe + week windows)")}, the probe (overlapped) took ${median(probeSeconds).toFixed(2)} s` +
    (latency === 30 ? ' (target >= 5x)' : '')
  )
}

/** Runs the listing benchmark on the indexed server and on fauxqs (already running at `fauxqsEndpoint`). */
export async function listingBench(fauxqsEndpoint: string, count: number, rounds = Number(process.env.LIST_ROUNDS ?? 5)): Promise<string> {
  Object.assign(process.env, {AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test'})
  const indexed = await startServerProcess('indexed')
  const lines = [
    `listing ${count} keys (one a minute from 2021-11-01) through the fault proxy, medians of ${rounds} interleaved rounds, every listing checked (all keys, in order); load ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}:`,
  ]
  try {
    const only = process.env.LIST_SERVERS?.split(',')
    for (const [server, endpoint] of [['indexed', indexed.endpoint], ['fauxqs', fauxqsEndpoint]] as const) {
      if (only && !only.includes(server)) continue
      const bucket = `bw-bench-list-${server}-${process.pid}`
      await testS3Client(endpoint).send(new CreateBucketCommand({Bucket: bucket}))
      log(`putting ${count} keys into ${server}`)
      await seed(endpoint, bucket, count)
      lines.push(`  ${server} (${SERVERS[server]}):`)
      for (const latency of [30, 0]) {
        log(`listing on ${server}, ${latency} ms added`)
        lines.push(await measure(endpoint, bucket, count, latency, rounds))
      }
    }
  } finally {
    await indexed.stop()
  }
  return lines.join('\n')
}
