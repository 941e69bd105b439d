import {UsageError} from '../errors/errors.js'

/** Units of {@link parseDuration}, in milliseconds. */
const DURATION_UNITS = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000} as const
/** A duration unit: ms, s, m (minutes), h, d, w. */
export type DurationUnit = keyof typeof DURATION_UNITS

/** Units of {@link parseSize}: KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB and the short k/m/g/t powers of 1024. */
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
}

function badValue(kind: 'duration' | 'size', text: string, flag: string | undefined, example: string): UsageError {
  const what = flag ? `--${flag} "${text}"` : `"${text}"`
  return new UsageError(`${what} is not a ${kind}.`, {
    code: kind === 'size' ? 'BAD_SIZE' : 'BAD_DURATION',
    nextSteps: [`Write it like ${example}${flag ? ` (--${flag})` : ''}.`],
  })
}

/**
 * Parses a duration such as `500ms`, `90s`, `10m`, `36h`, `7d` or `1w` into milliseconds; a bare number is in
 * `defaultUnit` (seconds unless given). A usage error naming the flag otherwise.
 */
export function parseDuration(text: string, options: {flag?: string; defaultUnit?: DurationUnit} = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/i.exec(text)
  if (!match) throw badValue('duration', text, options.flag, '90s, 10m, 36h or 7d')
  return Math.round(Number(match[1]) * DURATION_UNITS[(match[2] ?? options.defaultUnit ?? 's').toLowerCase() as DurationUnit])
}

/** Parses a size such as `100MB`, `64MiB`, `512m` or `1000` (bytes) into bytes. A usage error naming the flag otherwise. */
export function parseSize(text: string, options: {flag?: string} = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = SIZE_UNITS[(match?.[2] || 'b').toLowerCase()]
  if (!match || unit === undefined) throw badValue('size', text, options.flag, '128MB, 1GiB or 512m')
  return Math.round(Number(match[1]) * unit)
}

/**
 * Bytes as people read them, in the units {@link parseSize} reads the same way (powers of 1000): `512 B`, `1.5 MB`,
 * `128 MB`, `2.1 GB`. One decimal below 100 of a unit, none above.
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${Math.abs(value) >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}
