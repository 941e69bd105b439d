import type {RawLayout, TimeRange} from '../core/source-kit.js'

/**
 * Key layout of the `bustimes-data` bucket: `raw/bustimes__YYYY-MM-DD__HH-MM-SS.json`, plus legacy objects at the
 * root (`bustimes__…json`); the timestamp is the snapshot time in UTC.
 */
const KEY = /^(?:raw\/)?bustimes__(\d{4})-(\d{2})-(\d{2})__(\d{2})-(\d{2})-(\d{2})\.json$/

/** The last object written as a Python-2 repr; later ones are JSON (the bucket's documented format change). */
export const REPR_CUTOFF_KEY = 'raw/bustimes__2021-11-10__07-15-05.json'
/** {@link REPR_CUTOFF_KEY}'s time. */
export const REPR_CUTOFF_TIME = Date.UTC(2021, 10, 10, 7, 15, 5)

/** Root-level prefix, then the `raw/` one: the order in which their keys sort. */
const LOCATIONS = ['bustimes__', 'raw/bustimes__'] as const

const DAY_MS = 86_400_000

/** The snapshot time in a bustimes key in ms since the epoch with its fields, or undefined (see snapshotTimeOf). */
function snapshotOf(key: string): {time: number; fields: string[]} | undefined {
  const match = KEY.exec(key)
  if (!match) return undefined
  const [, y, mo, d, h, mi, s] = match
  const time = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s)
  const date = new Date(time)
  if (date.getUTCMonth() !== +mo - 1 || date.getUTCDate() !== +d || +h > 23 || +mi > 59 || +s > 59) return undefined
  return {time, fields: [y, mo, d, h, mi, s]}
}

/**
 * The snapshot time in a bustimes key as ISO 8601 UTC, written as the original converter wrote it — Python's
 * `datetime.isoformat()` of an aware UTC time, `2021-11-10T07:15:05+00:00` — so weeks made by either are byte for byte
 * alike; undefined for other keys or impossible dates (`2021-02-30`).
 */
export function snapshotTimeOf(key: string): string | undefined {
  const snapshot = snapshotOf(key)
  if (!snapshot) return undefined
  const [y, mo, d, h, mi, s] = snapshot.fields
  return `${y}-${mo}-${d}T${h}:${mi}:${s}+00:00`
}

/** `YYYY-MM-DD` of a UTC time. */
function dayOf(time: number): string {
  return new Date(time).toISOString().slice(0, 10)
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** The bustimes {@link RawLayout}. */
export const bustimesLayout: RawLayout = {
  pattern: 'raw/bustimes__YYYY-MM-DD__HH-MM-SS.json (and legacy bustimes__YYYY-MM-DD__HH-MM-SS.json at the root), UTC',

  timeFromKey(key: string): Date | undefined {
    // Straight from the key's fields: listing calls this for every key, an ISO string parsed back would double it.
    const snapshot = snapshotOf(key)
    return snapshot === undefined ? undefined : new Date(snapshot.time)
  },

  prefixesFor(range: TimeRange): string[] {
    const from = range.from.getTime()
    const to = range.to.getTime()
    if (!(to > from)) return []
    const days: string[] = []
    for (let day = Math.floor(from / DAY_MS) * DAY_MS; day < to; day += DAY_MS) days.push(dayOf(day))
    return LOCATIONS.flatMap((location) => days.map((day) => `${location}${day}`))
  },

  allPrefixes(): string[] {
    return [...LOCATIONS]
  },

  keyFor(time: Date): string {
    const t = time
    const stamp = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}__${pad(t.getUTCHours())}-${pad(t.getUTCMinutes())}-${pad(t.getUTCSeconds())}`
    return `raw/bustimes__${stamp}.json`
  },
}
