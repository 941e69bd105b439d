import type net from 'node:net'
import type tls from 'node:tls'
import {createRequire} from 'node:module'

// Required, not imported, as in fast-s3.ts: nothing here needs an ESM namespace of these built-ins.
const require = createRequire(import.meta.url)
const {connect: netConnect} = require('node:net') as typeof net
const {connect: tlsConnect} = require('node:tls') as typeof tls

/**
 * A request the lean path could not complete (non-2xx status, network error). The caller retries it through the
 * AWS SDK, which has the backoff, the redirects and the error translation; the lean path never retries itself.
 */
export class FastPathError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'FastPathError'
  }
}

/** An answer of {@link RawHttp}: status, headers (names lowercase, the first of a repeated one) and the whole body. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** Where a request goes: the parts of a URL a connection needs. */
export interface RawOrigin {
  protocol: string
  hostname: string
  /** Host and port as in the URL (the Host header). */
  host: string
  port: string
}

/** Answers larger than this are not for this client (it is for PUTs, whose answers are a few headers). */
const MAX_RESPONSE = 1024 * 1024
/** What may go in a header value here; anything else is left to the SDK. */
const PLAIN_HEADER = /^[\t\x20-\x7e]*$/

/** An AbortError as node:http throws it on an aborted signal (the fallback policy stops on its name). */
function abortError(signal: AbortSignal): Error {
  const error = new Error('The operation was aborted', {cause: signal.reason})
  error.name = 'AbortError'
  return error
}

/** One exchange in flight on a connection. */
interface Exchange {
  method: string
  resolve: (response: RawResponse) => void
  reject: (error: Error) => void
}

/**
 * One keep-alive connection and the parser of its answers: HTTP/1.1, one request at a time, bodies by
 * Content-Length or chunked. Anything else (an answer without either, data nobody asked for, a header block that
 * never ends) ends the connection and fails the exchange with a {@link FastPathError}.
 */
class Connection {
  private exchange?: Exchange
  private buffer?: Buffer
  private status = 0
  private headers: Record<string, string> = {}
  /** Where the body starts in `buffer` once the header block is read; -1 before. */
  private bodyStart = -1
  reusable = true
  closed = false

  constructor(
    readonly socket: net.Socket,
    private readonly onDone: (connection: Connection) => void,
    private readonly timeoutMs: number,
  ) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error: Error & {code?: string}) => this.fail(new FastPathError(`${this.exchange?.method ?? 'request'} failed: ${error.message}`, undefined, error.code)))
    socket.on('end', () => this.fail(new FastPathError(`${this.exchange?.method ?? 'request'} failed: the connection was closed by the server`, undefined, 'ECONNRESET')))
    socket.on('close', () => this.fail(new FastPathError(`${this.exchange?.method ?? 'request'} failed: the connection closed`, undefined, 'ECONNRESET')))
    socket.on('timeout', () => this.fail(new FastPathError(`${this.exchange?.method ?? 'request'} timed out`)))
  }

  send(method: string, head: string, body: Buffer | undefined, exchange: Exchange): void {
    this.exchange = exchange
    this.socket.ref()
    this.socket.setTimeout(this.timeoutMs)
    this.socket.cork()
    this.socket.write(head, 'latin1')
    if (body && body.length > 0) this.socket.write(body)
    this.socket.uncork()
  }

  /** Ends the connection; the exchange in flight, if any, fails with `error`. */
  fail(error: Error): void {
    const exchange = this.exchange
    this.exchange = undefined
    this.reusable = false
    if (!this.closed) {
      this.closed = true
      this.socket.destroy()
      this.onDone(this)
    }
    exchange?.reject(error)
  }

  private onData(chunk: Buffer): void {
    if (!this.exchange) return this.fail(new FastPathError('the server sent data nobody asked for'))
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk
    if (this.buffer.length > MAX_RESPONSE) return this.fail(new FastPathError(`${this.exchange.method} answered more than ${MAX_RESPONSE} bytes`))
    try {
      this.parse()
    } catch (error) {
      this.fail(error instanceof FastPathError ? error : new FastPathError(`${this.exchange.method} answered something unreadable: ${(error as Error).message}`))
    }
  }

  private parse(): void {
    for (;;) {
      const buffer = this.buffer!
      if (this.bodyStart === -1) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        this.readHead(buffer.toString('latin1', 0, end))
        this.bodyStart = end + 4
        // An interim answer (100 Continue, never asked for): the real one follows.
        if (this.status >= 100 && this.status < 200) {
          this.buffer = buffer.subarray(this.bodyStart)
          this.bodyStart = -1
          continue
        }
      }
      const body = this.body(buffer.subarray(this.bodyStart))
      if (body) this.finish(body)
      return
    }
  }

  private readHead(head: string): void {
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(head)
    if (!match) throw new FastPathError(`${this.exchange!.method} answered something other than HTTP/1.1`)
    this.status = Number(match[1])
    const headers: Record<string, string> = {}
    let at = head.indexOf('\r\n')
    while (at !== -1) {
      const next = head.indexOf('\r\n', at + 2)
      const line = head.slice(at + 2, next === -1 ? undefined : next)
      const colon = line.indexOf(':')
      if (colon <= 0) throw new FastPathError(`${this.exchange!.method} answered a malformed header line`)
      const name = line.slice(0, colon).toLowerCase()
      headers[name] ??= line.slice(colon + 1).trim()
      at = next
    }
    this.headers = headers
  }

  /** The whole body once it is all here (`undefined`: more is to come). */
  private body(data: Buffer): {body: Buffer; rest: number} | undefined {
    const {headers} = this
    if (this.exchange!.method === 'HEAD' || this.status === 204 || this.status === 304) return {body: Buffer.alloc(0), rest: data.length}
    if (headers['transfer-encoding'] !== undefined) {
      if (headers['transfer-encoding'].toLowerCase() !== 'chunked') throw new FastPathError(`${this.exchange!.method} answered a body in ${headers['transfer-encoding']}`)
      return chunked(data)
    }
    const length = headers['content-length']
    if (length === undefined || !/^\d+$/.test(length)) throw new FastPathError(`${this.exchange!.method} answered a body without a length`)
    const size = Number(length)
    if (data.length < size) return undefined
    return {body: data.subarray(0, size), rest: data.length - size}
  }

  private finish({body, rest}: {body: Buffer; rest: number}): void {
    const exchange = this.exchange!
    const response = {status: this.status, headers: this.headers, body}
    this.exchange = undefined
    this.buffer = undefined
    this.bodyStart = -1
    this.socket.setTimeout(0)
    // Bytes after the answer (nothing was pipelined) or a server that will close: the connection is not used again.
    if (rest > 0 || this.headers.connection?.toLowerCase() === 'close') {
      this.reusable = false
      this.closed = true
      this.socket.destroy()
    } else {
      this.socket.unref()
    }
    this.onDone(this)
    exchange.resolve(response)
  }
}

/** A chunked body decoded, once its last chunk is here (`undefined`: more is to come). */
function chunked(data: Buffer): {body: Buffer; rest: number} | undefined {
  const chunks: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd === -1) return undefined
    const size = Number.parseInt(data.toString('latin1', at, lineEnd).split(';')[0].trim(), 16)
    if (!Number.isSafeInteger(size) || size < 0) throw new FastPathError('a chunked body with a malformed chunk size')
    if (size === 0) {
      // Trailers (none, usually), then an empty line.
      if (data.length < lineEnd + 4) return undefined
      if (data[lineEnd + 2] === 0x0d && data[lineEnd + 3] === 0x0a) return {body: Buffer.concat(chunks), rest: data.length - lineEnd - 4}
      const end = data.indexOf('\r\n\r\n', lineEnd)
      return end === -1 ? undefined : {body: Buffer.concat(chunks), rest: data.length - end - 4}
    }
    if (data.length < lineEnd + 2 + size + 2) return undefined
    chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}

/** The connections to one origin: at most `max` open, the idle ones reused last-in first-out. */
class Pool {
  private readonly idle: Connection[] = []
  private open = 0
  private readonly waiting: ((connection: Connection) => void)[] = []

  constructor(
    private readonly origin: RawOrigin,
    private readonly max: number,
    private readonly timeoutMs: number,
  ) {}

  acquire(): Connection | Promise<Connection> {
    while (this.idle.length > 0) {
      const connection = this.idle.pop()!
      if (!connection.closed) return connection
    }
    if (this.open < this.max) return this.connect()
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  private connect(): Connection {
    this.open++
    const {hostname, port, protocol} = this.origin
    const secure = protocol === 'https:'
    const socket = secure ? tlsConnect({host: hostname, port: Number(port || 443), servername: hostname, ALPNProtocols: ['http/1.1']}) : netConnect({host: hostname, port: Number(port || 80)})
    return new Connection(socket, (connection) => this.done(connection), this.timeoutMs)
  }

  /** An exchange ended (or the connection did): the connection goes to the next waiting request, or idles. */
  private done(connection: Connection): void {
    if (connection.closed) {
      this.open--
      const index = this.idle.indexOf(connection)
      if (index !== -1) this.idle.splice(index, 1)
      const next = this.waiting.shift()
      if (next) next(this.connect())
      return
    }
    const next = this.waiting.shift()
    if (next) next(connection)
    else this.idle.push(connection)
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.fail(new FastPathError('closed'))
  }
}

/**
 * A minimal HTTP/1.1 client for the lean path's hottest request, the PUT of a small body: keep-alive connections
 * per origin, the request head written in one piece with its body, the answer read whole. node:http's machinery
 * (ClientRequest, the agent's bookkeeping, IncomingMessage streams, header validation per call) costs about twice
 * the CPU of the whole exchange here, and the upload daemon's JS thread is what bounds it on small files. Header
 * values outside printable ASCII, answers it does not expect and every network error are a {@link FastPathError}:
 * the fallback policy sends the request again through the SDK.
 */
export class RawHttp {
  private readonly pools = new Map<string, Pool>()

  constructor(
    private readonly maxSockets: number,
    private readonly timeoutMs = 120_000,
  ) {}

  async request(origin: RawOrigin, method: string, path: string, headers: Record<string, string>, body?: Buffer, signal?: AbortSignal): Promise<RawResponse> {
    if (signal?.aborted) throw abortError(signal)
    let head = `${method} ${path} HTTP/1.1\r\n`
    for (const name in headers) {
      const value = headers[name]
      if (!PLAIN_HEADER.test(value)) throw new FastPathError(`${method}: a header value the lean path does not send (${name})`)
      head += `${name}: ${value}\r\n`
    }
    head += 'connection: keep-alive\r\n\r\n'
    const key = `${origin.protocol}//${origin.host}`
    let pool = this.pools.get(key)
    if (!pool) {
      pool = new Pool(origin, this.maxSockets, this.timeoutMs)
      this.pools.set(key, pool)
    }
    const connection = await pool.acquire()
    return new Promise<RawResponse>((resolve, reject) => {
      let onAbort: (() => void) | undefined
      if (signal) {
        onAbort = () => connection.fail(abortError(signal))
        signal.addEventListener('abort', onAbort, {once: true})
      }
      const settle =
        <T>(then: (value: T) => void) =>
        (value: T) => {
          if (onAbort) signal!.removeEventListener('abort', onAbort)
          then(value)
        }
      connection.send(method, head, body, {method, resolve: settle(resolve), reject: settle(reject)})
    })
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close()
    this.pools.clear()
  }
}
