import http from 'node:http'
import type {AddressInfo} from 'node:net'

/** What the proxy does with one request. */
export interface EtagProxyRule {
  /** Answer 200 with this ETag without forwarding (a store that says it stored what it did not). */
  fakeEtag?: string
  /** Forward, then replace the response's ETag header with this (a store whose ETags are no MD5). */
  replaceEtag?: string
}

/**
 * A loopback proxy in front of an S3 server that lies about ETags: it can rewrite the ETag a store answers, or
 * answer a write itself without storing anything. For tests of write verification: a correct object under an
 * ETag of another form must still be verified (and its file deleted); a write the store did not keep must not be.
 */
export class EtagProxy {
  rule: (request: {method: string; url: string}) => EtagProxyRule = () => ({})
  private server?: http.Server
  private readonly agent = new http.Agent({keepAlive: true})

  constructor(private readonly target: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }

  async start(): Promise<this> {
    const target = new URL(this.target)
    this.server = http.createServer((req, res) => {
      const rule = this.rule({method: req.method ?? 'GET', url: req.url ?? '/'})
      if (rule.fakeEtag !== undefined) {
        req.resume()
        req.on('end', () => {
          res.writeHead(200, {etag: `"${rule.fakeEtag}"`, 'content-length': '0'})
          res.end()
        })
        return
      }
      const upstream = http.request({host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent}, (response) => {
        const headers = {...response.headers}
        if (rule.replaceEtag !== undefined && headers.etag) headers.etag = `"${rule.replaceEtag}"`
        res.writeHead(response.statusCode ?? 502, headers)
        response.pipe(res)
      })
      upstream.on('error', () => res.socket?.destroy())
      req.pipe(upstream)
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return this
  }

  async stop(): Promise<void> {
    this.agent.destroy()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }
}
