import {Readable} from 'node:stream'
import zlib from 'node:zlib'

/** Compression of a body, by its magic bytes. */
export type Compression = 'gzip' | 'zstd' | 'none'

const GZIP_MAGIC = [0x1f, 0x8b]
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd]

/** The compression a buffer's first bytes announce. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) return 'gzip'
  if (head.length >= 4 && ZSTD_MAGIC.every((byte, i) => head[i] === byte)) return 'zstd'
  return 'none'
}

/**
 * Returns the body decompressed when it starts with a gzip (multi-member too) or zstd header, else as is; sniffs
 * without consuming more than the first chunk.
 */
export async function maybeDecompress(body: Readable): Promise<Readable> {
  const iterator = body[Symbol.asyncIterator]()
  const first = await iterator.next()
  if (first.done) return Readable.from([])
  const head = Buffer.from(first.value as Uint8Array)
  const rest = async function* () {
    yield head
    for (;;) {
      const next = await iterator.next()
      if (next.done) return
      yield next.value as Buffer
    }
  }
  const stream = Readable.from(rest(), {objectMode: false})
  const kind = sniffCompression(head)
  if (kind === 'gzip') return stream.pipe(zlib.createGunzip())
  if (kind === 'zstd') return stream.pipe(zlib.createZstdDecompress())
  return stream
}

/** Reads a whole stream into one buffer (objects of a source are small; never use for outputs). */
export async function readAll(body: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks)
}

/** One line of a text stream, 1-based, without its line ending. */
export interface Line {
  number: number
  text: string
}

/**
 * Splits a byte stream into lines (`\n` or `\r\n`), decoding UTF-8 across chunk boundaries; skips nothing, so
 * line numbers match the file. A last line without a newline is yielded too.
 */
export async function* readLines(body: Readable | AsyncIterable<Uint8Array>): AsyncIterable<Line> {
  // Pieces of the unfinished line, joined once when its newline arrives: joining on every chunk would copy a long
  // line (multi-MB lines occur in real captures) once per chunk, quadratically.
  let pending: Buffer[] = []
  let number = 0
  for await (const chunk of body) {
    const buffer = chunk as Buffer
    let start = 0
    for (;;) {
      const newline = buffer.indexOf(0x0a, start)
      if (newline === -1) break
      let line = buffer.subarray(start, newline)
      if (pending.length > 0) {
        pending.push(line)
        line = Buffer.concat(pending)
        pending = []
      }
      const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length
      number++
      yield {number, text: line.toString('utf8', 0, end)}
      start = newline + 1
    }
    if (start < buffer.length) pending.push(Buffer.from(buffer.subarray(start)))
  }
  if (pending.length > 0) {
    number++
    const text = Buffer.concat(pending).toString('utf8')
    yield {number, text: text.endsWith('\r') ? text.slice(0, -1) : text}
  }
}
