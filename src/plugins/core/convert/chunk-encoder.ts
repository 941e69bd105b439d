import {Readable} from 'node:stream'
import zlib from 'node:zlib'

import type {QuarantineEntry} from '../manifest/manifest.js'
import type {RecordValidator, SchemaViolation} from '../schema/validator.js'
import type {DataSource, RawObjectRef} from '../sources/types.js'
import type {OutputCompression} from './buckets.js'

/** One raw object of a chunk, with its bytes. */
export interface ChunkObject {
  key: string
  size: number
  etag?: string
  /** Epoch ms of the object's time from its key. */
  time?: number
  body: Uint8Array
}

/** A run of consecutive objects of one bucket, encoded into one independent gzip member / zstd frame. */
export interface ChunkJob {
  id: number
  objects: ChunkObject[]
  compression: OutputCompression
  level: number
  validate: boolean
}

/** What encoding a chunk produced. */
export interface ChunkResult {
  id: number
  /** The compressed member (or plain JSONL with compression `none`). */
  data: Uint8Array
  records: number
  /** Uncompressed JSONL bytes. */
  jsonlBytes: number
  quarantined: QuarantineEntry[]
  recordsChecked: number
  recordsInvalid: number
  violations: SchemaViolation[]
}

/** Why an object could not be used, in the words of the quarantine list. */
export function quarantineReason(object: {size: number}, error: unknown): string {
  if (object.size === 0) return 'empty: the object has 0 bytes'
  const message = error instanceof Error ? error.message : String(error)
  const offset = (error as {where?: {offset?: number; line?: number}}).where
  const at = offset?.offset !== undefined ? ` (at offset ${offset.offset})` : offset?.line !== undefined ? ` (line ${offset.line})` : ''
  const kind = /unexpected end|end of (json )?(input|data|body)|unterminated|truncat|incomplete|eof/i.test(message) ? 'truncated' : 'undecodable'
  return `${kind}: ${message}${at}`
}

/** Compresses one chunk's JSONL as an independent gzip member or zstd frame; concatenations of them stay valid. */
export function compressChunk(text: Buffer, compression: OutputCompression, level: number): Buffer {
  if (compression === 'gzip') return zlib.gzipSync(text, {level})
  if (compression === 'zstd') return zlib.zstdCompressSync(text, {params: {[zlib.constants.ZSTD_c_compressionLevel]: level}})
  return text
}

/**
 * Decodes, optionally validates, serialises and compresses one chunk. An object that fails to decode contributes
 * no records at all (its partial output is dropped) and is quarantined with the reason. `validator` is a fresh one
 * per chunk (its tallies become the chunk's violations).
 */
export async function encodeChunk(job: ChunkJob, source: DataSource, validator?: RecordValidator): Promise<ChunkResult> {
  const parts: (string | Buffer)[] = []
  const quarantined: QuarantineEntry[] = []
  let records = 0
  // Sources with the toJsonLines fast path skip building record objects. With --validate the lines are parsed back
  // for the validator, so the output stays byte-for-byte what the fast path writes (e.g. Python's 45.0 stays 45.0).
  const fast = source.toJsonLines ? source.toJsonLines.bind(source) : undefined
  for (const object of job.objects) {
    const ref: RawObjectRef = {key: object.key, size: object.size, etag: object.etag, time: object.time === undefined ? undefined : new Date(object.time)}
    const body = Buffer.from(object.body.buffer, object.body.byteOffset, object.body.byteLength)
    if (body.length === 0) {
      quarantined.push({key: object.key, reason: quarantineReason(object, undefined)})
      continue
    }
    try {
      if (fast) {
        const encoded = await fast(body, ref)
        const lines = Buffer.from(encoded.lines.buffer, encoded.lines.byteOffset, encoded.lines.byteLength)
        records += encoded.records
        if (job.validate && validator) {
          for (const text of lines.toString('utf8').split('\n')) if (text) validator.validate(JSON.parse(text), object.key)
        }
        if (lines.length > 0) parts.push(lines[lines.length - 1] === 0x0a ? lines : Buffer.concat([lines, Buffer.from('\n')]))
        continue
      }
      const lines: string[] = []
      for await (const record of source.decode(Readable.from([body]), ref)) {
        if (job.validate) validator?.validate(record, object.key)
        lines.push(JSON.stringify(record))
      }
      if (lines.length > 0) parts.push(lines.join('\n') + '\n')
      records += lines.length
    } catch (error) {
      quarantined.push({key: object.key, reason: quarantineReason(object, error)})
    }
  }
  const text = Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)))
  return {
    id: job.id,
    data: compressChunk(text, job.compression, job.level),
    records,
    jsonlBytes: text.length,
    quarantined,
    recordsChecked: validator?.recordsChecked ?? 0,
    recordsInvalid: validator?.recordsInvalid ?? 0,
    violations: validator?.violations() ?? [],
  }
}
