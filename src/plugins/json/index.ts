import type {Readable} from 'node:stream'

import {type DataSource, DecodeError, maybeDecompress, type RawLayout, type RawObjectRef, readAll, readLines, type SourceRecord, type TimeRange} from '../core/source-kit.js'
import {dayPrefixes, DEFAULT_KEY_TIME, type JsonSourceOptions, OPTION_DESCRIPTIONS, parseOptions, parseTimeValue, timeInKey, valueAt} from './options.js'

export {DEFAULT_KEY_TIME, type JsonSourceOptions, parseTimeValue, timeInKey} from './options.js'

type Kind = 'json' | 'ndjson'

const DESCRIPTIONS: Record<Kind, string> = {
  json: 'Plain JSON objects: each object a JSON array of records or a single record (gzip/zstd read transparently)',
  ndjson: 'Newline-delimited JSON: one record per line (gzip/zstd read transparently)',
}

/** An integer of 16+ digits outside a string would lose digits in JSON.parse; only then is the slower exact path taken. */
const LONG_INTEGER = /[-\s:[,]\d{16,}/

/** `JSON.parse`, keeping integers beyond ±2^53 exact (as `JSON.rawJSON`) and reporting errors as DecodeErrors. */
function parseJson(text: string, where: {line?: number} = {}): unknown {
  try {
    if (!LONG_INTEGER.test(text)) return JSON.parse(text)
    return JSON.parse(text, function (_key: string, value: unknown, context?: {source?: string}) {
      if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) {
        return (JSON as unknown as {rawJSON(text: string): unknown}).rawJSON(context.source)
      }
      return value
    } as (key: string, value: unknown) => unknown)
  } catch (error) {
    // V8 names the position for most errors, the end for truncation, and only a short snippet otherwise.
    const message = (error as Error).message
    const position = /position (\d+)/.exec(message)
    const offset = position ? Number(position[1]) : /end of JSON input/.test(message) ? text.length : undefined
    const prefix = where.line === undefined ? '' : `line ${where.line}: `
    throw new DecodeError(`${prefix}invalid JSON${offset === undefined ? '' : ` at offset ${offset}`}: ${message}`, {...where, offset})
  }
}

function isRecord(value: unknown): value is SourceRecord {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Builds the json or ndjson source with `--source-option` settings applied. Without options, the time of an
 * object is the first ISO-like date in its key, and records carry no time field of their own.
 */
export function makeJsonSource(kind: Kind, raw: Record<string, string> = {}): DataSource {
  const options: JsonSourceOptions = parseOptions(raw)
  const keyPattern = options.keyTime ?? DEFAULT_KEY_TIME
  const timePath = options.timeField?.split('.')

  const layout: RawLayout = {
    pattern: options.dayPrefix ? `${options.dayPrefix}… (time from the key)` : `${options.prefix ?? ''}… any key; time from ${options.keyTime ? `/${options.keyTime.source}/` : 'the first ISO-like date'} in the key`,
    timeFromKey: (key: string) => timeInKey(key, keyPattern),
    prefixesFor: (range: TimeRange) => (options.dayPrefix ? dayPrefixes(options.dayPrefix, range) : [options.prefix ?? '']),
    allPrefixes: () => [options.prefix ?? ''],
  }

  /** Adds the key's time under keyTimeField (last, like bustimes's snapshot_time). */
  const derive = (record: SourceRecord, object: RawObjectRef): SourceRecord => {
    if (!options.keyTimeField) return record
    const time = object.time ?? timeInKey(object.key, keyPattern)
    if (!time) throw new DecodeError(`no time in key "${object.key}" for ${options.keyTimeField} (set --source-option keyTime=<regex>)`)
    delete record[options.keyTimeField]
    record[options.keyTimeField] = time.toISOString().replace('.000Z', 'Z')
    return record
  }

  async function* decodeJson(body: Readable, object: RawObjectRef): AsyncIterable<SourceRecord> {
    const bytes = await readAll(await maybeDecompress(body))
    const text = bytes.toString('utf8')
    if (text.trim() === '') throw new DecodeError(bytes.length === 0 ? 'empty object (0 bytes)' : 'empty object (only whitespace)', {offset: 0})
    const value = parseJson(text)
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!isRecord(value[i])) throw new DecodeError(`wrong shape: array element ${i + 1} is not an object`, {field: `[${i}]`})
        yield derive(value[i], object)
      }
    } else if (isRecord(value)) {
      yield derive(value, object)
    } else {
      throw new DecodeError('wrong shape: expected a JSON object or an array of objects', {offset: 0})
    }
  }

  async function* decodeNdjson(body: Readable, object: RawObjectRef): AsyncIterable<SourceRecord> {
    for await (const {number, text} of readLines(await maybeDecompress(body))) {
      if (text.trim() === '') continue
      const value = parseJson(text, {line: number})
      if (!isRecord(value)) throw new DecodeError(`line ${number}: wrong shape: expected a JSON object`, {line: number})
      yield derive(value, object)
    }
  }

  const source: DataSource = {
    name: kind,
    description: DESCRIPTIONS[kind],
    layout,
    timeField: options.keyTimeField ?? options.timeField ?? '',
    decode: kind === 'json' ? decodeJson : decodeNdjson,
    recordTime(record: SourceRecord): Date | undefined {
      if (timePath) return parseTimeValue(valueAt(record, timePath))
      if (options.keyTimeField) return parseTimeValue(record[options.keyTimeField])
      return undefined
    },
    configure: (more: Record<string, string>) => makeJsonSource(kind, {...raw, ...more}),
    options: OPTION_DESCRIPTIONS,
  }
  return source
}

/** Plain JSON objects: an array of records or one record per object. */
export const jsonSource: DataSource = makeJsonSource('json')
/** Newline-delimited JSON: one record per line. */
export const ndjsonSource: DataSource = makeJsonSource('ndjson')
