import {Readable} from 'node:stream'
import zlib from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {coinbaseSource} from '../../src/plugins/coinbase/index.js'
import {type DataSource, type SourceRecord} from '../../src/plugins/core/index.js'
import {type LineDecoder} from '../../src/plugins/core/etl/line-decoder.js'
import {DecodeError} from '../../src/plugins/core/sources/decode-error.js'
import {runInProcess} from '../helpers/cli.js'
import {advancedTradeFramesWithSnapshots} from '../fixtures/generated.js'
import {advancedTradeFrames, exchangeFrames, expectedCounts} from './fixtures.js'

const source = coinbaseSource() as DataSource & LineDecoder

function decodeAll(lines: string[], key = 'raw/ready/coinbase/segment_20260809T21_0.ndjson', from: DataSource & LineDecoder = source): SourceRecord[] {
  const state = from.startObject({key})
  const out: SourceRecord[] = []
  for (const line of lines) from.decodeLine(line, state, out)
  return out
}

function countByChannel(records: SourceRecord[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const record of records) counts[record.channel as string] = (counts[record.channel as string] ?? 0) + 1
  return counts
}

function duplicateKeys(records: SourceRecord[], from: DataSource = source): number {
  const seen = new Set<string>()
  let duplicates = 0
  for (const record of records) {
    const channel = from.channels!.find((candidate) => candidate.name === record.channel)!
    const key = `${record.channel}|${channel.recordKey!.map((field) => record[field]).join('|')}`
    if (seen.has(key)) duplicates++
    seen.add(key)
  }
  return duplicates
}

/** The frame time as records carry it: microseconds, always six digits. */
const micros = (time: string) => time.replace(/(\.\d+)?Z$/, (_, fraction: string | undefined) => `.${(fraction ?? '.').slice(1).padEnd(6, '0').slice(0, 6)}Z`)

describe('coinbase source', () => {
  it('is registered as a built-in source with its channels', async () => {
    const run = await runInProcess<{sources: {name: string; channels: string[]; builtIn: boolean}[]}>(['sources', '--json'])
    expect(run.result!.sources.find((entry) => entry.name === 'coinbase')).toMatchObject({builtIn: true, channels: ['ticker', 'level2', 'market_trades']})
  })

  it('decodes Advanced Trade frames: one record per ticker, level2 update and trade, with the fields the frame sent', () => {
    const frames = advancedTradeFrames()
    const records = decodeAll(frames)
    expect(countByChannel(records)).toEqual(expectedCounts(frames))
    // The first trade update and the first ticker update, read straight off their frames.
    const parsed = frames.map((line) => JSON.parse(line))
    const tradeFrame = parsed.find((frame) => frame.channel === 'market_trades' && frame.events[0].type === 'update')
    const sent = tradeFrame.events[0].trades[0]
    const trade = records.find((record) => record.channel === 'market_trades' && record.trade_id === sent.trade_id && record.product_id === sent.product_id)
    expect(trade).toMatchObject({
      feed: 'advanced_trade',
      product_id: sent.product_id,
      price: sent.price,
      size: sent.size,
      time: micros(sent.time),
      date: sent.time.slice(0, 10),
      sequence: tradeFrame.sequence_num,
      side: sent.side,
    })
    // The frame time has nanoseconds with trailing zeros trimmed; records carry microseconds, fixed width.
    for (const record of records) expect(record.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    const tickerFrame = parsed.find((frame) => frame.channel === 'ticker' && frame.events[0].type === 'update')
    const tick = tickerFrame.events[0].tickers[0]
    const ticker = records.find((record) => record.channel === 'ticker' && record.sequence === tickerFrame.sequence_num)
    expect(ticker).toMatchObject({product_id: tick.product_id, time: micros(tickerFrame.timestamp), price: tick.price, price_percent_chg_24_h: tick.price_percent_chg_24_h, volume_24_h: tick.volume_24_h})
  })

  it('record keys are unique across the captures of both feeds, l2 book snapshots included', async () => {
    const frames = await advancedTradeFramesWithSnapshots()
    const full = decodeAll(frames)
    expect(countByChannel(full)).toEqual(expectedCounts(frames))
    expect(countByChannel(full).level2).toBeGreaterThan(countByChannel(decodeAll(advancedTradeFrames())).level2)
    expect(duplicateKeys(full)).toBe(0)
    const legacy = decodeAll(exchangeFrames(), 'raw/ready/coinbase/segment_20210417T16_0.ndjson')
    expect(duplicateKeys(legacy)).toBe(0)
    // Legacy l2update frames of one product with the same timestamp exist in the capture; ordinals keep them apart.
    expect(legacy.some((record) => record.channel === 'level2' && record.event_type === 'update' && (record.sequence as number) > 0)).toBe(true)
  })

  it('decodes the legacy Exchange feed: l2update sides as bid/offer, snapshots timed by the frame before them', () => {
    const frames = exchangeFrames()
    const records = decodeAll(frames, 'raw/ready/coinbase/segment_20210417T16_0.ndjson')
    expect(countByChannel(records)).toEqual(expectedCounts(frames))
    const change = records.find((record) => record.channel === 'level2' && record.event_type === 'update')!
    expect(change).toMatchObject({feed: 'exchange', product_id: 'SKL-BTC', side: 'offer', price_level: '0.00001306', new_quantity: '660.5', time: '2021-04-17T16:43:37.075687Z'})
    const snapshot = records.find((record) => record.event_type === 'snapshot')!
    // The first snapshot comes before any timed frame of the capture: it takes the segment's hour.
    expect(snapshot).toMatchObject({product_id: 'BAND-GBP', time: '2021-04-17T16:00:00.000000Z', side: 'bid'})
    const match = records.find((record) => record.channel === 'market_trades' && record.event_type === 'match')!
    expect(match).toMatchObject({trade_id: '280232', product_id: 'SKL-BTC', price: '0.00001305', size: '985', sequence: 177100030})
  })

  it('ignores heartbeats and candles unless kept by the keep option', () => {
    const frames = advancedTradeFrames()
    expect(countByChannel(decodeAll(frames)).heartbeats).toBeUndefined()
    const keeping = source.configure!({keep: 'heartbeats,candles'}) as DataSource & LineDecoder
    expect(keeping.channels!.map((channel) => channel.name)).toEqual(['ticker', 'level2', 'market_trades', 'heartbeats', 'candles'])
    const counts = countByChannel(decodeAll(frames, undefined, keeping))
    expect(counts.heartbeats).toBe(frames.filter((line) => JSON.parse(line).channel === 'heartbeats').length)
    expect(counts.heartbeats).toBeGreaterThan(0)
    expect(counts.candles).toBeGreaterThan(4)
    expect(() => source.configure!({keep: 'status'})).toThrow(/heartbeats, candles/)
    expect(() => source.configure!({colour: 'x'})).toThrow(/unknown option "colour"/)
  })

  it('subscribes to the live feed from its options: one message per channel, heartbeats always, products required', () => {
    const feed = source.configure!({products: 'BTC-USD,ETH-USD', channels: 'ticker,candles'}).feed!
    expect(feed.url).toBe('wss://advanced-trade-ws.coinbase.com')
    expect(feed.subscribeMessages().map((message) => JSON.parse(message))).toEqual([
      {type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channel: 'ticker'},
      {type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channel: 'candles'},
      {type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channel: 'heartbeats'},
    ])
    expect(
      source.configure!({products: 'SOL-USD'})
        .feed!.subscribeMessages()
        .map((message) => JSON.parse(message).channel),
    ).toEqual(['level2', 'ticker', 'market_trades', 'heartbeats'])
    expect(() => source.feed!.subscribeMessages()).toThrow(/products is missing/)
    expect(() => source.configure!({channels: 'x'})).toThrow(/channels=x: not a channel/)
    expect(() => source.configure!({products: 'btc usd'})).toThrow(/products=btc usd/)
    // One run of sequence numbers per connection, across channels, read from each frame.
    expect(feed.sequenceScope).toBe('connection')
    const frames = advancedTradeFrames().map((line) => JSON.parse(line))
    expect(frames.map((frame) => feed.frameSequence!(frame))).toEqual(frames.map((frame) => ({channel: frame.channel, sequence: frame.sequence_num})))
    expect(feed.frameSequence!({type: 'subscriptions'})).toBeUndefined()
  })

  it('refuses what it cannot keep exactly, naming the field', () => {
    const state = source.startObject({key: 'raw/ready/coinbase/segment_20260809T21_0.ndjson'})
    const bad = (line: string) => () => source.decodeLine(line, state, [])
    expect(
      bad(
        '{"channel":"market_trades","timestamp":"2026-08-09T21:05:48Z","sequence_num":1,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1","price":6.5e4,"size":"1e-3","time":"2026-08-09T21:05:48Z","side":"BUY"}]}]}',
      ),
    ).toThrow(/size "1e-3" is not a decimal/)
    expect(bad('{"channel":"ticker","timestamp":"yesterday","sequence_num":1,"events":[]}')).toThrow(DecodeError)
    expect(bad('{"hello":1}')).toThrow(/neither a "channel"/)
    expect(bad('[1,2]')).toThrow(/not a JSON object/)
  })

  it('decode() streams a gzip segment and reports the line of a bad frame', async () => {
    const body = zlib.gzipSync(advancedTradeFrames().slice(0, 20).join('\n') + '\n{oops\n')
    const records: SourceRecord[] = []
    const run = async () => {
      for await (const record of source.decode(Readable.from([body]), {key: 'raw/ready/coinbase/segment_20260809T21_0.ndjson'})) records.push(record)
    }
    await expect(run()).rejects.toMatchObject({name: 'DecodeError', where: {line: 21}})
    expect(records.length).toBeGreaterThan(20)
  })

  it('generates deterministic, realistic frames in the segment layout', async () => {
    const range = {from: new Date('2025-12-03T10:00:00Z'), to: new Date('2025-12-03T12:00:00Z')}
    const collect = async (seed: number) => {
      const out: {key: string; body: string}[] = []
      for await (const object of source.generate!({range, seed, rate: 3000})) out.push({key: object.key, body: String(object.body)})
      return out
    }
    const first = await collect(7)
    expect(await collect(7)).toEqual(first)
    expect((await collect(8)).map((object) => object.body)).not.toEqual(first.map((object) => object.body))
    expect(first.map((object) => object.key)).toEqual(['raw/ready/coinbase/segment_20251203T10_0.ndjson', 'raw/ready/coinbase/segment_20251203T11_0.ndjson'])
    const lines = first.flatMap((object) => object.body.split('\n').filter(Boolean))
    expect(lines.map((line) => JSON.parse(line).sequence_num)).toEqual(lines.map((_, i) => i))
    const records = first.flatMap((object) => decodeAll(object.body.split('\n').filter(Boolean), object.key))
    expect(countByChannel(records)).toEqual(expectedCounts(lines))
    expect(duplicateKeys(records)).toBe(0)
    // Nanosecond frame times with trailing zeros trimmed, as the real feed sends them.
    expect(new Set(lines.map((line) => /"timestamp":"[^"]*\.(\d+)Z"/.exec(line)?.[1].length)).size).toBeGreaterThan(3)
    for (const record of records) expect(new Date(record.time as string) >= range.from && new Date(record.time as string) < new Date(range.to.getTime() + 1000)).toBe(true)
  })
})
