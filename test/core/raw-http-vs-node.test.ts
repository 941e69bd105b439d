import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RawHttp, type RawResponse} from '../../src/plugins/core/storage/s3/raw-http.js'

// RawHttp stands in for node:http on the upload path (storage/s3/raw-http.ts): every answer both can read must read
// the same through it as through node:http. A node:http server answers each request as its path says — status,
// headers, body, Content-Length or chunked, in one write or several — drawn at random; both clients send the same
// requests on kept-alive sockets, and their readings are compared.

interface Plan {
  status: number
  headers: [string, string][]
  body: Buffer
  chunked: boolean
  pieces: number
}

function random(seed: number) {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff
    return state / 0x7fffffff
  }
}

function planFor(seed: number): Plan {
  const next = random(seed)
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!
  const size = pick([0, 1, 17, 1000, 70_000])
  const body = Buffer.alloc(size)
  for (let i = 0; i < size; i++) body[i] = Math.floor(next() * 256)
  const headers: [string, string][] = [
    ['ETag', `"${Math.floor(next() * 1e12).toString(16)}"`],
    ['x-amz-request-id', Math.floor(next() * 1e9).toString(36)],
  ]
  if (next() < 0.5) headers.push(['x-amz-checksum-crc32', 'AAAAAA=='])
  if (next() < 0.3) headers.push(['X-Mixed-Case', 'Value With Spaces\tand tab'])
  return {status: pick([200, 200, 200, 204, 206]), headers, body, chunked: next() < 0.5, pieces: 1 + Math.floor(next() * 4)}
}

let server: http.Server
let origin: {protocol: string; hostname: string; host: string; port: string}

beforeAll(async () => {
  server = http.createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      const plan = planFor(Number(request.url!.slice(1)))
      const body = plan.status === 204 ? Buffer.alloc(0) : plan.body
      for (const [name, value] of plan.headers) response.setHeader(name, value)
      if (!plan.chunked || plan.status === 204) response.setHeader('Content-Length', String(body.length))
      response.writeHead(plan.status)
      const step = Math.ceil(body.length / plan.pieces) || 1
      for (let at = 0; at < body.length; at += step) response.write(body.subarray(at, at + step))
      response.end()
    })
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  origin = {protocol: 'http:', hostname: '127.0.0.1', host: `127.0.0.1:${port}`, port: String(port)}
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const agent = new http.Agent({keepAlive: true, maxSockets: 4})

function viaNode(path: string, body: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request({agent, host: origin.hostname, port: Number(origin.port), method: 'PUT', path, headers: {'content-length': String(body.length)}}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers[name] = value
        resolve({status: response.statusCode!, headers, body: Buffer.concat(chunks)})
      })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

/** What both must agree on: status, the headers an S3 client reads (names lowercase), the body. */
const reading = (response: RawResponse) => ({
  status: response.status,
  etag: response.headers.etag,
  requestId: response.headers['x-amz-request-id'],
  checksum: response.headers['x-amz-checksum-crc32'],
  mixed: response.headers['x-mixed-case'],
  body: response.body.toString('base64'),
})

describe('RawHttp reads what node:http reads', () => {
  it('300 random answers (Content-Length or chunked, split in 1–4 writes, 0–70,000 bytes, 200/204/206), 4 sockets kept alive', async () => {
    const raw = new RawHttp(4)
    try {
      for (let batch = 0; batch < 30; batch++) {
        const seeds = Array.from({length: 10}, (_, i) => batch * 10 + i + 1)
        const body = Buffer.from(`request ${batch}`)
        const [ours, theirs] = await Promise.all([
          Promise.all(seeds.map((seed) => raw.request(origin, 'PUT', `/${seed}`, {host: origin.host, 'content-length': String(body.length)}, body))),
          Promise.all(seeds.map((seed) => viaNode(`/${seed}`, body))),
        ])
        for (const [i, seed] of seeds.entries()) expect(reading(ours[i]!), `answer ${seed}`).toEqual(reading(theirs[i]!))
      }
    } finally {
      raw.close()
    }
  })
})
