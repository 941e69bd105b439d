import type {S3Client} from '@aws-sdk/client-s3'
import type http from 'node:http'
import type https from 'node:https'
import {createRequire} from 'node:module'

import {FastPathError, RawHttp, type RawResponse} from './raw-http.js'
import {canonicalQuery, S3RequestSigner, type SigningCredentials, uriEncode} from './sigv4.js'

export {FastPathError} from './raw-http.js'

// Required, not imported: an ESM import of node:http builds its module namespace by reading every export, and its
// lazy WebSocket/MessageEvent exports then load Node's internal undici (~40 ms of start-up), which nothing here uses.
const require = createRequire(import.meta.url)
const {Agent: HttpAgent, request: httpRequest} = require('node:http') as typeof http
const {Agent: HttpsAgent, request: httpsRequest} = require('node:https') as typeof https

/** What a lean HEAD found: the object's size, ETag, metadata and (with checksum mode) its checksums. */
export interface FastHead {
  size: number
  etag?: string
  lastModified?: Date
  crc32?: string
  /** Every `x-amz-checksum-<algorithm>` header, by lowercase algorithm name (crc32, crc32c, crc64nvme, sha1, sha256). */
  checksums: Record<string, string>
  checksumType?: string
  serverSideEncryption?: string
  /** User metadata (`x-amz-meta-*`), names lowercase as the SDK reports them. */
  metadata: Record<string, string>
}

/** Where and as whom the lean path sends a bucket's requests. */
export interface FastS3Target {
  region(): Promise<string>
  credentials(): Promise<SigningCredentials>
  /** The bucket's endpoint URL: virtual-hosted (`https://bucket.s3.region.amazonaws.com/`) or path-style. */
  base(bucket: string): Promise<URL>
}

/** The lean path's target exactly as an SDK client resolves it: its endpoint rules, region and credential chain. */
export function sdkTarget(client: S3Client): FastS3Target {
  const config = client.config
  return {
    region: () => config.region(),
    credentials: () => config.credentials() as Promise<SigningCredentials>,
    async base(bucket) {
      const endpoint = config.endpoint ? await config.endpoint() : undefined
      const resolved = config.endpointProvider({
        Bucket: bucket,
        Region: await config.region(),
        UseFIPS: await config.useFipsEndpoint(),
        UseDualStack: await config.useDualstackEndpoint(),
        ForcePathStyle: config.forcePathStyle,
        Accelerate: false,
        Endpoint: endpoint ? `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path ?? ''}` : undefined,
      } as never)
      return new URL(resolved.url.href)
    },
  }
}

/** One page of a lean ListObjectsV2. */
export interface FastListPage {
  objects: {key: string; size: number; etag?: string; lastModified: Date}[]
  nextToken?: string
}

/** What a lean PUT stored, as the store reports it. */
export interface FastPut {
  etag?: string
  serverSideEncryption?: string
}

/**
 * The per-object hot paths — the upload daemon's PUT and HEAD of small files, convert's GET of small raw objects —
 * over keep-alive sockets, signed with SigV4 (the SDK's credentials, a lean signer: see sigv4.ts), without the SDK's
 * middleware stack, which costs about 1 ms of the JS thread per request and caps one process near 950 requests/s.
 * Anything unusual is a {@link FastPathError} for the caller to redo through the SDK.
 */
export class FastS3 {
  private readonly bases = new Map<string, Promise<URL>>()
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent
  /** PUTs (whole bodies and parts) go out on connections of their own, without node:http (see raw-http.ts). */
  private readonly raw: RawHttp
  private readonly target: FastS3Target
  private signer?: Promise<S3RequestSigner>

  /** `target`: an SDK client (its endpoint rules and credentials) or a {@link FastS3Target}. */
  constructor(target: S3Client | FastS3Target, maxSockets: number) {
    this.target = 'config' in target ? sdkTarget(target) : target
    this.httpAgent = new HttpAgent({keepAlive: true, maxSockets})
    this.httpsAgent = new HttpsAgent({keepAlive: true, maxSockets})
    this.raw = new RawHttp(maxSockets)
  }

  /** The endpoint URL of a bucket, resolved once. */
  private base(bucket: string): Promise<URL> {
    let base = this.bases.get(bucket)
    if (!base) {
      base = this.target.base(bucket)
      this.bases.set(bucket, base)
    }
    return base
  }

  private async signerFor(): Promise<S3RequestSigner> {
    this.signer ??= (async () => new S3RequestSigner(await this.target.region()))()
    return this.signer
  }

  private async request(
    method: 'GET' | 'PUT' | 'HEAD' | 'POST' | 'DELETE',
    bucket: string,
    key: string,
    headers: Record<string, string>,
    body?: Buffer,
    query?: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<http.IncomingMessage> {
    const [base, signer, credentials] = await Promise.all([this.base(bucket), this.signerFor(), this.target.credentials()])
    // A bucket-level request (key '') goes to the bucket itself: `/bucket` path-style, `/` virtual-hosted.
    const path = key === '' ? base.pathname || '/' : `${base.pathname.replace(/\/$/, '')}/${key.split('/').map(uriEncode).join('/')}`
    const port = base.port ? Number(base.port) : undefined
    // Anonymous access (the SDK's no-op signer, empty keys) goes out unsigned, as the SDK would send it.
    const signed = {headers: credentials.accessKeyId ? signer.sign({method, host: base.host, path, headers, query}, credentials) : {...headers, host: base.host}}
    const search = canonicalQuery(query)
    const secure = base.protocol === 'https:'
    return new Promise((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(
        {agent: secure ? this.httpsAgent : this.httpAgent, hostname: base.hostname, port, method, path: search ? `${path}?${search}` : path, headers: signed.headers, timeout: 120_000, signal},
        resolve,
      )
      request.on('timeout', () => request.destroy(new FastPathError(`${method} timed out`)))
      request.on('error', (error) => reject(error instanceof FastPathError || signal?.aborted ? error : new FastPathError(`${method} failed: ${(error as Error).message}`, undefined, (error as {code?: string}).code)))
      request.end(body)
    })
  }

  /** A request on {@link RawHttp}, signed as {@link request} signs it; the answer read whole. */
  private async exchange(method: 'PUT', bucket: string, key: string, headers: Record<string, string>, body: Buffer, query?: Record<string, string>, signal?: AbortSignal): Promise<RawResponse> {
    const [base, signer, credentials] = await Promise.all([this.base(bucket), this.signerFor(), this.target.credentials()])
    const path = `${base.pathname.replace(/\/$/, '')}/${key.split('/').map(uriEncode).join('/')}`
    const signed = credentials.accessKeyId ? signer.sign({method, host: base.host, path, headers, query}, credentials) : {...headers, host: base.host}
    const search = canonicalQuery(query)
    return this.raw.request(base, method, search ? `${path}?${search}` : path, signed, body, signal)
  }

  /** The error for an answer of {@link exchange} that is not a success. */
  private static failed(method: string, response: RawResponse): FastPathError {
    const code = /<Code>([^<]+)<\/Code>/.exec(response.body.toString('utf8', 0, 4096))?.[1]
    return new FastPathError(`${method} answered ${response.status}${code ? ` ${code}` : ''}`, response.status, code)
  }

  private static async fail(method: string, response: http.IncomingMessage): Promise<never> {
    let text = ''
    for await (const chunk of response) if (text.length < 4096) text += chunk
    const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1]
    throw new FastPathError(`${method} answered ${response.statusCode}${code ? ` ${code}` : ''}`, response.statusCode, code)
  }

  /**
   * PUT of a whole body with its Content-MD5 (the store refuses other bytes) and, when given, CRC32 (kept as a
   * checksum); `headers` adds e.g. content-type and `x-amz-meta-*` (see {@link objectHeaders}).
   */
  async put(bucket: string, key: string, body: Buffer, md5Base64: string, crc32Base64?: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<FastPut> {
    const sent: Record<string, string> = {...headers, 'content-length': String(body.length), 'content-md5': md5Base64}
    if (crc32Base64) sent['x-amz-checksum-crc32'] = crc32Base64
    const response = await this.exchange('PUT', bucket, key, sent, body, undefined, signal)
    if (response.status !== 200) throw FastS3.failed('PUT', response)
    return {etag: response.headers.etag?.replaceAll('"', ''), serverSideEncryption: response.headers['x-amz-server-side-encryption']}
  }

  /** Starts a multipart upload (`POST ?uploads`); returns its upload id. */
  async createMultipart(bucket: string, key: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<string> {
    const response = await this.request('POST', bucket, key, {...headers, 'content-length': '0'}, undefined, {uploads: ''}, signal)
    if (response.statusCode !== 200) return FastS3.fail('CreateMultipartUpload', response)
    const xml = await text(response)
    const uploadId = field(xml, '<UploadId>', '</UploadId>', 0, xml.length)
    if (!xml.includes('<InitiateMultipartUploadResult') || !uploadId) throw new FastPathError('CreateMultipartUpload answered without an UploadId')
    return xmlText(uploadId)
  }

  /**
   * Completes a multipart upload from its parts' ETags. S3 may answer 200 and still report an error in the body;
   * that, like any other failure, is a {@link FastPathError}.
   */
  async completeMultipart(bucket: string, key: string, uploadId: string, etags: string[], signal?: AbortSignal): Promise<FastPut> {
    const parts = etags.map((etag, index) => `<Part><ETag>"${etag}"</ETag><PartNumber>${index + 1}</PartNumber></Part>`).join('')
    const body = Buffer.from(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts}</CompleteMultipartUpload>`)
    const response = await this.request('POST', bucket, key, {'content-length': String(body.length), 'content-type': 'application/xml'}, body, {uploadId}, signal)
    if (response.statusCode !== 200) return FastS3.fail('CompleteMultipartUpload', response)
    const xml = await text(response)
    const etag = field(xml, '<ETag>', '</ETag>', 0, xml.length)
    if (!xml.includes('<CompleteMultipartUploadResult') || etag === undefined) throw new FastPathError(`CompleteMultipartUpload answered ${/<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? 'something other than a result'}`)
    return {etag: etagText(etag), serverSideEncryption: header(response, 'x-amz-server-side-encryption')}
  }

  /** Aborts a multipart upload, removing its parts. */
  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    const response = await this.request('DELETE', bucket, key, {}, undefined, {uploadId})
    if (response.statusCode !== 204 && response.statusCode !== 200) return FastS3.fail('AbortMultipartUpload', response)
    response.resume()
  }

  /**
   * One part of a multipart upload, with its Content-MD5. Unlike the SDK, no SHA-256 pass over the body for the
   * signature (`UNSIGNED-PAYLOAD`; Content-MD5 guards the bytes) and no `Expect: 100-continue` round trip.
   */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<FastPut> {
    const response = await this.exchange('PUT', bucket, key, {'content-length': String(body.length), 'content-md5': md5Base64}, body, {partNumber: String(partNumber), uploadId}, signal)
    if (response.status !== 200) throw FastS3.failed('UploadPart', response)
    return {etag: response.headers.etag?.replaceAll('"', ''), serverSideEncryption: response.headers['x-amz-server-side-encryption']}
  }

  /**
   * GET of a whole object into one buffer of its own (so it can be transferred to a worker thread). A body shorter
   * or longer than its Content-Length, or cut off mid-stream, is a {@link FastPathError}: the caller reads again
   * through the SDK, which resumes and translates errors.
   */
  async get(bucket: string, key: string, signal?: AbortSignal): Promise<Buffer> {
    const response = await this.request('GET', bucket, key, {}, undefined, undefined, signal)
    if (response.statusCode !== 200) return FastS3.fail('GET', response)
    const length = Number(header(response, 'content-length'))
    // With a Content-Length (S3 always sends one) the bytes go straight into the body as they arrive: no list of
    // chunks, no async iteration per chunk (thousands of them a second on the JS thread).
    const body = Number.isSafeInteger(length) && length >= 0 ? Buffer.allocUnsafeSlow(length) : undefined
    const chunks: Buffer[] = []
    let received = 0
    await new Promise<void>((resolve, reject) => {
      const cutOff = (error?: Error & {code?: string}) => {
        if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : error)
        else reject(new FastPathError(`GET body cut off after ${received} bytes${error ? `: ${error.message}` : ''}`, undefined, error?.code))
      }
      response.on('data', (chunk: Buffer) => {
        // Bytes past the announced length are only counted: the check below refuses the body.
        if (!body) chunks.push(chunk)
        else if (received + chunk.length <= body.length) chunk.copy(body, received)
        received += chunk.length
      })
      response.once('end', () => (response.complete ? resolve() : cutOff()))
      response.once('error', cutOff)
      response.once('aborted', () => cutOff())
      response.once('close', () => response.complete || cutOff())
    })
    if (body) {
      if (received !== body.length) throw new FastPathError(`GET body has ${received} of ${body.length} bytes`)
      return body
    }
    return Buffer.concat(chunks, received)
  }

  /**
   * One page of ListObjectsV2, parsed without the SDK's XML stack (which costs a few ms of the JS thread a page).
   * Anything the parser does not expect is a {@link FastPathError}, and the caller lists that page through the SDK.
   */
  async listPage(bucket: string, options: {prefix: string; startAfter?: string; token?: string; maxKeys?: number; signal?: AbortSignal}): Promise<FastListPage> {
    const query: Record<string, string> = {'list-type': '2', prefix: options.prefix}
    if (options.token) query['continuation-token'] = options.token
    else if (options.startAfter !== undefined) query['start-after'] = options.startAfter
    if (options.maxKeys !== undefined) query['max-keys'] = String(options.maxKeys)
    const response = await this.request('GET', bucket, '', {}, undefined, query, options.signal)
    if (response.statusCode !== 200) return FastS3.fail('ListObjectsV2', response)
    return parseListPage(await text(response))
  }

  /**
   * A request whose answer is yes (200) or a reason: ListBuckets of one (bucket `''`, query `max-buckets=1`), whether
   * the credentials are accepted; HeadBucket, whether the bucket is there for them. Anything but a 200 is a
   * {@link FastPathError}: the caller asks again through the SDK, which explains it in its words.
   */
  async accepts(method: 'GET' | 'HEAD', bucket: string, query?: Record<string, string>, signal?: AbortSignal): Promise<void> {
    const response = await this.request(method, bucket, '', {}, undefined, query, signal)
    if (response.statusCode !== 200) return FastS3.fail(method, response)
    response.resume()
  }

  /** HEAD, with checksum mode unless `checksum` is false; `undefined` when there is no such key. */
  async head(bucket: string, key: string, options: {checksum?: boolean; signal?: AbortSignal} = {}): Promise<FastHead | undefined> {
    const response = await this.request('HEAD', bucket, key, options.checksum === false ? {} : {'x-amz-checksum-mode': 'ENABLED'}, undefined, undefined, options.signal)
    response.resume()
    if (response.statusCode === 404) return undefined
    if (response.statusCode !== 200) throw new FastPathError(`HEAD answered ${response.statusCode}`, response.statusCode)
    const checksums: Record<string, string> = {}
    const metadata: Record<string, string> = {}
    for (const [name, value] of Object.entries(response.headers)) {
      if (typeof value !== 'string') continue
      if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type') checksums[name.slice(15)] = value
      else if (name.startsWith('x-amz-meta-')) metadata[name.slice(11)] = value
    }
    const modified = header(response, 'last-modified')
    return {
      size: Number(header(response, 'content-length') ?? 0),
      etag: header(response, 'etag')?.replaceAll('"', ''),
      lastModified: modified ? new Date(modified) : undefined,
      crc32: checksums.crc32,
      checksums,
      checksumType: header(response, 'x-amz-checksum-type'),
      serverSideEncryption: header(response, 'x-amz-server-side-encryption'),
      metadata,
    }
  }

  close(): void {
    this.raw.close()
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }
}

const ENTITIES: Record<string, string> = {amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"}

/** XML text → string: the five named entities and numeric character references. */
function xmlText(text: string): string {
  if (!text.includes('&')) return text
  return text.replaceAll(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16))
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)))
    const value = ENTITIES[name]
    if (value === undefined) throw new FastPathError(`ListObjectsV2 answered an unknown XML entity ${whole}`)
    return value
  })
}

/** An ETag's text without its quotes: S3 lists each one as `&quot;…&quot;`, worth a path without a regex. */
function etagText(text: string): string {
  if (text.startsWith('&quot;') && text.endsWith('&quot;') && text.indexOf('&', 6) === text.length - 6) return text.slice(6, -6)
  return xmlText(text).replaceAll('"', '')
}

/**
 * The text of the first `<open>…</close>` element starting in `xml[from, to)`; `undefined` when there is none.
 * Searching the page in place (no substring per object, tags as constants) keeps parsing near 1 µs a key.
 */
function field(xml: string, open: string, close: string, from: number, to: number): string | undefined {
  const start = xml.indexOf(open, from)
  if (start === -1 || start >= to) return undefined
  const end = xml.indexOf(close, start)
  if (end === -1 || end > to) throw new FastPathError(`ListObjectsV2 answered an unterminated ${open}`)
  return xml.slice(start + open.length, end)
}

/**
 * The element's text start: the index just after `open` for the first `<open>` in `xml[from, to)`, or -1.
 * Sizes and times are read in place from there, without a substring each.
 */
function textStart(xml: string, open: string, from: number, to: number): number {
  const start = xml.indexOf(open, from)
  return start === -1 || start >= to ? -1 : start + open.length
}

/** A decimal integer at `at`, up to the next `<`; NaN for anything else. */
function integerAt(xml: string, at: number): number {
  let value = 0
  for (let i = at; ; i++) {
    const c = xml.charCodeAt(i)
    if (c === 0x3c) return i === at ? Number.NaN : value
    if (c < 0x30 || c > 0x39) return Number.NaN
    value = value * 10 + c - 0x30
  }
}

/** A time at `at` as S3 writes it (`2024-01-02T03:04:05.000Z<`) read digit by digit; any other form via Date. */
function timeAt(xml: string, at: number): Date {
  if (xml.charCodeAt(at) === 0x3c) return new Date(0)
  if (xml.charCodeAt(at + 10) !== 0x54 || xml.charCodeAt(at + 23) !== 0x5a || xml.charCodeAt(at + 24) !== 0x3c) return new Date(xml.slice(at, xml.indexOf('<', at)))
  return new Date(Date.UTC(digits(xml, at, 4), digits(xml, at + 5, 2) - 1, digits(xml, at + 8, 2), digits(xml, at + 11, 2), digits(xml, at + 14, 2), digits(xml, at + 17, 2), digits(xml, at + 20, 3)))
}

function digits(text: string, at: number, count: number): number {
  let value = 0
  for (let i = at; i < at + count; i++) value = value * 10 + text.charCodeAt(i) - 0x30
  return value
}

/** Parses a ListObjectsV2 result; refuses (FastPathError) anything that is not one, so the SDK takes over. */
export function parseListPage(xml: string): FastListPage {
  if (!xml.includes('<ListBucketResult')) throw new FastPathError('ListObjectsV2 answered something other than a ListBucketResult')
  const objects: FastListPage['objects'] = []
  let last = 0
  for (let at = xml.indexOf('<Contents>'); at !== -1; at = xml.indexOf('<Contents>', last)) {
    const end = xml.indexOf('</Contents>', at)
    if (end === -1) throw new FastPathError('ListObjectsV2 answered an unterminated <Contents>')
    const key = field(xml, '<Key>', '</Key>', at, end)
    const sizeAt = textStart(xml, '<Size>', at, end)
    const size = sizeAt === -1 ? Number.NaN : integerAt(xml, sizeAt)
    if (key === undefined || !Number.isFinite(size)) throw new FastPathError('ListObjectsV2 answered an object without Key or Size')
    const modifiedAt = textStart(xml, '<LastModified>', at, end)
    const etag = field(xml, '<ETag>', '</ETag>', at, end)
    objects.push({key: xmlText(key), size, etag: etag === undefined ? undefined : etagText(etag), lastModified: modifiedAt === -1 ? new Date(0) : timeAt(xml, modifiedAt)})
    last = end + 11
  }
  // Keys are escaped, so a tag found anywhere in the page is the page's own.
  const truncated = field(xml, '<IsTruncated>', '</IsTruncated>', 0, xml.length) === 'true'
  const token = field(xml, '<NextContinuationToken>', '</NextContinuationToken>', 0, xml.length)
  if (truncated && !token) throw new FastPathError('ListObjectsV2 answered a truncated page without a continuation token')
  return {objects, nextToken: truncated ? xmlText(token!) : undefined}
}

/** The headers of a PUT or CreateMultipartUpload that describe the object: type, encoding, user metadata. */
export function objectHeaders(options: {contentType?: string; contentEncoding?: string; metadata?: Record<string, string>}): Record<string, string> {
  const headers: Record<string, string> = {}
  if (options.contentType) headers['content-type'] = options.contentType
  if (options.contentEncoding) headers['content-encoding'] = options.contentEncoding
  for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value
  return headers
}

async function text(response: http.IncomingMessage): Promise<string> {
  let xml = ''
  response.setEncoding('utf8')
  for await (const chunk of response) xml += chunk
  return xml
}

function header(response: http.IncomingMessage, name: string): string | undefined {
  const value = response.headers[name]
  return Array.isArray(value) ? value[0] : value
}
