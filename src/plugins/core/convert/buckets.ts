import {UsageError} from '../errors/errors.js'
import {parseUtcTime} from '../sources/time-range.js'

/** The time span of one output file. */
export type BucketSize = 'hour' | 'day' | 'week' | 'month'
/** Output file format. */
export type OutputFormat = 'jsonl' | 'parquet'
/** Output compression (for Parquet: the column codec). */
export type OutputCompression = 'gzip' | 'zstd' | 'none'

/** One time bucket: `[from, to)` in UTC and its canonical key (`2021-W45`, `2021-11-09`, `2021-11-09T13`, `2021-11`). */
export interface TimeBucket {
  key: string
  from: Date
  to: Date
  /** The bucket's output key, from the key template. */
  outputKey: string
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const pad = (value: number, width = 2) => String(value).padStart(width, '0')

/** ISO 8601 week-year and week number of a UTC time. */
export function isoWeek(time: Date): {year: number; week: number} {
  const day = (time.getUTCDay() + 6) % 7
  const thursday = Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate() - day + 3)
  const year = new Date(thursday).getUTCFullYear()
  return {year, week: 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY))}
}

/** Start of the bucket holding `time`. */
export function bucketStart(size: BucketSize, time: Date): Date {
  const y = time.getUTCFullYear()
  const m = time.getUTCMonth()
  const d = time.getUTCDate()
  switch (size) {
    case 'hour':
      return new Date(Date.UTC(y, m, d, time.getUTCHours()))
    case 'day':
      return new Date(Date.UTC(y, m, d))
    case 'week':
      return new Date(Date.UTC(y, m, d - ((time.getUTCDay() + 6) % 7)))
    case 'month':
      return new Date(Date.UTC(y, m, 1))
  }
}

/** Start of the next bucket after the one starting at `start`. */
export function nextBucketStart(size: BucketSize, start: Date): Date {
  switch (size) {
    case 'hour':
      return new Date(start.getTime() + HOUR)
    case 'day':
      return new Date(start.getTime() + DAY)
    case 'week':
      return new Date(start.getTime() + 7 * DAY)
    case 'month':
      return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
  }
}

/** Template tokens of a bucket start: `{YYYY}` is the ISO week-year for weeks, the calendar year otherwise. */
function tokens(size: BucketSize, start: Date): Record<string, string> {
  const week = isoWeek(start)
  return {
    YYYY: String(size === 'week' ? week.year : start.getUTCFullYear()),
    WW: pad(week.week),
    MM: pad(start.getUTCMonth() + 1),
    DD: pad(start.getUTCDate()),
    HH: pad(start.getUTCHours()),
  }
}

const CANONICAL: Record<BucketSize, string> = {hour: '{YYYY}-{MM}-{DD}T{HH}', day: '{YYYY}-{MM}-{DD}', week: '{YYYY}-W{WW}', month: '{YYYY}-{MM}'}
/** Tokens a template needs so that no two buckets of a size share an output key. */
const REQUIRED: Record<BucketSize, string[]> = {hour: ['YYYY', 'MM', 'DD', 'HH'], day: ['YYYY', 'MM', 'DD'], week: ['YYYY', 'WW'], month: ['YYYY', 'MM']}

/** The file extension of an output: `.jsonl.gz`, `.jsonl.zst`, `.jsonl` or `.parquet`. */
export function outputExtension(format: OutputFormat, compression: OutputCompression): string {
  if (format === 'parquet') return '.parquet'
  return compression === 'gzip' ? '.jsonl.gz' : compression === 'zstd' ? '.jsonl.zst' : '.jsonl'
}

/** The default key template: `{YYYY}-W{WW}.jsonl.gz` for weeks, `{YYYY}-{MM}-{DD}.parquet` for days in Parquet, … */
export function defaultKeyTemplate(size: BucketSize, format: OutputFormat, compression: OutputCompression): string {
  return CANONICAL[size] + outputExtension(format, compression)
}

/** Renders a key template for the bucket starting at `start`. */
export function renderKeyTemplate(template: string, size: BucketSize, start: Date): string {
  const values = tokens(size, start)
  return template.replace(/\{(YYYY|WW|MM|DD|HH)\}/g, (_match, token: string) => values[token])
}

/** The canonical key of a bucket (`2021-W45`), used in results and for shard assignment. */
export function bucketKey(size: BucketSize, start: Date): string {
  return renderKeyTemplate(CANONICAL[size], size, start)
}

/** Rejects a template that would put two buckets into one file, or that names no file. */
export function checkKeyTemplate(template: string, size: BucketSize): void {
  const missing = REQUIRED[size].filter((token) => !template.includes(`{${token}}`))
  if (missing.length > 0) {
    throw new UsageError(`--key-template "${template}" lacks ${missing.map((token) => `{${token}}`).join(', ')}: several ${size}s would share one output.`, {
      code: 'BAD_KEY_TEMPLATE',
      nextSteps: [`Use e.g. --key-template "${CANONICAL[size]}.jsonl.gz" (tokens: {YYYY} {WW} {MM} {DD} {HH}).`],
    })
  }
  if (template.endsWith('/') || template.startsWith('/') || template.includes('..')) {
    throw new UsageError(`--key-template "${template}" is not a file key under the output location.`, {code: 'BAD_KEY_TEMPLATE', nextSteps: ['Write it relative to the output, e.g. "{YYYY}/{YYYY}-W{WW}.jsonl.gz".']})
  }
}

/** Every bucket overlapping `[from, to)`, in time order. */
export function* bucketsBetween(size: BucketSize, from: Date, to: Date, template: string): Iterable<TimeBucket> {
  for (let start = bucketStart(size, from); start < to; start = nextBucketStart(size, start)) {
    yield {key: bucketKey(size, start), from: start, to: nextBucketStart(size, start), outputKey: renderKeyTemplate(template, size, start)}
  }
}

/**
 * The buckets of a list as the original bustimes converter took them (`--weeks 2021-W45,2021-W47`): each item is a
 * bucket of `size` written as its key in the outputs and `--json` (`2021-W45`, `2021-11-09`, `2021-11-09T13`,
 * `2021-11`), read by the one time parser; in time order, each once. An item that is not a bucket of that size
 * (`2021-11-09` for weeks, `2021-W54`, an empty item) is a usage error naming it.
 */
export function parseBucketList(list: string, size: BucketSize, flag: string): {key: string; from: Date; to: Date}[] {
  const buckets = new Map<string, {key: string; from: Date; to: Date}>()
  for (const [index, raw] of list.split(',').entries()) {
    const item = raw.trim()
    const example = bucketKey(size, new Date(Date.UTC(2021, 10, 9, 13)))
    const bad = (why: string): never => {
      throw new UsageError(`--${flag} item ${index + 1} "${raw}" ${why}.`, {
        code: 'BAD_BUCKET_LIST',
        nextSteps: [
          `Write each ${size} as in the output names, comma-separated: --${flag} ${example},${bucketKey(size, nextBucketStart(size, bucketStart(size, new Date(Date.UTC(2021, 10, 9, 13)))))} (the size is --bucket, ${size} now).`,
        ],
        details: {flag, item: raw, bucket: size},
      })
    }
    if (item === '') bad('is empty')
    let time: Date
    try {
      time = parseUtcTime(item, flag)
    } catch (error) {
      if (!(error instanceof UsageError)) throw error
      // The parser's reason (`2021 has ISO weeks 01 to 52`), with this flag's own next step.
      const why = /: (.*)\.$/.exec(error.message)?.[1]
      return bad(`is not a ${size} (${why ?? `a ${size} is written like ${example}`})`)
    }
    const start = bucketStart(size, time)
    const key = bucketKey(size, start)
    if (key !== item.toUpperCase()) bad(`is not a ${size} (a ${size} is written like ${example})`)
    buckets.set(key, {key, from: start, to: nextBucketStart(size, start)})
  }
  return [...buckets.values()].sort((a, b) => a.from.getTime() - b.from.getTime())
}
