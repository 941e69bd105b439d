import {describe, expect, it} from 'vitest'

import {ageCheck, startOfDay} from '../../src/plugins/core/compact/age.js'
import {partitionScheme} from '../../src/plugins/core/compact/layout.js'
import {parseDuration, parseSize} from '../../src/plugins/core/command/units.js'
import {isHiddenKey, pendingKeyFor} from '../../src/plugins/core/compact/layout.js'

describe('partition layouts', () => {
  const auto = partitionScheme()

  it('finds the staging layout, its compacted files included, and names the outputs compacted/DAY.parquet', () => {
    const staged = auto.classify('api/staging/2026-11-20/batch_101500.parquet')
    expect(staged).toMatchObject({compacted: false, format: 'parquet', partition: {id: 'api/staging/2026-11-20/', layout: 'staging', date: '2026-11-20'}})
    expect(staged?.partition.prefixes).toEqual(['api/compacted/2026-11-20', 'api/staging/2026-11-20/'])
    expect(auto.classify('api/compacted/2026-11-20_2.parquet')).toMatchObject({compacted: true, partition: {id: 'api/staging/2026-11-20/'}})
    expect(auto.classify('api/compacted/2026-11-20-old.parquet')).toBeUndefined()
    expect(auto.outputKeys(staged!.partition, 1, 'ab'.repeat(32))).toEqual(['api/compacted/2026-11-20.parquet'])
    expect(auto.outputKeys(staged!.partition, 3, 'ab'.repeat(32))).toEqual(['api/compacted/2026-11-20.parquet', 'api/compacted/2026-11-20_1.parquet', 'api/compacted/2026-11-20_2.parquet'])
  })

  it('finds Hive partitions by their date= (or dt=) folder and compacts them in place under a digest name', () => {
    const found = auto.classify('processed/coinbase/ticker/product_id=BTC-USD/date=2025-12-03/part_seg_1.parquet')
    expect(found).toMatchObject({compacted: false, partition: {id: 'processed/coinbase/ticker/product_id=BTC-USD/date=2025-12-03/', layout: 'hive', date: '2025-12-03'}})
    expect(auto.classify('t/dt=2025-01-02/hour=03/x.jsonl.gz')).toMatchObject({format: 'json', partition: {id: 't/dt=2025-01-02/hour=03/', date: '2025-01-02'}})
    const digest = '0123456789abcdef'.repeat(4)
    expect(auto.outputKeys(found!.partition, 1, digest)).toEqual(['processed/coinbase/ticker/product_id=BTC-USD/date=2025-12-03/part-compacted-0123456789abcdef.parquet'])
    expect(auto.classify('t/date=2025-01-02/part-compacted-0123456789abcdef-1.parquet')?.compacted).toBe(true)
  })

  it('ignores hidden keys (manifests, pending copies, temp files), other formats and undated folders', () => {
    for (const key of ['_manifests/staging/2026-11-20/_compaction.json', 'compacted/_pending.0123456789abcdef.2026-11-20.parquet', 'staging/2026-11-20/.bw-tmp-x', 'staging/2026-11-20/readme.txt', 'raw/x.parquet']) {
      expect(auto.classify(key), key).toBeUndefined()
    }
    expect(isHiddenKey('a/_SUCCESS')).toBe(true)
    expect(pendingKeyFor('compacted/2026-11-20.parquet', 'f'.repeat(64))).toBe('compacted/_pending.ffffffffffffffff.2026-11-20.parquet')
  })

  it('--pattern: {date}, {YYYY}/{MM}/{DD} and * tokens; a pattern without a date has no date', () => {
    const byDay = partitionScheme('events/*/{YYYY}/{MM}/{DD}/')
    expect(byDay.classify('events/eu/2026/11/19/a.ndjson')).toMatchObject({format: 'json', partition: {id: 'events/eu/2026/11/19/', layout: 'pattern', date: '2026-11-19'}})
    expect(byDay.classify('events/eu/2026/11/19/deeper/a.ndjson')).toBeUndefined()
    expect(partitionScheme('logs/{date}').classify('logs/2026-11-19/x.parquet')?.partition.id).toBe('logs/2026-11-19/')
    expect(partitionScheme('dump/*/').classify('dump/any/x.parquet')?.partition.date).toBeUndefined()
    expect(() => partitionScheme('x/{YYYY}/')).toThrow(/part of a date/)
    expect(() => partitionScheme('x/{hour}/')).toThrow(/unknown token/)
  })
})

describe('age, sizes and durations', () => {
  const now = new Date('2026-11-22T00:30:00Z')

  it('never compacts today, in the given time zone', () => {
    expect(ageCheck({date: '2026-11-22', newest: now, now, minAgeMs: 0, zone: 'UTC'}).old).toBe(false)
    expect(ageCheck({date: '2026-11-21', newest: now, now, minAgeMs: 0, zone: 'UTC'}).old).toBe(true)
    // 00:30 UTC is still the 21st in Los Angeles: the 21st is today there.
    expect(ageCheck({date: '2026-11-21', newest: now, now, minAgeMs: 0, zone: 'America/Los_Angeles'}).old).toBe(false)
    // --min-age counts from the start of the day: the 21st started 24.5 h ago in UTC.
    expect(ageCheck({date: '2026-11-21', newest: now, now, minAgeMs: 86_400_000, zone: 'UTC'}).old).toBe(true)
    expect(ageCheck({date: '2026-11-21', newest: now, now, minAgeMs: 2 * 86_400_000, zone: 'UTC'}).old).toBe(false)
    expect(ageCheck({newest: new Date(now.getTime() - 3_600_000), now, minAgeMs: 2 * 3_600_000, zone: 'UTC'}).old).toBe(false)
  })

  it('finds the start of a day across DST', () => {
    expect(startOfDay('2026-03-29', 'Europe/Berlin').toISOString()).toBe('2026-03-28T23:00:00.000Z')
    expect(startOfDay('2026-03-30', 'Europe/Berlin').toISOString()).toBe('2026-03-29T22:00:00.000Z')
    expect(startOfDay('2026-11-20', 'UTC').toISOString()).toBe('2026-11-20T00:00:00.000Z')
  })

  it('parses sizes and durations, and rejects nonsense with a usage error', () => {
    expect(parseSize('128MB', {flag: 'target-size'})).toBe(128e6)
    expect(parseSize('1GiB', {flag: 'memory-limit'})).toBe(1024 ** 3)
    expect(parseSize('512m', {flag: 'memory-limit'})).toBe(512 * 1024 ** 2)
    expect(parseDuration('36h', {flag: 'min-age', defaultUnit: 'd'})).toBe(36 * 3_600_000)
    expect(parseDuration('2', {flag: 'min-age', defaultUnit: 'd'})).toBe(2 * 86_400_000)
    expect(() => parseSize('lots', {flag: 'target-size'})).toThrow(/--target-size "lots" is not a size/)
    expect(() => parseDuration('1y', {flag: 'min-age', defaultUnit: 'd'})).toThrow(/--min-age "1y" is not a duration/)
  })
})
