import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/plugins/core/errors/errors.js'
import {isoWeek} from '../../src/plugins/core/convert/buckets.js'
import {isoWeeksIn, parseUtcTime, timeRange} from '../../src/plugins/core/sources/time-range.js'

/** The usage error parseUtcTime throws for `input`, or a failure when it returns a date instead. */
function rejection(input: string): UsageError {
  try {
    const date = parseUtcTime(input, 'from')
    throw new Error(`"${input}" was taken as ${date.toISOString()}`)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return error as UsageError
  }
}

describe('the one time parser (--from/--to of convert, fetch, generate)', () => {
  it.each([
    ['2021-11-08', '2021-11-08T00:00:00.000Z'],
    ['2021-11-08T06', '2021-11-08T06:00:00.000Z'],
    ['2021-11-08T06:30', '2021-11-08T06:30:00.000Z'],
    ['2021-11-08 06:30:15', '2021-11-08T06:30:15.000Z'],
    ['2021-11-08T06:30:15.25Z', '2021-11-08T06:30:15.250Z'],
    ['2021-11-08T06:30+02:00', '2021-11-08T04:30:00.000Z'],
    ['2021-11-08T06:30-0130', '2021-11-08T08:00:00.000Z'],
    ['2021-11', '2021-11-01T00:00:00.000Z'],
    ['2020-02-29', '2020-02-29T00:00:00.000Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['2021-W45', '2021-11-08T00:00:00.000Z'],
    ['2021-W01', '2021-01-04T00:00:00.000Z'],
    ['2020-W53', '2020-12-28T00:00:00.000Z'],
    ['2015-W53', '2015-12-28T00:00:00.000Z'],
    ['0099-01-01', '0099-01-01T00:00:00.000Z'],
    ['2021-12-31T23:59:59', '2021-12-31T23:59:59.000Z'],
  ])('%s is %s', (input, iso) => {
    expect(parseUtcTime(input, 'from').toISOString()).toBe(iso)
  })

  it.each([
    ['2021-02-30', /February 2021 has days 01 to 28/],
    ['2021-02-29', /February 2021 has days 01 to 28/],
    ['1900-02-29', /February 1900 has days 01 to 28/],
    ['2021-04-31', /April 2021 has days 01 to 30/],
    ['2021-00-10', /month 00/],
    ['2021-13-01', /month 13/],
    ['2021-11-00', /November 2021 has days 01 to 30/],
    ['2021-W54', /2021 has ISO weeks 01 to 52/],
    ['2021-W53', /2021 has ISO weeks 01 to 52/],
    ['2021-W00', /2021 has ISO weeks 01 to 52/],
    ['2021-11-08T24', /hour 24/],
    ['2021-11-08T24:00', /hour 24/],
    ['2021-11-08T23:60', /minute 60/],
    ['2021-11-08T23:59:60', /second 60/],
    ['2021-11-08T06:00+25:00', /\+25:00 is not a time zone offset/],
    ['next tuesday', /is not a date or time\.$/],
    ['2021-11-8', /is not a date or time\.$/],
    ['21-11-08', /is not a date or time\.$/],
    ['1636329600', /is not a date or time\.$/],
    ['', /is not a date or time\.$/],
  ])('%s is a usage error naming the value (%s)', (input, why) => {
    const error = rejection(input)
    expect(error.code).toBe('BAD_TIME')
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain(`--from "${input}"`)
    expect(error.message).toMatch(why)
    expect(error.nextSteps.join(' ')).toMatch(/2021-W45/)
  })

  it('knows which years have 53 ISO weeks (agrees with the week numbering convert uses)', () => {
    for (let year = 1990; year <= 2040; year++) {
      expect(isoWeeksIn(year), String(year)).toBe(isoWeek(new Date(Date.UTC(year, 11, 28))).week)
      expect(parseUtcTime(`${year}-W${isoWeeksIn(year)}`, 'to').getTime()).toBeLessThan(Date.UTC(year + 1, 0, 5))
    }
  })

  it('an empty or reversed range is a usage error naming both ends', () => {
    const day = parseUtcTime('2021-11-08', 'from')
    expect(() => timeRange(day, day)).toThrow(/--from 2021-11-08T00:00:00.000Z is not before --to 2021-11-08T00:00:00.000Z/)
    expect(() => timeRange(parseUtcTime('2021-11-09', 'from'), day)).toThrow(UsageError)
    expect(() => timeRange(parseUtcTime('2999-01-01', 'from'), new Date(), {toIsNow: true})).toThrow(/--to defaults to now/)
    expect(timeRange(day, parseUtcTime('2021-11-09', 'to'))).toEqual({from: day, to: new Date('2021-11-09T00:00:00Z')})
  })
})
