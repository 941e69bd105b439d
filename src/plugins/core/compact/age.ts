import {UsageError} from '../errors/errors.js'

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
