import {randomBytes} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

/** A fake EC2 instance metadata service on loopback that, like the real one in IMDSv2-only mode, wants a token. */
export class FakeImds {
  readonly seen: string[] = []
  server?: http.Server
  token = randomBytes(8).toString('hex')
  constructor(
    private readonly mode: 'v2' | 'v1-only',
    private readonly region = 'eu-west-1',
  ) {}
  get endpoint() {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }
  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.seen.push(`${req.method} ${req.url}`)
      if (req.method === 'PUT' && req.url === '/latest/api/token') {
        if (this.mode === 'v1-only' || !req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return res.writeHead(403).end()
        return res.writeHead(200).end(this.token)
      }
      if (req.headers['x-aws-ec2-metadata-token'] !== this.token) return res.writeHead(401).end()
      if (req.url === '/latest/meta-data/instance-id') return res.writeHead(200).end('i-0123456789abcdef0')
      if (req.url === '/latest/meta-data/placement/region') return res.writeHead(200).end(this.region)
      res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return this
  }
  async stop() {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server!.close(() => resolve()))
  }
}

/** A loopback port with nothing listening. */
export async function closedPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
