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
const pad = (value: number, width = 2) => String(value).padStart(width, '0')

/** Monday 00:00 UTC of ISO week 1 of an ISO week-year. */
function isoWeekOneMonday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4)
  const weekday = (new Date(jan4).getUTCDay() + 6) % 7
  return jan4 - weekday * DAY
}

/** The ISO week-year and week number of a time. */
export function isoWeekOf(time: Date): {year: number; week: number} {
  const day = Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate())
  const thursday = day + (3 - ((new Date(day).getUTCDay() + 6) % 7)) * DAY
  const year = new Date(thursday).getUTCFullYear()
  return {year, week: Math.floor((thursday - isoWeekOneMonday(year)) / (7 * DAY)) + 1}
}

/** The bucket of a kind that holds a time. */
export function bucketOf(kind: BucketKind, time: Date): BucketSpan {
  switch (kind) {
    case 'week': {
      const {year, week} = isoWeekOf(time)
      const start = isoWeekOneMonday(year) + (week - 1) * 7 * DAY
      return {kind, label: `${year}-W${pad(week)}`, start: new Date(start), end: new Date(start + 7 * DAY)}
    }
    case 'day': {
      const start = Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate())
      return {kind, label: new Date(start).toISOString().slice(0, 10), start: new Date(start), end: new Date(start + DAY)}
    }
    case 'hour': {
      const start = Math.floor(time.getTime() / 3_600_000) * 3_600_000
      return {kind, label: new Date(start).toISOString().slice(0, 13), start: new Date(start), end: new Date(start + 3_600_000)}
    }
    case 'month': {
      const start = Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), 1)
      return {kind, label: new Date(start).toISOString().slice(0, 7), start: new Date(start), end: new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth() + 1, 1))}
    }
  }
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
