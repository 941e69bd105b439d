import {UsageError} from '../errors/errors.js'

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
}

/** Parses a size such as `128MB`, `1GiB`, `512m` or `1000` (bytes). */
export function parseSize(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = SIZE_UNITS[(match?.[2] || 'b').toLowerCase()]
  if (!match || unit === undefined || Number(match[1]) <= 0) {
    throw new UsageError(`--${flag} "${text}" is not a size.`, {code: 'BAD_SIZE', nextSteps: [`Write it like 128MB, 1GiB or 512m (--${flag}).`]})
  }
  return Math.round(Number(match[1]) * unit)
}

/** Parses a duration such as `1d`, `36h`, `90m` or `0` into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s)?\s*$/i.exec(text)
  if (!match) {
    throw new UsageError(`--${flag} "${text}" is not a duration.`, {code: 'BAD_DURATION', nextSteps: [`Write it like 1d, 36h or 90m (--${flag}).`]})
  }
  const unit = {d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000}[(match[2] ?? 'd').toLowerCase() as 'd' | 'h' | 'm' | 's']
  return Number(match[1]) * unit
}

/** Checks an IANA time zone name (`Europe/Berlin`, `UTC`). */
export function checkTimeZone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en-CA', {timeZone: zone})
    return zone
  } catch {
    throw new UsageError(`--timezone "${zone}" is not a time zone.`, {code: 'BAD_TIMEZONE', nextSteps: ['Use an IANA name such as UTC, Europe/Berlin or America/Los_Angeles.']})
  }
}

/** The calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function dayIn(instant: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-CA', {timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit'}).format(instant)
}

/** Milliseconds that a zone is ahead of UTC at an instant. */
function zoneOffset(instant: number, zone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric'})
      .formatToParts(new Date(instant))
      .map((part) => [part.type, Number(part.value)]),
  ) as Record<string, number>
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - Math.floor(instant / 1000) * 1000
}

/** The instant a calendar day starts in a time zone. */
export function startOfDay(day: string, zone: string): Date {
  const [year, month, date] = day.split('-').map(Number)
  const utcMidnight = Date.UTC(year, month - 1, date)
  // Two passes settle the offset across a DST change.
  let guess = utcMidnight - zoneOffset(utcMidnight, zone)
  guess = utcMidnight - zoneOffset(guess, zone)
  return new Date(guess)
}

/** Whether a partition is old enough to compact; the reason when it is not. */
export function ageCheck(options: {date?: string; newest: Date; now: Date; minAgeMs: number; zone: string}): {old: boolean; reason?: string} {
  const {date, newest, now, minAgeMs, zone} = options
  if (date) {
    const today = dayIn(now, zone)
    if (date >= today) return {old: false, reason: `${date} is today or later in ${zone}; today's partition is never compacted`}
    const age = now.getTime() - startOfDay(date, zone).getTime()
    if (age < minAgeMs) return {old: false, reason: `${date} started ${Math.round(age / 3_600_000)} h ago in ${zone}, under --min-age`}
    return {old: true}
  }
  const age = now.getTime() - newest.getTime()
  if (age < minAgeMs) return {old: false, reason: `its newest object is ${Math.round(age / 60_000)} min old, under --min-age`}
  return {old: true}
}
