import net from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'

import {FastPathError, RawHttp} from '../../src/plugins/core/storage/s3/raw-http.js'

/**
 * A TCP server that answers each request (head and Content-Length body read whole) with whatever `answer` returns,
 * written in the pieces given, so the client meets answers split anywhere, chunked, interim, closing, or broken.
 */
async function rawServer(answer: (request: {head: string; body: Buffer; n: number}, socket: net.Socket) => (string | Buffer)[] | 'close' | 'silent') {
  const requests: {head: string; body: Buffer}[] = []
  let connections = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    let buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffer.toString('latin1', 0, end)
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buffer.length < end + 4 + length) return
        const body = buffer.subarray(end + 4, end + 4 + length)
        buffer = buffer.subarray(end + 4 + length)
        requests.push({head, body})
        const pieces = answer({head, body, n: requests.length}, socket)
        if (pieces === 'close') socket.destroy()
        else if (pieces !== 'silent') for (const piece of pieces) socket.write(piece)
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    origin: {protocol: 'http:', hostname: '127.0.0.1', host: `127.0.0.1:${port}`, port: String(port)},
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

const OK = 'HTTP/1.1 200 OK\r\nETag: "abc"\r\nContent-Length: 0\r\n\r\n'

describe('RawHttp: the lean PUT client on its own', () => {
  const cleanup: (() => unknown)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })
  const client = (max = 4, timeoutMs = 120_000) => {
    const http = new RawHttp(max, timeoutMs)
    cleanup.push(() => http.close())
    return http
  }

  it('sends the head and body as given, reads an answer split anywhere, and reuses one connection', async () => {
    const server = await rawServer(() => [OK.slice(0, 5), OK.slice(5, 20), OK.slice(20)])
    cleanup.push(server.close)
    const http = client()
    for (let i = 0; i < 3; i++) {
      const response = await http.request(server.origin, 'PUT', `/b/k${i}`, {host: server.origin.host, 'content-length': '5'}, Buffer.from('hello'))
      expect(response).toMatchObject({status: 200, headers: {etag: '"abc"', 'content-length': '0'}})
    }
    expect(server.connections()).toBe(1)
    expect(server.requests[2].head.split('\r\n')[0]).toBe('PUT /b/k2 HTTP/1.1')
    expect(server.requests[2].body.toString()).toBe('hello')
  })

  it('reads a chunked error body (with an extension and trailers) and an interim 100 before the answer', async () => {
    const xml = '<Error><Code>EntityTooLarge</Code></Error>'
    const server = await rawServer(({n}) =>
      n === 1
        ? ['HTTP/1.1 413 Too Large\r\nTransfer-Encoding: chunked\r\n\r\n', `5;x=y\r\n${xml.slice(0, 5)}\r\n`, `${(xml.length - 5).toString(16)}\r\n${xml.slice(5)}\r\n`, '0\r\nX-Trailer: 1\r\n\r\n']
        : ['HTTP/1.1 100 Continue\r\n\r\n', OK],
    )
    cleanup.push(server.close)
    const http = client()
    const refused = await http.request(server.origin, 'PUT', '/b/k', {'content-length': '1'}, Buffer.from('x'))
    expect(refused.status).toBe(413)
    expect(refused.body.toString()).toBe(xml)
    // The connection survived the chunked answer and takes the next request.
    expect((await http.request(server.origin, 'PUT', '/b/k', {'content-length': '1'}, Buffer.from('x'))).status).toBe(200)
    expect(server.connections()).toBe(1)
  })

  it('does not reuse a connection the server said it closes, or one with bytes after the answer', async () => {
    const server = await rawServer(({n}) => [n === 1 ? 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' : n === 2 ? OK + 'HTTP/1.1 200' : OK])
    cleanup.push(server.close)
    const http = client()
    for (let i = 0; i < 3; i++) expect((await http.request(server.origin, 'PUT', '/b/k', {'content-length': '0'})).status).toBe(200)
    expect(server.connections()).toBe(3)
  })

  it('fails with a FastPathError, never an answer, on a cut connection, a body without a length, garbage, or a timeout', async () => {
    const server = await rawServer(({n}) =>
      n === 1 ? 'close' : n === 2 ? ['HTTP/1.1 200 OK\r\n\r\nbody until close'] : n === 3 ? ['SSH-2.0-OpenSSH\r\n\r\n'] : n === 4 ? ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'] : 'silent',
    )
    cleanup.push(server.close)
    const http = client(4, 300)
    for (let i = 0; i < 4; i++) {
      const error = await http.request(server.origin, 'PUT', '/b/k', {'content-length': '0'}).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(FastPathError)
      if (i === 3) {
        // The answer was cut short: it is the timeout that ends it, not a half body.
        expect((error as Error).message).toMatch(/timed out/)
      }
    }
    await expect(http.request(server.origin, 'PUT', '/b/k', {'content-length': '0'})).rejects.toThrow(/timed out/)
  })

  it('refuses a header value outside printable ASCII before sending anything (the SDK sends those)', async () => {
    const server = await rawServer(() => [OK])
    cleanup.push(server.close)
    await expect(client().request(server.origin, 'PUT', '/b/k', {'x-amz-meta-name': 'Zürich'})).rejects.toBeInstanceOf(FastPathError)
    await expect(client().request(server.origin, 'PUT', '/b/k', {'x-amz-meta-name': 'a\r\nx-evil: 1'})).rejects.toBeInstanceOf(FastPathError)
    expect(server.requests).toHaveLength(0)
  })

  it('aborts a request in flight with an AbortError and drops its connection', async () => {
    const server = await rawServer(() => 'silent')
    cleanup.push(server.close)
    const http = client()
    const controller = new AbortController()
    const pending = http.request(server.origin, 'PUT', '/b/k', {'content-length': '0'}, undefined, controller.signal)
    setTimeout(() => controller.abort(), 50)
    await expect(pending).rejects.toMatchObject({name: 'AbortError'})
    await expect(http.request(server.origin, 'PUT', '/b/k', {}, undefined, AbortSignal.abort())).rejects.toMatchObject({name: 'AbortError'})
  })

  it('keeps at most maxSockets connections open, queueing the rest', async () => {
    let open = 0
    let most = 0
    const server = await rawServer((_, socket) => {
      if (!(socket as {counted?: boolean}).counted) {
        ;(socket as {counted?: boolean}).counted = true
        open++
        most = Math.max(most, open)
        socket.on('close', () => open--)
      }
      setTimeout(() => socket.write(OK), 5)
      return 'silent'
    })
    cleanup.push(server.close)
    const http = client(3)
    const answers = await Promise.all(Array.from({length: 12}, (_, i) => http.request(server.origin, 'PUT', `/b/${i}`, {'content-length': '0'})))
    expect(answers.every((answer) => answer.status === 200)).toBe(true)
    expect(most).toBe(3)
    expect(server.connections()).toBe(3)
  })

  it('a connection the server ends while idle is not used again', async () => {
    const server = await rawServer(({n}, socket) => {
      if (n === 1) setTimeout(() => socket.end(), 20)
      return [OK]
    })
    cleanup.push(server.close)
    const http = client()
    expect((await http.request(server.origin, 'PUT', '/b/a', {'content-length': '0'})).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect((await http.request(server.origin, 'PUT', '/b/b', {'content-length': '0'})).status).toBe(200)
    expect(server.connections()).toBe(2)
  })
})
