import {describe, expect, it} from 'vitest'

import {bucketKey, bucketsBetween, checkKeyTemplate, defaultKeyTemplate, isoWeek, renderKeyTemplate} from '../../src/plugins/core/convert/buckets.js'
import {parseUtcTime as parseTime} from '../../src/plugins/core/sources/time-range.js'

const utc = (iso: string) => new Date(iso)

describe('time buckets and key templates', () => {
  it('numbers ISO weeks like the reference (Python isocalendar), across year ends', () => {
    expect(isoWeek(utc('2021-01-03T23:59:59Z'))).toEqual({year: 2020, week: 53})
    expect(isoWeek(utc('2021-01-04T00:00:00Z'))).toEqual({year: 2021, week: 1})
    expect(isoWeek(utc('2024-12-30T00:00:00Z'))).toEqual({year: 2025, week: 1})
    expect(isoWeek(utc('2021-11-10T07:15:05Z'))).toEqual({year: 2021, week: 45})
    expect(bucketKey('week', utc('2021-01-01T00:00:00Z'))).toBe('2020-W53')
  })

  it('splits a range into buckets of each size, starting at the bucket holding the start', () => {
    const weeks = [...bucketsBetween('week', utc('2020-12-30T12:00:00Z'), utc('2021-01-12T00:00:00Z'), defaultKeyTemplate('week', 'jsonl', 'gzip'))]
    expect(weeks.map((bucket) => [bucket.key, bucket.outputKey, bucket.from.toISOString()])).toEqual([
      ['2020-W53', '2020-W53.jsonl.gz', '2020-12-28T00:00:00.000Z'],
      ['2021-W01', '2021-W01.jsonl.gz', '2021-01-04T00:00:00.000Z'],
      ['2021-W02', '2021-W02.jsonl.gz', '2021-01-11T00:00:00.000Z'],
    ])
    expect([...bucketsBetween('month', utc('2021-01-31T00:00:00Z'), utc('2021-03-01T00:00:00Z'), '{YYYY}/{MM}.parquet')].map((bucket) => bucket.outputKey)).toEqual(['2021/01.parquet', '2021/02.parquet'])
    expect([...bucketsBetween('hour', utc('2021-11-10T22:30:00Z'), utc('2021-11-11T00:30:00Z'), defaultKeyTemplate('hour', 'jsonl', 'zstd'))].map((bucket) => bucket.outputKey)).toEqual([
      '2021-11-10T22.jsonl.zst',
      '2021-11-10T23.jsonl.zst',
      '2021-11-11T00.jsonl.zst',
    ])
    expect(renderKeyTemplate('y={YYYY}/m={MM}/d={DD}/part.jsonl', 'day', utc('2021-02-03T00:00:00Z'))).toBe('y=2021/m=02/d=03/part.jsonl')
  })

  it('rejects templates that would put two buckets in one file', () => {
    expect(() => checkKeyTemplate('{YYYY}.jsonl.gz', 'week')).toThrow(/lacks \{WW\}/)
    expect(() => checkKeyTemplate('{YYYY}-{MM}.jsonl.gz', 'day')).toThrow(/lacks \{DD\}/)
    expect(() => checkKeyTemplate('../{YYYY}-W{WW}.jsonl.gz', 'week')).toThrow(/not a file key/)
    expect(() => checkKeyTemplate('{YYYY}/W{WW}.jsonl.gz', 'week')).not.toThrow()
  })

  it('parses --from/--to as dates (UTC), date-times and ISO weeks', () => {
    expect(parseTime('2021-11-08', 'from').toISOString()).toBe('2021-11-08T00:00:00.000Z')
    expect(parseTime('2021-11-08T06:30', 'from').toISOString()).toBe('2021-11-08T06:30:00.000Z')
    expect(parseTime('2021-11-08T06:30+02:00', 'from').toISOString()).toBe('2021-11-08T04:30:00.000Z')
    expect(parseTime('2021-W45', 'from').toISOString()).toBe('2021-11-08T00:00:00.000Z')
    expect(parseTime('2021-W01', 'from').toISOString()).toBe('2021-01-04T00:00:00.000Z')
    expect(() => parseTime('next tuesday', 'to')).toThrow(/--to "next tuesday" is not a date/)
  })
})
