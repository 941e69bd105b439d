import type {S3Client} from '@aws-sdk/client-s3'

/** One object of a ListObjectsV2 page; `etag` as S3 sends it (quoted). */
export interface ListedObject {
  key: string
  size: number
  lastModified: Date
  etag?: string
}

/** One ListObjectsV2 page: the objects, and where the next page starts. */
export interface ListObjectsPage {
  contents: ListedObject[]
  isTruncated: boolean
  nextContinuationToken?: string
  /** Who read the body: the fast reader, or the SDK (a body the fast reader left to it). */
  readBy?: 'bucketwright' | 'sdk'
}

const ENTITIES: Record<string, string> = {amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"}

/** XML text → string: entities decoded, line ends normalised as an XML parser does; undefined on an unknown entity. */
function xmlText(raw: string): string | undefined {
  let text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw
  const amp = text.indexOf('&')
  if (amp < 0) return text
  // Every ETag is `&quot;…&quot;`: worth a path without a regular expression.
  if (amp === 0 && text.endsWith('&quot;') && text.indexOf('&', 1) === text.length - 6 && text.startsWith('&quot;')) return `"${text.slice(6, -6)}"`
  let unknown = false
  text = text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_, name: string) => {
    if (name[0] !== '#') return ENTITIES[name] ?? ((unknown = true), '')
    const code = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
    if (!(code <= 0x10ffff)) return (unknown = true), ''
    return String.fromCodePoint(code)
  })
  return unknown ? undefined : text
}

/** The text of the first `<name>` element within `[from, to)`, or undefined when there is none. */
function element(xml: string, name: string, from: number, to: number): string | undefined {
  let tags = TAGS.get(name)
  if (!tags) TAGS.set(name, (tags = [`<${name}>`, `</${name}>`]))
  const open = xml.indexOf(tags[0], from)
  if (open < 0 || open >= to) return undefined
  const start = open + tags[0].length
  const close = xml.indexOf(tags[1], start)
  if (close < 0 || close > to) return undefined
  return xml.slice(start, close)
}

const TAGS = new Map<string, [string, string]>()

/**
 * Reads a ListObjectsV2 response body with string searches instead of a general XML parser: the AWS SDK's parser
 * and schema walk cost about 20-50 µs per key, which at tens of thousands of keys outweighs S3's own latency and
 * leaves parallel listings waiting on one CPU. Returns undefined for anything it does not fully understand
 * (`EncodingType`, `CommonPrefixes`, an unknown entity, a count that does not add up), which the SDK then parses.
 */
export function parseListObjectsPage(xml: string): ListObjectsPage | undefined {
  const root = xml.indexOf('<ListBucketResult')
  if (root < 0 || xml.includes('<CommonPrefixes>') || xml.includes('<EncodingType>')) return undefined
  const firstContents = xml.indexOf('<Contents>', root)
  const headerEnd = firstContents < 0 ? xml.length : firstContents
  const truncated = element(xml, 'IsTruncated', root, headerEnd)
  if (truncated !== 'true' && truncated !== 'false') return undefined
  const token = element(xml, 'NextContinuationToken', root, headerEnd)
  const contents: ListedObject[] = []
  for (let at = firstContents; at >= 0; at = xml.indexOf('<Contents>', at)) {
    const end = xml.indexOf('</Contents>', at)
    if (end < 0) return undefined
    const key = xmlText(element(xml, 'Key', at, end) ?? '')
    const size = Number(element(xml, 'Size', at, end))
    const lastModified = new Date(element(xml, 'LastModified', at, end) ?? '')
    const etagText = element(xml, 'ETag', at, end)
    const etag = etagText === undefined ? undefined : xmlText(etagText)
    if (!key || !Number.isSafeInteger(size) || Number.isNaN(lastModified.getTime()) || (etagText !== undefined && etag === undefined)) return undefined
    contents.push({key, size, lastModified, etag})
    at = end
  }
  const keyCount = element(xml, 'KeyCount', root, headerEnd)
  if (keyCount !== undefined && Number(keyCount) !== contents.length) return undefined
  if (truncated === 'true' && token === undefined) return undefined
  return {contents, isTruncated: truncated === 'true', nextContinuationToken: token === undefined ? undefined : xmlText(token)}
}

/** What {@link listObjectsPage} asks for. */
export interface ListObjectsPageInput {
  Bucket: string
  Prefix?: string
  ContinuationToken?: string
  StartAfter?: string
  MaxKeys?: number
}

/**
 * Sends one ListObjectsV2 request through the SDK (signing, endpoint and region resolution, retries, errors as
 * usual) and reads a successful body with {@link parseListObjectsPage}: a middleware just above the HTTP handler
 * takes the raw body and hands the SDK's deserializer an empty result in its place. A body the fast reader does not
 * understand is passed on untouched, so the SDK parses it as always.
 */
export async function listObjectsPage(client: S3Client, input: ListObjectsPageInput, signal?: AbortSignal): Promise<ListObjectsPage> {
  const {ListObjectsV2Command} = await import('@aws-sdk/client-s3')
  const command = new ListObjectsV2Command(input)
  let fast: ListObjectsPage | undefined
  command.middlewareStack.add(
    (next) => async (args) => {
      fast = undefined
      const result = await next(args)
      const response = result.response as {statusCode?: number; body?: unknown}
      if (response.statusCode !== 200 || response.body === undefined) return result
      const body = await bytesOf(response.body)
      fast = parseListObjectsPage(body.toString('utf8'))
      response.body = fast ? EMPTY_RESULT : body
      return result
    },
    // Innermost: sees the response as the HTTP handler returned it, before S3's 200-error check and deserializer.
    {step: 'deserialize', priority: 'low', name: 'bucketwrightFastListObjectsV2'},
  )
  const output = await client.send(command, {abortSignal: signal})
  if (fast) return {...fast, readBy: 'bucketwright'}
  return {
    readBy: 'sdk',
    contents: (output.Contents ?? []).flatMap((item) => (item.Key ? [{key: item.Key, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0), etag: item.ETag}] : [])),
    isTruncated: output.IsTruncated ?? false,
    nextContinuationToken: output.NextContinuationToken,
  }
}

const EMPTY_RESULT = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>')

async function bytesOf(body: unknown): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}
