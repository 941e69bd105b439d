import type {TimeRange} from '../core/source-kit.js'

/** The `--source-option` settings of the json and ndjson sources. */
export interface JsonSourceOptions {
  /** Dotted path of each record's time (`ts`, `metadata.recordGeneratedAt`). */
  timeField?: string
  /** How to read an object's time from its key: a regex with named groups Y, M, D and optional h, m, s. */
  keyTime?: RegExp
  /** Adds the key's time to every record under this name (ISO 8601 UTC), as bustimes adds `snapshot_time`. */
  keyTimeField?: string
  /** Lists only under this prefix (default: the whole location). */
  prefix?: string
  /** Lists one prefix per day: a template with {YYYY}, {MM}, {DD}, e.g. `raw/{YYYY}/{MM}/{DD}/`. */
  dayPrefix?: string
}

/** The options, with the description `bucketwright sources` shows. */
export const OPTION_DESCRIPTIONS: Record<string, string> = {
  timeField: "dotted path of each record's time (ISO 8601 string, or epoch seconds/ms/µs/ns by magnitude), e.g. ts or metadata.recordGeneratedAt",
  keyTime: "regex with named groups Y, M, D (and optional h, m, s) that reads an object's time from its key; default: the first ISO-like date in the key (2021-11-10, 2021/11/10/07, 20211110T071505)",
  keyTimeField: "add the key's time to every record under this field name (ISO 8601 UTC)",
  prefix: 'list only keys under this prefix',
  dayPrefix: 'list one prefix per day of the time range: a template with {YYYY}, {MM}, {DD}, e.g. raw/{YYYY}/{MM}/{DD}/',
}

/**
 * The default key-time finder: a date (`YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY_MM_DD` or `YYYYMMDD`) optionally followed by
 * a time (`T07:15:05`, `__07-15-05`, `/07`, `T071505`).
 */
export const DEFAULT_KEY_TIME = /(?<!\d)(?<Y>(?:19|20)\d{2})([-/_]?)(?<M>[01]\d)\2(?<D>[0-3]\d)(?:(?:T|_{1,2}|\/|\s|-)(?<h>[0-2]\d)(?:([-:_]?)(?<m>[0-5]\d)(?:\6(?<s>[0-5]\d))?)?)?(?!\d)/

/** Parses `--source-option` key=value pairs; throws an Error naming a bad option or value. */
export function parseOptions(raw: Record<string, string>): JsonSourceOptions {
  const options: JsonSourceOptions = {}
  for (const [name, value] of Object.entries(raw)) {
    switch (name) {
      case 'timeField':
      case 'keyTimeField':
      case 'prefix':
        if (!value) throw new Error(`source option ${name} needs a value`)
        options[name] = value
        break
      case 'dayPrefix':
        if (!/\{YYYY\}/.test(value) || !/\{MM\}/.test(value) || !/\{DD\}/.test(value)) throw new Error(`source option dayPrefix must contain {YYYY}, {MM} and {DD} (got "${value}")`)
        options.dayPrefix = value
        break
      case 'keyTime': {
        let pattern: RegExp
        try {
          pattern = new RegExp(value)
        } catch (error) {
          throw new Error(`source option keyTime is not a valid regular expression: ${(error as Error).message}`)
        }
        for (const group of ['Y', 'M', 'D']) {
          if (!value.includes(`(?<${group}>`)) throw new Error(`source option keyTime needs the named groups Y, M and D (and optionally h, m, s); "${value}" lacks (?<${group}>…)`)
        }
        options.keyTime = pattern
        break
      }
      default:
        throw new Error(`unknown source option "${name}"; the json and ndjson sources take: ${Object.keys(OPTION_DESCRIPTIONS).join(', ')}`)
    }
  }
  return options
}

/** The time in a key, by `pattern`'s named groups (UTC), or undefined when the key has no valid date. */
export function timeInKey(key: string, pattern: RegExp): Date | undefined {
  const groups = pattern.exec(key)?.groups
  if (!groups?.Y || !groups.M || !groups.D) return undefined
  const [y, mo, d, h, mi, s] = [groups.Y, groups.M, groups.D, groups.h ?? '0', groups.m ?? '0', groups.s ?? '0'].map(Number)
  const time = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  if (time.getUTCFullYear() !== y || time.getUTCMonth() !== mo - 1 || time.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined
  return time
}

/** The value at a dotted path (`a.b.c`) of a record. */
export function valueAt(record: Record<string, unknown>, path: string[]): unknown {
  let current: unknown = record
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

/**
 * A record time from a field value: ISO 8601 strings (a `[UTC]` zone suffix is ignored), or epoch numbers (or
 * digit strings) in seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.
 */
export function parseTimeValue(value: unknown): Date | undefined {
  if (typeof value === 'number') return fromEpoch(value)
  if (typeof value !== 'string' || value === '') return undefined
  if (/^-?\d+(\.\d+)?$/.test(value)) return fromEpoch(Number(value))
  const time = new Date(value.replace(/\[[^\]]*\]$/, ''))
  return Number.isNaN(time.getTime()) ? undefined : time
}

function fromEpoch(value: number): Date | undefined {
  if (!Number.isFinite(value)) return undefined
  const magnitude = Math.abs(value)
  const ms = magnitude < 1e11 ? value * 1000 : magnitude < 1e14 ? value : magnitude < 1e17 ? value / 1000 : value / 1e6
  const time = new Date(ms)
  return Number.isNaN(time.getTime()) ? undefined : time
}

const DAY_MS = 86_400_000

/** One listing prefix per UTC day of the range, from a `{YYYY}/{MM}/{DD}` template, in key order. */
export function dayPrefixes(template: string, range: TimeRange): string[] {
  const from = range.from.getTime()
  const to = range.to.getTime()
  const prefixes: string[] = []
  for (let day = Math.floor(from / DAY_MS) * DAY_MS; day < to; day += DAY_MS) {
    const iso = new Date(day).toISOString()
    prefixes.push(template.replaceAll('{YYYY}', iso.slice(0, 4)).replaceAll('{MM}', iso.slice(5, 7)).replaceAll('{DD}', iso.slice(8, 10)))
  }
  return [...new Set(prefixes)].sort()
}
