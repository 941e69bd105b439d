import {UsageError} from '../errors/errors.js'
import type {TimeRange} from './types.js'

const DAY = 86_400_000
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

/** `YYYY-MM`, `YYYY-MM-DD`, then `THH`, `:MM`, `:SS`, `.fff`, and a zone (`Z`, `+01:00`, `+0100`, `+01`). */
const DATE_TIME = /^(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i
/** An ISO week: `2021-W45`. */
const WEEK = /^(\d{4})-W(\d{2})$/i

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!
}

/** ISO weeks in a year: 53 when it starts on a Thursday, or is a leap year starting on a Wednesday; else 52. */
export function isoWeeksIn(year: number): number {
  const weekday = (y: number) => (y + Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400)) % 7
  return weekday(year) === 4 || weekday(year - 1) === 3 ? 53 : 52
}

/** Midnight UTC of a calendar day, for any four-digit year (Date.UTC reads years below 100 as 19xx). */
function utcDay(year: number, month: number, day: number): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return date.getTime()
}

/**
 * Parses a time as users write it, the one parser of every command that takes a time: `2021-11-08`,
 * `2021-11-08T06`, `2021-11-08T06:00`, `2021-11-08 06:00:00.5`, an ISO week `2021-W45` (its Monday), a month
 * `2021-11`, each UTC unless it ends in a zone (`Z`, `+01:00`). A date that does not exist (`2021-02-30`, hour 24,
 * `2021-W53` in a year of 52 weeks) is a usage error naming the flag and the value, never a date nearby.
 */
export function parseUtcTime(input: string, flag: string): Date {
  const text = input.trim()
  const fail = (why?: string): never => {
    throw new UsageError(`--${flag} "${input}" is not a ${why ? 'valid ' : ''}date or time${why ? `: ${why}` : ''}.`, {
      code: 'BAD_TIME',
      nextSteps: [`Write --${flag} as 2021-11-08, 2021-11-08T06:00 (UTC), 2021-11-08T06:00:00+01:00 or 2021-W45.`],
      details: {flag, value: input},
    })
  }
  const week = WEEK.exec(text)
  if (week) {
    const [year, number] = [Number(week[1]), Number(week[2])]
    if (number < 1 || number > isoWeeksIn(year)) fail(`${year} has ISO weeks 01 to ${isoWeeksIn(year)}`)
    const jan4 = utcDay(year, 1, 4)
    return new Date(jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY + (number - 1) * 7 * DAY)
  }
  const match = DATE_TIME.exec(text)
  if (!match) return fail()
  const [year, month, day, hour, minute, second] = [match[1], match[2], match[3] ?? '01', match[4] ?? '00', match[5] ?? '00', match[6] ?? '00'].map(Number) as [number, number, number, number, number, number]
  if (month < 1 || month > 12) fail(`month ${match[2]} does not exist`)
  if (day < 1 || day > daysInMonth(year, month)) fail(`${MONTHS[month - 1]} ${year} has days 01 to ${daysInMonth(year, month)}`)
  if (hour > 23) fail(`hour ${match[4]} is not an hour of the day (00 to 23)`)
  if (minute > 59) fail(`minute ${match[5]} is not a minute (00 to 59)`)
  if (second > 59) fail(`second ${match[6]} is not a second (00 to 59)`)
  let offsetMinutes = 0
  const zone = match[8]
  if (zone && zone.toUpperCase() !== 'Z') {
    const [zoneHours, zoneMinutes] = [Number(zone.slice(1, 3)), Number(zone.replace(':', '').slice(3, 5) || '0')]
    if (zoneHours > 23 || zoneMinutes > 59) fail(`${zone} is not a time zone offset`)
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes)
  }
  const fraction = match[7] ? Math.floor(Number(match[7]) * 1000) : 0
  return new Date(utcDay(year, month, day) + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + fraction)
}

/** Checks `from < to` and returns the half-open range; `toIsNow` when `--to` was not given and defaults to now. */
export function timeRange(from: Date, to: Date, options: {toIsNow?: boolean} = {}): TimeRange {
  if (from.getTime() >= to.getTime()) {
    const end = options.toIsNow ? `now (${to.toISOString()}; --to defaults to now)` : `--to ${to.toISOString()}`
    throw new UsageError(`--from ${from.toISOString()} is not before ${end}: the range [from, to) is empty.`, {
      code: 'BAD_RANGE',
      nextSteps: [options.toIsNow ? 'Pass a --from in the past, or a --to after it.' : 'Pass a --to later than --from (--to is exclusive: --from 2021-11-08 --to 2021-11-09 is one day).'],
      details: {from: from.toISOString(), to: to.toISOString()},
    })
  }
  return {from, to}
}
