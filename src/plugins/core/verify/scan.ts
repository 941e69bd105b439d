import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {pipeline} from 'node:stream/promises'
import zlib from 'node:zlib'

import type {RecordValidator} from '../schema/validator.js'
import {sniffCompression} from '../sources/codec.js'
import type {OutputCompression} from './outputs.js'
import {seededRandom} from './sample.js'

/** What one pass over a JSONL output found. */
export interface FileScan {
  /** Non-empty lines: records. */
  records: number
  /** Compressed bytes read, and their digests (compared with the manifest). */
  bytes: number
  md5: string
  sha256: string
  /** Set when the file could not be read to its end: a truncated or corrupt stream. */
  error?: string
  /** Lines that were checked and are not JSON objects (first one as an example). */
  badLines: number
  /** Records checked against the schema, and those that failed. */
  validated: number
  invalid: number
  firstBadLine?: {line: number; message: string}
}

/** Options of {@link scanJsonl}. */
export interface ScanOptions {
  compression: OutputCompression
  /** Validates this share of the records (0…1) with `validator`, chosen reproducibly from `seed`. */
  schemaShare: number
  validator?: RecordValidator
  seed: string
  /** Names the file in schema examples (`<key>:<line>`). */
  label: string
}

/**
 * Reads a JSONL output once, end to end: digests of the stored bytes, the decompressed stream checked to its
 * end (a truncated gzip fails here, with the records read before), records counted, and a share of them parsed
 * and validated. Memory stays at one chunk plus one line.
 */
export async function scanJsonl(filePath: string, options: ScanOptions): Promise<FileScan> {
  const md5 = createHash('md5')
  const sha256 = createHash('sha256')
  const scan: FileScan = {records: 0, bytes: 0, md5: '', sha256: '', badLines: 0, validated: 0, invalid: 0}
  const random = seededRandom(options.seed)
  const share = options.validator ? options.schemaShare : 0
  const pick = () => share >= 1 || (share > 0 && random() < share)
  let lineNumber = 0
  let lineLength = 0
  let selected = pick()
  let pending: Buffer[] = []
  let firstByte = 0

  const finishLine = () => {
    lineNumber++
    // A line holding only `\r` (CRLF files) is as empty as an empty one.
    if (lineLength > 1 || (lineLength === 1 && firstByte !== 0x0d)) {
      scan.records++
      if (selected) checkLine(pending.length === 1 ? pending[0]!.toString('utf8') : Buffer.concat(pending).toString('utf8'))
    }
    lineLength = 0
    pending = []
    selected = pick()
  }
  const checkLine = (text: string) => {
    let record: unknown
    try {
      record = JSON.parse(text)
    } catch (error) {
      scan.badLines++
      scan.firstBadLine ??= {line: lineNumber, message: (error as Error).message}
      return
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      scan.badLines++
      scan.firstBadLine ??= {line: lineNumber, message: 'not a JSON object'}
      return
    }
    scan.validated++
    if (!options.validator!.validate(record, `${options.label}:${lineNumber}`)) scan.invalid++
  }

  let first = true
  const digest = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      if (first) {
        first = false
        const found = sniffCompression(chunk)
        if (options.compression !== 'none' && found !== options.compression) throw new Error(`is not ${options.compression} data (it starts with ${found === 'none' ? 'plain bytes' : found})`)
      }
      md5.update(chunk)
      sha256.update(chunk)
      scan.bytes += chunk.length
      yield chunk
    }
  }
  const count = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      let position = 0
      for (;;) {
        const newline = chunk.indexOf(0x0a, position)
        const end = newline === -1 ? chunk.length : newline
        if (end > position) {
          if (lineLength === 0) firstByte = chunk[position]!
          if (selected) pending.push(chunk.subarray(position, end))
          lineLength += end - position
        }
        if (newline === -1) break
        finishLine()
        position = newline + 1
      }
    }
    if (lineLength > 0) finishLine()
  }
  try {
    const input = createReadStream(filePath, {highWaterMark: 1 << 20})
    if (options.compression === 'none') await pipeline(input, digest, count)
    else {
      const decompress = options.compression === 'gzip' ? zlib.createGunzip({chunkSize: 1 << 17}) : zlib.createZstdDecompress({chunkSize: 1 << 17})
      await pipeline(input, digest, decompress, count)
    }
  } catch (error) {
    scan.error = describeStreamError(error as NodeJS.ErrnoException, options.compression)
  }
  scan.md5 = md5.digest('hex')
  scan.sha256 = sha256.digest('hex')
  return scan
}

function describeStreamError(error: NodeJS.ErrnoException, compression: OutputCompression): string {
  if (error.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(error.message)) return `the ${compression} stream ends early: the file is truncated`
  if (error.code === 'Z_DATA_ERROR') return `the ${compression} stream is corrupt (${error.message})`
  return error.message
}
