import {Flags} from '@oclif/core'

import {UsageError} from '../errors/errors.js'
import type {TimeRange} from './types.js'

/**
 * Parses a UTC date or time as users write it: `2018-05-06`, `2018-05-06T20`, `2018-05-06T20:26`, or full ISO 8601
 * (a time without a zone is UTC). A usage error naming the flag otherwise.
 */
export function parseUtcTime(input: string, flag: string): Date {
  const text = input.trim()
  const match = /^(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text)
  let date: Date | undefined
  if (match) {
    const [, year, month, day = '01', hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = match
    date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${zone}`)
  }
  if (!date || Number.isNaN(date.getTime())) {
    throw new UsageError(`--${flag} "${input}" is not a date or time.`, {code: 'BAD_TIME', nextSteps: [`Write --${flag} as 2018-05-06, 2018-05-06T20:00 or 2018-05-06T20:00:00Z (UTC).`]})
  }
  return date
}

/** Checks `from < to` and returns the half-open range. */
export function timeRange(from: Date, to: Date): TimeRange {
  if (from.getTime() >= to.getTime()) {
    throw new UsageError(`--from ${from.toISOString()} is not before --to ${to.toISOString()}.`, {code: 'BAD_RANGE', nextSteps: ['The range is [from, to): pass a --to later than --from.']})
  }
  return {from, to}
}

/** `--from` and `--to` (UTC, `[from, to)`), parsed into dates. */
export const timeRangeFlags = {
  from: Flags.custom<Date>({summary: 'Start of the range, inclusive (UTC): 2018-05-06, 2018-05-06T20:00, or ISO 8601.', required: true, parse: async (input) => parseUtcTime(input, 'from')})(),
  to: Flags.custom<Date>({summary: 'End of the range, exclusive (UTC).', required: true, parse: async (input) => parseUtcTime(input, 'to')})(),
}
