import zlib from 'node:zlib'

import {DecodeError, type SourceRecord, sniffCompression} from '../core/source-kit.js'
import {REPR_CUTOFF_TIME, snapshotTimeOf} from './layout.js'
import {type LiteralSyntax, LiteralTranscoder, parseTranscoded} from './python-literal/index.js'

/** JSON lines of one bustimes object: one compact JSON object per vehicle, each ending in `\n`. */
export interface VehicleLines {
  /** UTF-8 JSONL bytes, ready to compress. */
  lines: Buffer
  /** Number of lines (vehicles). */
  records: number
  /** The grammar the body turned out to be written in. */
  syntax: LiteralSyntax
}

const NEWLINE = 0x0a
const COMMA = 0x2c
/** A vehicle's own snapshot_time is dropped: the reference overwrites it with the key's. */
const SNAPSHOT_KEY = new Uint8Array(Buffer.from('snapshot_time'))

/**
 * The grammar a bustimes object should be in, by the bucket's rule: Python-2 repr up to and including
 * `raw/bustimes__2021-11-10__07-15-05.json`, JSON after. Decided by the key's time, so it also holds under a
 * location prefix; root-level (legacy) keys all predate the cutoff.
 */
export function expectedSyntax(snapshotTime: string): LiteralSyntax {
  return Date.parse(snapshotTime) <= REPR_CUTOFF_TIME ? 'python' : 'json'
}

/**
 * Converts one bustimes object straight to JSON lines: each vehicle's fields as they come, then `snapshot_time`
 * (from the key) as the last property — the records the reference converter writes, without building objects.
 * Reads the body by the cutoff rule and, when the bytes disagree (a JSON body before the cutoff, a repr after
 * it), by content. Accepts a bare list of vehicles or a full API response `{"resultSet": {"vehicle": [...]}}`,
 * in either syntax, gzip/zstd-compressed or not.
 *
 * This is the fast path for `convert`: feed `lines` to the compressor as is.
 * @throws DecodeError for an empty, truncated, undecodable or wrongly shaped body, or a key that is not a bustimes key.
 */
export function toJsonLines(body: Uint8Array, key: string): VehicleLines {
  const result = transcodeVehicles(body, key, NEWLINE)
  return {lines: result.json, records: result.records, syntax: result.syntax}
}

/**
 * Decodes one bustimes object into records (vehicle + `snapshot_time`). Integers beyond ±2^53 stay exact as
 * `JSON.rawJSON` values; see {@link parsePythonLiteral}.
 */
export function decodeVehicles(body: Uint8Array, key: string): SourceRecord[] {
  const result = transcodeVehicles(body, key, COMMA)
  return parseTranscoded(result.json.toString('utf8'), result.bigIntegers) as SourceRecord[]
}

interface Transcoded {
  json: Buffer
  records: number
  bigIntegers: boolean
  syntax: LiteralSyntax
}

function transcodeVehicles(body: Uint8Array, key: string, separator: number): Transcoded {
  const snapshotTime = snapshotTimeOf(key)
  if (snapshotTime === undefined) throw new DecodeError(`"${key}" is not a bustimes key (bustimes__YYYY-MM-DD__HH-MM-SS.json)`)
  const bytes = decompressed(body)
  if (isBlank(bytes)) throw new DecodeError(bytes.length === 0 ? 'empty object (0 bytes)' : 'empty object (only whitespace)', {offset: 0})
  const preferred = expectedSyntax(snapshotTime)
  const suffix = Buffer.from(`"snapshot_time":"${snapshotTime}"}`)
  try {
    return transcode(bytes, preferred, suffix, separator)
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error
    // The rule and the bytes may disagree: try the other grammar, and report whichever attempt got further.
    try {
      return transcode(bytes, preferred === 'python' ? 'json' : 'python', suffix, separator)
    } catch (other) {
      if (!(other instanceof DecodeError)) throw other
      const further = (other.where.offset ?? 0) > (error.where.offset ?? 0) ? other : error
      throw further
    }
  }
}

function decompressed(body: Uint8Array): Uint8Array {
  const kind = sniffCompression(body.subarray(0, 4))
  try {
    if (kind === 'gzip') return zlib.gunzipSync(body)
    if (kind === 'zstd') return zlib.zstdDecompressSync(body)
  } catch (error) {
    throw new DecodeError(`corrupt ${kind} body: ${(error as Error).message}`)
  }
  return body
}

function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false
  }
  return true
}

function transcode(bytes: Uint8Array, syntax: LiteralSyntax, suffix: Buffer, separator: number): Transcoded {
  // Each vehicle grows by the snapshot_time suffix; allow for ~1 vehicle per 250 bytes.
  const t = new LiteralTranscoder(bytes, syntax, bytes.length + Math.ceil(bytes.length / 250) * suffix.length + 64)
  t.checkUtf8()
  let records = -1
  const c = t.skipWs()
  if (separator === COMMA) t.byte(0x5b)
  if (c === 0x5b) records = vehicleList(t, suffix, separator)
  else if (c === 0x7b) records = envelope(t, suffix, separator)
  else throw t.unexpected('a list of vehicles or an API response {"resultSet": …}')
  t.expectEnd()
  if (records < 0) throw new DecodeError('wrong shape: an API response without resultSet.vehicle (expected {"resultSet": {"vehicle": [...]}})')
  if (separator === COMMA) t.byte(0x5d)
  return {json: t.out.subarray(0, t.o), records, bigIntegers: t.bigIntegers, syntax}
}

/** The vehicle list at `[`: each vehicle dict written with `snapshot_time` appended, then `separator`. */
function vehicleList(t: LiteralTranscoder, suffix: Buffer, separator: number): number {
  t.pos++
  let records = 0
  let c = t.skipWs()
  while (c !== 0x5d) {
    if (c !== 0x7b) throw c === -1 ? t.unexpected('a vehicle') : t.error(`wrong shape: vehicle ${records + 1} is not a dict`)
    if (separator === COMMA && records > 0) t.byte(COMMA)
    const pairs = t.dict(SNAPSHOT_KEY)
    t.o-- // the "}": snapshot_time goes last
    if (pairs > 0) t.byte(COMMA)
    t.ensure(suffix.length + 1)
    // TypedArray#set: cheaper than Buffer#copy's argument handling, once per vehicle.
    const out = t.out
    let o = t.o
    out.set(suffix, o)
    o += suffix.length
    if (separator === NEWLINE) out[o++] = NEWLINE
    t.o = o
    records++
    c = t.skipWs()
    if (c === COMMA) {
      t.pos++
      c = t.skipWs()
      if (c === 0x5d && t.syntax === 'json') throw t.unexpected('a vehicle after ","')
    } else if (c !== 0x5d) {
      throw t.unexpected('"," or "]"')
    }
  }
  t.pos++
  return records
}

/** `{"resultSet": {"queryTime": …, "vehicle": [...]}}`: only the vehicles are written; -1 when there are none. */
function envelope(t: LiteralTranscoder, suffix: Buffer, separator: number): number {
  let records = -1
  walkDict(t, (key) => {
    if (key !== 'resultSet' || t.skipWs() !== 0x7b) return false
    walkDict(t, (inner) => {
      if (inner !== 'vehicle' || t.skipWs() !== 0x5b) return false
      records = vehicleList(t, suffix, separator)
      return true
    })
    return true
  })
  return records
}

/**
 * Steps through a dict at `{`, handing each key to `onKey`, which consumes the value and returns true, or returns
 * false to have the value read and discarded.
 */
function walkDict(t: LiteralTranscoder, onKey: (key: string) => boolean): void {
  t.pos++
  let c = t.skipWs()
  while (c !== 0x7d) {
    const mark = t.o
    if (!t.atString(c)) throw t.keyError(c)
    t.string()
    const key = t.out.toString('utf8', mark + 1, t.o - 1)
    t.o = mark
    t.expect(0x3a, '":" after a key')
    if (!onKey(key)) {
      t.value()
      t.o = mark
    }
    c = t.skipWs()
    if (c === COMMA) {
      t.pos++
      c = t.skipWs()
      if (c === 0x7d && t.syntax === 'json') throw t.unexpected('a key after ","')
    } else if (c !== 0x7d) {
      throw t.unexpected('"," or "}"')
    }
  }
  t.pos++
}
