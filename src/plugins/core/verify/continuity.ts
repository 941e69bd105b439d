import {type BucketKind, type BucketSpan, nextBucket} from './buckets.js'

/** A run of missing buckets between two present ones. */
export interface Gap {
  after: string
  before: string
  /** The first `limit` buckets of the gap. */
  missing: BucketSpan[]
  /** Buckets of the gap beyond those listed (a stray file dated decades off must not list millions of hours). */
  unlisted: number
}

/** Buckets absent between the first and the last present one (at most `limit` listed per gap, the rest counted). */
export function findGaps(present: BucketSpan[], limit = 1000): Gap[] {
  const gaps: Gap[] = []
  const sorted = [...present].sort((a, b) => a.start.getTime() - b.start.getTime())
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!
    const current = sorted[i]!
    const missing: BucketSpan[] = []
    let span = nextBucket(previous)
    for (; span.start < current.start && missing.length < limit; span = nextBucket(span)) missing.push(span)
    if (missing.length > 0) gaps.push({after: previous.label, before: current.label, missing, unlisted: bucketsFrom(span, current)})
  }
  return gaps
}

const HOURS: Record<Exclude<BucketKind, 'month'>, number> = {hour: 1, day: 24, week: 168}

/** Buckets from `span` (included) up to `end` (excluded), counted without stepping through them. */
function bucketsFrom(span: BucketSpan, end: BucketSpan): number {
  if (end.start <= span.start) return 0
  if (span.kind === 'month') return (end.start.getUTCFullYear() - span.start.getUTCFullYear()) * 12 + end.start.getUTCMonth() - span.start.getUTCMonth()
  return Math.round((end.start.getTime() - span.start.getTime()) / (HOURS[span.kind] * 3_600_000))
}

/** A bucket with far fewer records than its neighbours. */
export interface Drop {
  label: string
  records: number
  /** Median records of the neighbours compared with. */
  neighbourMedian: number
  ratio: number
}

/**
 * Buckets whose record count is below `threshold` × the median of up to `window` present neighbours on each side.
 * The first and last buckets are not judged: a dataset usually starts and ends in a partial bucket.
 */
export function findDrops(counts: {label: string; records: number}[], options: {threshold: number; window: number}): Drop[] {
  const drops: Drop[] = []
  for (let i = 1; i < counts.length - 1; i++) {
    const neighbours = [...counts.slice(Math.max(0, i - options.window), i), ...counts.slice(i + 1, i + 1 + options.window)].map((entry) => entry.records).sort((a, b) => a - b)
    if (neighbours.length === 0) continue
    const middle = Math.floor(neighbours.length / 2)
    const median = neighbours.length % 2 === 1 ? neighbours[middle]! : (neighbours[middle - 1]! + neighbours[middle]!) / 2
    const {label, records} = counts[i]!
    if (median > 0 && records < options.threshold * median) drops.push({label, records, neighbourMedian: median, ratio: records / median})
  }
  return drops
}
