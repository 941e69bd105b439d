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
 *   ROUNDS=5 LIST_SERVERS=indexed,fauxqs PARTS=listing npm run bench:convert
 */
import http from 'node:http'

import {compare, type Contender, formatResult, loadBuilt, log, measureInProcess, median, processCpuSeconds} from './harness.js'
import {BENCH_CREDENTIALS, benchS3Client, createBucket, type ServerProcess, startProxy, startS3Server} from './servers.js'

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
  await Promise.all(
    Array.from({length: 32}, async () => {
      while (next < count) await put(keyAt(next++))
    }),
  )
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

/** Lists `count` keys three ways through a proxy with `latency` ms added, as one comparison of the harness. */
async function measure(server: ServerProcess, bucket: string, count: number, latency: number, rounds: number): Promise<string> {
  const {openStorage} = await loadBuilt<typeof import('../src/plugins/core/index.js')>('plugins/core/index.js')
  const {bustimesSource} = await loadBuilt<typeof import('../src/plugins/bustimes/index.js')>('plugins/bustimes/index.js')
  const {listingWindows, listWindows, overallSpan, startProbe} = await loadBuilt<typeof import('../src/plugins/core/convert/listing.js')>('plugins/core/convert/listing.js')
  const proxy = await startProxy(server.endpoint, latency)
  const storage = await openStorage(`s3://${bucket}/`, {endpoint: proxy.endpoint, region: 'us-east-1'})
  const range = {from: new Date(START), to: new Date(START + count * 60_000)}
  const probeSeconds: number[] = []
  type Check = ReturnType<typeof expectInOrder>
  const ways: Record<string, (check: Check) => Promise<void>> = {
    'one paginated listing': async (check) => {
      for await (const info of storage.list('raw/bustimes__')) check.next(info.key)
    },
    'day prefixes in parallel (listMany)': async (check) => {
      for await (const info of storage.listMany(bustimesSource.layout.prefixesFor!(range))) check.next(info.key)
    },
    // As convert's service does it (service.ts): find where the key locations' objects start, list week windows
    // from there while the search for the end runs, skipping the empty days after it once that is known.
    "convert's listing (probe + week windows)": async (check) => {
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
  const expected = Array.from({length: count}, (_, i) => keyAt(i))
  const requests = new Map<string, number>()
  const contenders: Contender[] = Object.entries(ways).map(([name, list]) => ({
    name,
    async run() {
      const check = expectInOrder(name, expected)
      await proxy.reset()
      const serverCpu = processCpuSeconds(server.pid)
      const measured = await measureInProcess(() => list(check))
      check.done()
      requests.set(name, await proxy.count())
      return {...measured, serverCpuSeconds: processCpuSeconds(server.pid) - serverCpu}
    },
  }))
  const [sequential, ...others] = contenders.map((contender) => contender.name)
  try {
    const result = await compare({
      title: `listing, ${latency} ms added per request`,
      work: {bytes: expected.reduce((sum, key) => sum + key.length, 0), items: count, itemUnit: 'keys'},
      contenders,
      pairs: others.map((other): [string, string] => [other, sequential]),
      rounds,
    })
    const notes = [...requests].map(([name, n]) => `${name} ${n} requests`).join(', ')
    const target = latency === 30 ? '; target: day prefixes >= 5× faster than one paginated listing' : ''
    return `${formatResult(result)}
  ${notes}; the probe (overlapped) took ${median(probeSeconds).toFixed(2)} s${target}`
  } finally {
    await storage.close()
    await proxy.stop()
  }
}

/** Runs the listing benchmark on the indexed server and on fauxqs (already running); its report as text. */
export async function listingBench(fauxqs: ServerProcess, count: number, rounds: number): Promise<string> {
  Object.assign(process.env, {AWS_ACCESS_KEY_ID: BENCH_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: BENCH_CREDENTIALS.secretAccessKey})
  const indexed = await startS3Server('indexed')
  const lines = [
    `listing ${count} keys (one a minute from 2021-11-01) through the fault proxy, every listing checked (all keys, once, in order); MB = bytes of the keys listed; CPU = this process (the client); server = the S3 server's process:`,
  ]
  try {
    const only = process.env.LIST_SERVERS?.split(',')
    for (const [name, server] of [
      ['indexed', indexed],
      ['fauxqs', fauxqs],
    ] as const) {
      if (only && !only.includes(name)) continue
      const bucket = await createBucket(benchS3Client(server.endpoint), `bw-bench-list-${name}`)
      log(`putting ${count} keys into ${name}`)
      await seed(server.endpoint, bucket, count)
      lines.push(`${name}: ${SERVERS[name]}`)
      for (const latency of [30, 0]) {
        log(`listing on ${name}, ${latency} ms added`)
        lines.push(await measure(server, bucket, count, latency, rounds))
      }
    }
  } finally {
    await indexed.stop()
  }
  return lines.join('\n')
}
