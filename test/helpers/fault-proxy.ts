import http from 'node:http'
import type {AddressInfo} from 'node:net'

/** What the proxy does to one request: pass it, answer with an error, cut the connection, or delay it. */
export type Fault =
  | {type: 'pass'}
  | {type: 'status'; status: number; code: string; headers?: Record<string, string>}
  | {type: 'reset'}
  /** Sends the response headers and part of the body, then cuts the connection. */
  | {type: 'truncate'; afterBytes: number}

/** Decides the fault of each request (method, path, 1-based request number). */
export type FaultPlan = (request: {method: string; url: string; n: number; authorization?: string}) => Fault

/** A request the proxy saw, with what it did. */
export interface ProxiedRequest {
  method: string
  url: string
  fault: Fault['type']
  /** The Authorization header as sent (tests check signing; never print it). */
  authorization?: string
  /** Range and If-Match as sent (tests check resumed reads). */
  headers?: {range?: string; 'if-match'?: string}
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
      this.requests.push({method: req.method ?? 'GET', url: req.url ?? '/', fault: fault.type, authorization: req.headers.authorization, headers: {range: req.headers.range, 'if-match': req.headers['if-match']}})
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
        const upstream = http.request(
          {host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent},
          (response) => {
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
          },
        )
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

  async stop(): Promise<void> {
    this.agent.destroy()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }
}
