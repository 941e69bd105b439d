import type {RawLayout, TimeRange} from '../sources/types.js'

/** The stages of a segment's life: written by ingest (active), complete (ready), claimed by an etl run (processing). */
export type SegmentStage = 'active' | 'ready' | 'processing' | 'quarantine'

const SEGMENT_NAME = /^segment_(\d{4})(\d{2})(\d{2})T(\d{2})_(\d+)\.ndjson(\.gz|\.zst)?$/

/** How ingest compresses the segments it makes ready (`--compress`); etl reads all three. */
export type SegmentCompression = 'none' | 'gzip' | 'zstd'

/** The file-name suffix of a segment compressed this way. */
export const SEGMENT_SUFFIX: Record<SegmentCompression, string> = {none: '.ndjson', gzip: '.ndjson.gz', zstd: '.ndjson.zst'}

/**
 * A segment's file name: `segment_<YYYYMMDDTHH>_<n>.ndjson` (UTC hour it was opened, then a counter), `.ndjson.gz`
 * or `.ndjson.zst` when compressed.
 */
export function segmentName(hour: Date, n: number, compression: SegmentCompression = 'none'): string {
  return `segment_${segmentHour(hour)}_${n}${SEGMENT_SUFFIX[compression]}`
}

/** A segment's name without `.ndjson` and its compression suffix: what outputs and quarantine files are named after. */
export function segmentBaseName(name: string): string {
  return name.replace(/\.ndjson(\.gz|\.zst)?$/, '')
}

/** `YYYYMMDDTHH` of a time (UTC). */
export function segmentHour(time: Date): string {
  const iso = time.toISOString()
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}`
}

/** The hour and counter of a segment name (or key), or `undefined` when it is not a segment. */
export function parseSegmentName(nameOrKey: string): {hour: Date; n: number; name: string; compression: SegmentCompression} | undefined {
  const name = nameOrKey.slice(nameOrKey.lastIndexOf('/') + 1)
  const match = SEGMENT_NAME.exec(name)
  if (!match) return undefined
  const [, y, mo, d, h, n, suffix] = match
  const compression: SegmentCompression = suffix === '.gz' ? 'gzip' : suffix === '.zst' ? 'zstd' : 'none'
  return {hour: new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h))), n: Number(n), name, compression}
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
 * `raw/ready/<source>/segment_<YYYYMMDDTHH>_<n>.ndjson` (`.gz`, `.zst` when compressed), one listing prefix per hour of a range.
 */
export function segmentLayout(source: string): RawLayout {
  return {
    pattern: `raw/{active,ready,processing}/${source}/segment_<YYYYMMDDTHH>_<n>.ndjson[.gz|.zst]`,
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
