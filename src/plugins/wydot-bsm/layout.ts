import type {RawLayout, TimeRange} from '../core/source-kit.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

const two = (n: number) => String(n).padStart(2, '0')

/** `YYYY/MM/DD/` of a UTC time. */
function dayPath(time: Date): string {
  return `${time.getUTCFullYear()}/${two(time.getUTCMonth() + 1)}/${two(time.getUTCDate())}/`
}

/**
 * The ITS sandbox layout `wydot/BSM/YYYY/MM/DD/HH/<file>`, bucketed by the UTC hour of `recordGeneratedAt`.
 * `prefix` is the part before the date (`wydot/BSM/` at the bucket root; empty for a location already there).
 */
export function bsmLayout(prefix = 'wydot/BSM/'): RawLayout {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const keyPattern = new RegExp(`^${escaped}(\\d{4})/(\\d{2})/(\\d{2})/(\\d{2})/[^/]+$`)
  return {
    pattern: `${prefix}YYYY/MM/DD/HH/wydot-filtered-bsm-<epoch ms>.json`,
    timeFromKey(key: string): Date | undefined {
      const match = keyPattern.exec(key)
      if (!match) return undefined
      const [, year, month, day, hour] = match.map(Number)
      if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) return undefined
      return new Date(Date.UTC(year, month - 1, day, hour))
    },
    // Whole days inside the range are listed as one day prefix; the partial days at either end hour by hour, so a
    // short range lists only its own hours.
    prefixesFor(range: TimeRange): string[] {
      const prefixes: string[] = []
      let cursor = Math.floor(range.from.getTime() / HOUR_MS) * HOUR_MS
      const end = range.to.getTime()
      while (cursor < end) {
        const time = new Date(cursor)
        if (cursor % DAY_MS === 0 && cursor + DAY_MS <= end) {
          prefixes.push(prefix + dayPath(time))
          cursor += DAY_MS
        } else {
          prefixes.push(`${prefix}${dayPath(time)}${two(time.getUTCHours())}/`)
          cursor += HOUR_MS
        }
      }
      return prefixes
    },
    allPrefixes: () => [prefix],
    keyFor(time: Date, sequence = 0): string {
      const name = `wydot-filtered-bsm-${time.getTime()}${sequence > 0 ? `-${sequence}` : ''}.json`
      return `${prefix}${dayPath(time)}${two(time.getUTCHours())}/${name}`
    },
  }
}
