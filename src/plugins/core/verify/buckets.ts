import {bucketKey, bucketStart, nextBucketStart} from '../convert/buckets.js'

/** The time granularity of a dataset's outputs. */
export type BucketKind = 'week' | 'day' | 'hour' | 'month'

/** One time bucket: its label as it appears in output keys (`2024-W03`, `2024-01-15`, …) and its UTC span. */
export interface BucketSpan {
  kind: BucketKind
  label: string
  /** Inclusive start. */
  start: Date
  /** Exclusive end. */
  end: Date
}

const DAY = 86_400_000

/** Monday 00:00 UTC of ISO week 1 of an ISO week-year. */
function isoWeekOneMonday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4)
  const weekday = (new Date(jan4).getUTCDay() + 6) % 7
  return jan4 - weekday * DAY
}

/** The bucket of a kind that holds a time, labelled exactly as convert names it (`2024-W03`, `2024-01-15T07`). */
export function bucketOf(kind: BucketKind, time: Date): BucketSpan {
  const start = bucketStart(kind, time)
  return {kind, label: bucketKey(kind, start), start, end: nextBucketStart(kind, start)}
}

/** The bucket right after one. */
export function nextBucket(span: BucketSpan): BucketSpan {
  return bucketOf(span.kind, span.end)
}

// Most specific first: an hour label also contains a day label.
const PATTERNS: {kind: BucketKind; pattern: RegExp; time: (m: RegExpMatchArray) => Date}[] = [
  {kind: 'week', pattern: /(\d{4})-W(\d{2})(?!\d)/, time: (m) => new Date(isoWeekOneMonday(Number(m[1])) + (Number(m[2]) - 1) * 7 * DAY)},
  {kind: 'hour', pattern: /(\d{4})-(\d{2})-(\d{2})(?:T|_{1,2}|-|\/| )(\d{2})(?![\d-])/, time: (m) => new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])))},
  {kind: 'day', pattern: /(\d{4})-(\d{2})-(\d{2})(?!\d)/, time: (m) => new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))},
  {kind: 'month', pattern: /(\d{4})-(\d{2})(?![\d-])/, time: (m) => new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1))},
]

/**
 * The bucket an output key names (`v2/2024-W03.jsonl.gz` → ISO week 2024-W03), or `undefined`. Looks at the file
 * name first, then at the whole key (for templates like `2024/2024-01-15/part.jsonl.gz`). `match` is the text found,
 * so a neighbour's key can be rewritten into a missing bucket's expected key.
 */
export function parseBucketKey(key: string): (BucketSpan & {match: string}) | undefined {
  const base = key.slice(key.lastIndexOf('/') + 1)
  for (const text of [base, key]) {
    for (const {kind, pattern, time} of PATTERNS) {
      const found = text.match(pattern)
      if (!found) continue
      const start = time(found)
      if (Number.isNaN(start.getTime())) continue
      const span = bucketOf(kind, start)
      // Reject impossible dates (2024-13-40) that Date.UTC silently rolls over.
      if (kind !== 'week' && !found[0].startsWith(span.label.slice(0, 7))) continue
      return {...span, match: found[0]}
    }
  }
  return undefined
}

/** The bucket kind whose span a `[from, to)` pair has (from a manifest), or `undefined`. */
export function kindOfSpan(from: Date, to: Date): BucketKind | undefined {
  const hours = (to.getTime() - from.getTime()) / 3_600_000
  if (hours === 1) return 'hour'
  if (hours === 24) return 'day'
  if (hours === 168) return 'week'
  if (hours >= 24 * 28 && hours <= 24 * 31) return 'month'
  return undefined
}
