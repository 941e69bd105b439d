import type {RawLayout, TimeRange} from '../sources/types.js'

/** The stages of a segment's life: written by ingest (active), complete (ready), claimed by an etl run (processing). */
export type SegmentStage = 'active' | 'ready' | 'processing' | 'quarantine'

const SEGMENT_NAME = /^segment_(\d{4})(\d{2})(\d{2})T(\d{2})_(\d+)\.ndjson$/

/** A segment's file name: `segment_<YYYYMMDDTHH>_<n>.ndjson` (UTC hour it was opened, then a counter). */
export function segmentName(hour: Date, n: number): string {
  return `segment_${segmentHour(hour)}_${n}.ndjson`
}

/** `YYYYMMDDTHH` of a time (UTC). */
export function segmentHour(time: Date): string {
  const iso = time.toISOString()
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}`
}

/** The hour and counter of a segment name (or key), or `undefined` when it is not a segment. */
export function parseSegmentName(nameOrKey: string): {hour: Date; n: number; name: string} | undefined {
  const name = nameOrKey.slice(nameOrKey.lastIndexOf('/') + 1)
  const match = SEGMENT_NAME.exec(name)
  if (!match) return undefined
  const [, y, mo, d, h, n] = match
  return {hour: new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h))), n: Number(n), name}
}

/** The key of a segment in a stage: `raw/<stage>/<source>/<name>`. */
export function segmentKey(stage: SegmentStage, source: string, name: string): string {
  return `${segmentPrefix(stage, source)}${name}`
}

/** The prefix of a stage: `raw/<stage>/<source>/`. */
export function segmentPrefix(stage: SegmentStage, source: string): string {
  return `raw/${stage}/${source}/`
}

/**
 * The raw layout of a segment-based source (written by `ingest`, read by `etl`): complete segments under
 * `raw/ready/<source>/segment_<YYYYMMDDTHH>_<n>.ndjson`, one listing prefix per hour of a range.
 */
export function segmentLayout(source: string): RawLayout {
  return {
    pattern: `raw/{active,ready,processing}/${source}/segment_<YYYYMMDDTHH>_<n>.ndjson`,
    timeFromKey: (key) => parseSegmentName(key)?.hour,
    prefixesFor(range: TimeRange) {
      const prefixes: string[] = []
      const start = new Date(Math.floor(range.from.getTime() / 3_600_000) * 3_600_000)
      for (let t = start.getTime(); t < range.to.getTime(); t += 3_600_000) prefixes.push(`${segmentPrefix('ready', source)}segment_${segmentHour(new Date(t))}_`)
      return prefixes
    },
    allPrefixes: () => [segmentPrefix('ready', source)],
    keyFor: (time, sequence = 0) => segmentKey('ready', source, segmentName(time, sequence)),
  }
}
