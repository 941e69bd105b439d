import {createHash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

/** What the proxy does to one request: pass it, answer with an error, cut the connection, or delay it. */
export type Fault =
  | {type: 'pass'}
  | {type: 'status'; status: number; code: string; headers?: Record<string, string>}
  | {type: 'reset'}
  /** Sends the response headers and part of the body, then cuts the connection. */
  | {type: 'truncate'; afterBytes: number}
  /**
   * A store that keeps other bytes than it was sent, or answers with other words than it should: forwards the
   * request with its headers or body changed (Content-Length and Content-MD5 made to fit, so the store cannot
   * tell), then changes the answer's headers or body text.
   */
  | {type: 'tamper'; requestBody?: (body: Buffer) => Buffer; requestHeaders?: Record<string, string>; responseHeaders?: Record<string, string>; responseBody?: (text: string) => string}

/** Decides the fault of each request (method, path, 1-based request number). */
export type FaultPlan = (request: {method: string; url: string; n: number; authorization?: string}) => Fault

/** A request the proxy saw, with what it did. */
export interface ProxiedRequest {
  method: string
  url: string
  fault: Fault['type']
  /** The Authorization header as sent (tests check signing; never print it). */
  authorization?: string
  /** Range and If-Match as sent (tests check resumed reads); body encoding, payload hash and Content-MD5 (writes). */
  headers?: {range?: string; 'if-match'?: string; 'content-encoding'?: string; 'x-amz-content-sha256'?: string; 'content-md5'?: string}
  /** Every request header as sent (tests check the object options a write carries). */
  all?: http.IncomingHttpHeaders
}

/**
 * A small HTTP proxy in front of the S3 server for retry and failure tests over real HTTP: injects 503 SlowDown,
 * 500s, connection resets, truncated bodies and added latency, and records every request it saw.
 */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = []
  plan: FaultPlan = () => ({type: 'pass'})
  /** Latency added before each request is forwarded, in ms. */
  latencyMs = 0
  private server?: http.Server
  private readonly agent = new http.Agent({keepAlive: true, maxSockets: 256})

  constructor(private readonly target: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }

  count(filter: (request: ProxiedRequest) => boolean = () => true): number {
    return this.requests.filter(filter).length
  }

  async start(): Promise<this> {
    const target = new URL(this.target)
    this.server = http.createServer((req, res) => {
      const n = this.requests.length + 1
      const fault = this.plan({method: req.method ?? 'GET', url: req.url ?? '/', n, authorization: req.headers.authorization})
      this.requests.push({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        fault: fault.type,
        authorization: req.headers.authorization,
        headers: {
          range: req.headers.range,
          'if-match': req.headers['if-match'],
          'content-encoding': req.headers['content-encoding'],
          'x-amz-content-sha256': req.headers['x-amz-content-sha256'] as string | undefined,
          'content-md5': req.headers['content-md5'] as string | undefined,
        },
        all: req.headers,
      })
      const forward = () => {
        if (fault.type === 'reset') {
          req.socket.destroy()
          return
        }
        if (fault.type === 'status') {
          req.resume()
          const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by test proxy</Message></Error>`
          res.writeHead(fault.status, {'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), ...fault.headers})
          res.end(body)
          return
        }
        if (fault.type === 'tamper') {
          void this.tamper(req, res, target, fault)
          return
        }
        const upstream = http.request({host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent}, (response) => {
          res.writeHead(response.statusCode ?? 502, response.headers)
          if (fault.type === 'truncate') {
            let sent = 0
            response.on('data', (chunk: Buffer) => {
              if (sent >= fault.afterBytes) return
              const part = chunk.subarray(0, fault.afterBytes - sent)
              sent += part.length
              res.write(part)
              if (sent >= fault.afterBytes) {
                response.destroy()
                res.socket?.destroy()
              }
            })
            return
          }
          response.pipe(res)
        })
        upstream.on('error', () => res.socket?.destroy())
        req.pipe(upstream)
      }
      if (this.latencyMs > 0) setTimeout(forward, this.latencyMs)
      else forward()
    })
    this.server.keepAliveTimeout = 30_000
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return this
  }

  private async tamper(req: http.IncomingMessage, res: http.ServerResponse, target: URL, fault: Extract<Fault, {type: 'tamper'}>): Promise<void> {
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = fault.requestBody ? fault.requestBody(Buffer.concat(chunks)) : Buffer.concat(chunks)
      const headers: http.OutgoingHttpHeaders = {...req.headers, ...fault.requestHeaders, 'content-length': String(body.length)}
      if (headers['content-md5']) headers['content-md5'] = createHash('md5').update(body).digest('base64')
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const upstream = http.request({host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: this.agent}, resolve)
        upstream.on('error', reject)
        upstream.end(body)
      })
      const answer: Buffer[] = []
      for await (const chunk of response) answer.push(chunk as Buffer)
      const text = fault.responseBody ? Buffer.from(fault.responseBody(Buffer.concat(answer).toString())) : Buffer.concat(answer)
      const {'transfer-encoding': _, ...answered} = response.headers
      // A HEAD's Content-Length is the object's, not of its (absent) body.
      res.writeHead(response.statusCode ?? 502, {...answered, ...fault.responseHeaders, ...(req.method === 'HEAD' ? {} : {'content-length': String(text.length)})})
      res.end(text)
    } catch {
      res.socket?.destroy()
    }
  }

  async stop(): Promise<void> {
    this.agent.destroy()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }
}
