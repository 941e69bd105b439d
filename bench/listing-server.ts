/**
 * A benchmark-only S3 server whose ListObjectsV2 costs what S3's does: the keys of a bucket sit in one sorted array
 * and a request binary-searches its start, so a page costs O(log n + page) whatever the bucket's size. The test
 * server (fauxqs) filters and sorts every key of the bucket on each request, so with 50,000 keys its own CPU, not
 * the latency the proxy adds, decides how long a listing takes, and parallel requests only queue behind each other.
 *
 * Speaks just what a listing benchmark needs, over real HTTP, path-style: CreateBucket, HeadBucket, PutObject
 * (the body is hashed for the ETag and dropped), HeadObject, and ListObjectsV2 with prefix, delimiter, max-keys,
 * start-after, continuation-token and encoding-type=url, answering with the XML S3 sends. Anything else gets 501.
 * Not a general test server: no bodies are kept and no signature is checked.
 */
import {createHash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

interface StoredObject {
  key: string
  size: number
  etag: string
  lastModified: string
}

/** One bucket: objects by key, and their keys in S3's order (UTF-8 bytes), re-sorted only after writes. */
export class IndexedBucket {
  readonly objects = new Map<string, StoredObject>()
  private sorted: string[] = []
  private dirty = false

  put(object: StoredObject): void {
    if (!this.objects.has(object.key)) this.dirty = true
    this.objects.set(object.key, object)
  }

  keys(): string[] {
    if (this.dirty) {
      this.sorted = [...this.objects.keys()].sort(compareUtf8)
      this.dirty = false
    }
    return this.sorted
  }
}

/** S3 orders keys by their UTF-8 bytes; UTF-16 order differs only where a surrogate pair meets U+E000–U+FFFF. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0
  if (!/[\uD800-\uDFFF]/.test(a) && !/[\uD800-\uDFFF]/.test(b)) return a < b ? -1 : 1
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Index of the first key after `bound` (or at it, when `inclusive`), by binary search. */
function firstIndex(keys: string[], bound: string, inclusive: boolean): number {
  let low = 0
  let high = keys.length
  while (low < high) {
    const middle = (low + high) >>> 1
    const order = compareUtf8(keys[middle], bound)
    if (order < 0 || (!inclusive && order === 0)) low = middle + 1
    else high = middle
  }
  return low
}

/** Index of the first key at or after `from` that does not start with `prefix` (keys under it are contiguous). */
function endOf(keys: string[], from: number, prefix: string): number {
  let low = from
  let high = keys.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (keys[middle].startsWith(prefix)) low = middle + 1
    else high = middle
  }
  return low
}

const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'})[c]!)
/** S3's `encoding-type=url`: like encodeURIComponent but `/` kept as is (what S3 does for keys and prefixes). */
const urlEncode = (text: string) => encodeURIComponent(text).replaceAll('%2F', '/')

/** One page of a ListObjectsV2 listing as S3 computes it. */
export function listPage(
  bucket: IndexedBucket,
  query: {prefix: string; delimiter?: string; maxKeys: number; startAfter?: string; continuationToken?: string},
): {contents: StoredObject[]; commonPrefixes: string[]; nextToken?: string} {
  const keys = bucket.keys()
  const {prefix, delimiter, maxKeys} = query
  // The token is opaque to clients; here it is the last key or common prefix returned, base64url-encoded.
  const after = query.continuationToken === undefined ? query.startAfter : Buffer.from(query.continuationToken, 'base64url').toString('utf8')
  let index = after !== undefined && compareUtf8(after, prefix) >= 0 ? firstIndex(keys, after, false) : firstIndex(keys, prefix, true)
  const contents: StoredObject[] = []
  const commonPrefixes: string[] = []
  let last: string | undefined
  while (index < keys.length && keys[index].startsWith(prefix)) {
    if (contents.length + commonPrefixes.length >= maxKeys) return {contents, commonPrefixes, nextToken: Buffer.from(last!, 'utf8').toString('base64url')}
    const key = keys[index]
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1
    if (cut >= 0) {
      const common = key.slice(0, cut + delimiter!.length)
      // A common prefix at or before where the listing resumes was returned already (or is to be skipped).
      if (after === undefined || compareUtf8(common, after) > 0) {
        commonPrefixes.push(common)
        last = common
      }
      index = endOf(keys, index, common)
      continue
    }
    contents.push(bucket.objects.get(key)!)
    last = key
    index++
  }
  return {contents, commonPrefixes}
}

function listXml(bucket: string, query: URLSearchParams, page: ReturnType<typeof listPage>, maxKeys: number): string {
  const url = query.get('encoding-type') === 'url'
  const text = (value: string) => escapeXml(url ? urlEncode(value) : value)
  const optional = (name: string, value: string | null | undefined, encode = text) => (value === null || value === undefined ? '' : `<${name}>${encode(value)}</${name}>`)
  // Element order as S3 sends it.
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${escapeXml(bucket)}</Name>`,
    `<Prefix>${text(query.get('prefix') ?? '')}</Prefix>`,
    optional('ContinuationToken', query.get('continuation-token'), escapeXml),
    optional('NextContinuationToken', page.nextToken, escapeXml),
    `<KeyCount>${page.contents.length + page.commonPrefixes.length}</KeyCount>`,
    `<MaxKeys>${maxKeys}</MaxKeys>`,
    optional('Delimiter', query.get('delimiter')),
    optional('EncodingType', url ? 'url' : undefined, escapeXml),
    `<IsTruncated>${page.nextToken !== undefined}</IsTruncated>`,
    optional('StartAfter', query.get('start-after')),
  ]
  for (const object of page.contents) {
    parts.push(
      `<Contents><Key>${text(object.key)}</Key><LastModified>${object.lastModified}</LastModified><ETag>&quot;${object.etag}&quot;</ETag><Size>${object.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    )
  }
  for (const common of page.commonPrefixes) parts.push(`<CommonPrefixes><Prefix>${text(common)}</Prefix></CommonPrefixes>`)
  parts.push('</ListBucketResult>')
  return parts.join('')
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, head = false): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`
  res.writeHead(status, {'content-type': 'application/xml', 'content-length': head ? 0 : Buffer.byteLength(body)})
  res.end(head ? undefined : body)
}

/** Starts the listing server on a free loopback port. */
export async function startListingServer(): Promise<{endpoint: string; stop: () => Promise<void>}> {
  const buckets = new Map<string, IndexedBucket>()
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const slash = url.pathname.indexOf('/', 1)
    const name = decodeURIComponent(slash < 0 ? url.pathname.slice(1) : url.pathname.slice(1, slash))
    const key = slash < 0 ? '' : decodeURIComponent(url.pathname.slice(slash + 1))
    const method = req.method ?? 'GET'
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const bucket = buckets.get(name)
      if (method === 'PUT' && key === '') {
        if (!bucket) buckets.set(name, new IndexedBucket())
        res.writeHead(200, {location: `/${name}`, 'content-length': 0})
        return res.end()
      }
      if (!bucket) return sendError(res, 404, 'NoSuchBucket', `The specified bucket does not exist: ${name}`, method === 'HEAD')
      if (method === 'HEAD' && key === '') {
        res.writeHead(200, {'x-amz-bucket-region': 'us-east-1', 'content-length': 0})
        return res.end()
      }
      if (method === 'PUT') {
        const body = Buffer.concat(chunks)
        const etag = createHash('md5').update(body).digest('hex')
        bucket.put({key, size: body.length, etag, lastModified: new Date().toISOString().replace(/\.\d+Z$/, '.000Z')})
        res.writeHead(200, {etag: `"${etag}"`, 'content-length': 0})
        return res.end()
      }
      if (method === 'HEAD') {
        const object = bucket.objects.get(key)
        if (!object) return sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', true)
        res.writeHead(200, {etag: `"${object.etag}"`, 'content-length': object.size, 'last-modified': new Date(object.lastModified).toUTCString()})
        return res.end()
      }
      if (method === 'GET' && key === '' && url.searchParams.get('list-type') === '2') {
        const query = url.searchParams
        const maxKeys = Math.min(1000, Math.max(0, Number(query.get('max-keys') ?? 1000)))
        const page = listPage(bucket, {
          prefix: query.get('prefix') ?? '',
          delimiter: query.get('delimiter') || undefined,
          maxKeys,
          startAfter: query.get('start-after') ?? undefined,
          continuationToken: query.get('continuation-token') ?? undefined,
        })
        const body = listXml(name, query, page, maxKeys)
        res.writeHead(200, {'content-type': 'application/xml', 'content-length': Buffer.byteLength(body)})
        return res.end(body)
      }
      sendError(res, 501, 'NotImplemented', `The benchmark listing server does not implement ${method} ${url.pathname}${url.search}`, method === 'HEAD')
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
