import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {coinbaseSource} from '../../src/plugins/coinbase/index.js'
import {openDuckDB} from '../../src/plugins/core/duckdb/duckdb.js'
import {channelTables} from '../../src/plugins/core/etl/columns.js'
import {decodeSegment, discardStaged} from '../../src/plugins/core/etl/decode-segment.js'
import {ParquetSink} from '../../src/plugins/core/etl/parquet-sink.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {advancedTradeFrames, putSegments} from './fixtures.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-sql-'))
afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

/**
 * DuckDB's decoding of Advanced Trade segments (the fast path for Parquet) must give exactly the records of the
 * frame decoder (the reference): same rows, same values, column for column.
 */
describe('DuckDB decoding of coinbase segments', {timeout: 180_000}, () => {
  const source = coinbaseSource()
  const tables = channelTables(source)
  const raw = new LocalStorage(root)

  async function both(name: string, body: string) {
    await putSegments({dir: root}, {[name]: body})
    const key = `raw/ready/coinbase/${name}`
    const out = {line: path.join(root, `line-${name}`), sql: path.join(root, `sql-${name}`)}
    const viaLines = await decodeSegment(raw, key, source, tables, root)
    const sinkA = new ParquetSink({output: new LocalStorage(out.line), source: 'coinbase', toolVersion: 'test', tempRoot: root})
    await sinkA.load(viaLines)
    await discardStaged(viaLines)
    await sinkA.close()
    const sinkB = new ParquetSink({output: new LocalStorage(out.sql), source: 'coinbase', toolVersion: 'test', tempRoot: root})
    const viaSql = await sinkB.decodeFast(raw, key, source, tables, root, {})
    if (viaSql) {
      await sinkB.load(viaSql)
      await discardStaged(viaSql)
    }
    await sinkB.close()
    return {viaSql, out, lines: viaLines}
  }

  async function generated(): Promise<string> {
    let body = ''
    for await (const object of source.generate!({range: {from: new Date('2025-12-31T23:00:00Z'), to: new Date('2026-01-01T01:00:00Z')}, seed: 5, rate: 2000})) body += String(object.body)
    return body
  }

  /** Values at the edges of the SQL's shortcuts: 0–9 fraction digits in times, volumes too wide for DECIMAL(18,8). */
  function edgeValues(): string {
    const times = ['2026-08-09T22:00:00Z', '2026-08-09T22:00:00.5Z', '2026-08-09T22:00:00.1234567Z', '2026-08-09T22:00:00.999999999Z', '2026-08-09T23:59:59.000001Z']
    const volumes = ['1', '9999999999.99999999', '10000000000', '123456789012345678901234567890.12345678', '-0.00000001']
    const ratios = ['-0.90708802267909', '12.5', '-123456789012345678.123456789012345678', '0.000000000000000001', '']
    return (
      times
        .flatMap((time, i) => [
          JSON.stringify({
            channel: 'ticker',
            timestamp: time,
            sequence_num: i,
            events: [{type: 'update', tickers: [{type: 'ticker', product_id: 'SOL-USD', price: '150.1', volume_24_h: volumes[i], price_percent_chg_24_h: ratios[i], low_24_h: '', best_bid: '150.09'}]}],
          }),
          JSON.stringify({
            channel: 'l2_data',
            timestamp: time,
            sequence_num: 10 + i,
            events: [{type: 'update', product_id: 'SOL-USD', updates: [{side: 'bid', event_time: time, price_level: '150.1', new_quantity: /^-?\d{1,10}(\.|$)/.test(volumes[i]) ? volumes[i] : '0'}]}],
          }),
          JSON.stringify({
            channel: 'market_trades',
            timestamp: time,
            sequence_num: 20 + i,
            events: [{type: 'update', trades: [{trade_id: String(100 + i), product_id: 'SOL-USD', price: '150.1', size: '0.5', side: 'BUY', time}]}],
          }),
        ])
        .join('\n') + '\n'
    )
  }

  it.each([
    ['edge values', 'segment_20260809T22_9.ndjson', async () => edgeValues()],
    ['the real capture', 'segment_20260809T21_0.ndjson', async () => advancedTradeFrames().join('\n') + '\n'],
    ['generated frames across midnight', 'segment_20251231T23_0.ndjson', generated],
  ])('gives the same records as the frame decoder on %s', async (_, name, body) => {
    const {viaSql, out, lines} = await both(name, await body())
    expect(viaSql).toBeDefined()
    expect(viaSql!.channels.map((channel) => channel.rows)).toEqual(lines.channels.map((channel) => channel.rows))
    const db = await openDuckDB({threads: 1})
    try {
      for (const channel of ['ticker', 'level2', 'market_trades']) {
        const read = (dir: string) =>
          `SELECT * EXCLUDE (filename), regexp_extract(filename, '[^/]+$') AS file FROM read_parquet('${dir}/processed/coinbase/${channel}/**/*.parquet', hive_partitioning = true, filename = true)`
        const [{a, b}] = await db.query<{a: number; b: number}>(
          `SELECT (SELECT count(*) FROM (${read(out.line)} EXCEPT ALL ${read(out.sql)}))::INT AS a, (SELECT count(*) FROM (${read(out.sql)} EXCEPT ALL ${read(out.line)}))::INT AS b`,
        )
        expect({channel, a, b}).toEqual({channel, a: 0, b: 0})
        const [{n}] = await db.query<{n: number}>(`SELECT count(*)::INT AS n FROM (${read(out.sql)})`)
        expect(n).toBe(lines.channels.find((staged) => staged.table.channel === channel)!.rows)
      }
    } finally {
      await db.close()
    }
  })

  it('gives the segment to the frame decoder when a line is bad or from the Exchange feed', async () => {
    const frames = advancedTradeFrames().slice(0, 50)
    const badPrice = frames.map((line, i) => (i === 9 ? line.replace(/"price":"[^"]+"/, '"price":"0.000000001"') : line))
    expect(badPrice[9]).toContain('0.000000001')
    expect((await both('segment_20260809T22_0.ndjson', badPrice.join('\n') + '\n')).viaSql).toBeUndefined()
    expect((await both('segment_20260809T22_1.ndjson', [...frames, '{not json'].join('\n') + '\n')).viaSql).toBeUndefined()
    const exchange = '{"type":"match","trade_id":1,"maker_order_id":"a","taker_order_id":"b","side":"sell","size":"1","price":"2","product_id":"X-USD","sequence":3,"time":"2021-04-17T16:43:30.244075Z"}'
    expect((await both('segment_20260809T22_2.ndjson', [...frames, exchange].join('\n') + '\n')).viaSql).toBeUndefined()
    expect((await both('segment_20260809T22_3.ndjson', frames.join('\n') + '\n')).viaSql).toBeDefined()
  })
})
