import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {EtlResult} from '../../src/commands/etl.js'
import {channelTables} from '../../src/plugins/core/etl/columns.js'
import {decodeSegment, discardStaged} from '../../src/plugins/core/etl/decode-segment.js'
import {PostgresSink} from '../../src/plugins/core/etl/postgres-sink.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {coinbaseSource} from '../../src/plugins/coinbase/index.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {startPostgres} from '../helpers/postgres.js'
import {advancedTradeFrames, cut, exchangeFrames, expectedCounts, putSegments, sumCounts} from './fixtures.js'

describe('etl to Postgres', {timeout: 180_000}, () => {
  let server: {url: string; stop: () => Promise<void>}
  let client: pg.Client
  let root: string
  const advanced = advancedTradeFrames()
  const exchange = exchangeFrames()
  const [a0, a1] = cut(advanced, 2)
  const [e0, e1] = cut(exchange, 2)
  const bodies = {'segment_20260809T21_0.ndjson': a0, 'segment_20260809T21_1.ndjson': a1, 'segment_20210417T16_0.ndjson': e0, 'segment_20210417T16_1.ndjson': e1}
  const expected = expectedCounts([...advanced, ...exchange])

  async function tableCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const channel of ['ticker', 'level2', 'market_trades']) out[channel] = Number((await client.query(`SELECT count(*) AS n FROM coinbase_${channel}`)).rows[0].n)
    return out
  }

  beforeAll(async () => {
    server = await startPostgres()
    client = new pg.Client({connectionString: server.url})
    await client.connect()
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-pg-'))
    await putSegments({dir: root}, bodies)
  })
  afterAll(async () => {
    await client?.end()
    await server?.stop()
    fs.rmSync(root, {recursive: true, force: true})
  })

  it('creates the tables and loads every record once, with the segment in the ledger', async () => {
    const run = await runInProcess<EtlResult>(['etl', root, '--source', 'coinbase', '--to', server.url, '--json'])
    expect(run.exitCode).toBe(0)
    expect(run.result!.segments.map((segment) => segment.status)).toEqual(['done', 'done', 'done', 'done'])
    expect(await tableCounts()).toEqual(expected)
    const ledger = await client.query('SELECT segment, rows FROM bucketwright_etl_ledger ORDER BY segment')
    expect(ledger.rows.map((row) => row.segment)).toEqual(Object.keys(bodies).sort())
    expect(ledger.rows.reduce((sum, row) => sum + Number(row.rows), 0)).toBe(Object.values(expected).reduce((a, b) => a + b, 0))
    // Prices are NUMERIC holding exactly what the feed sent, trailing zeros included.
    const sent = advanced
      .flatMap((line) => JSON.parse(line).events.flatMap((event: {trades?: {product_id: string; trade_id: string; price: string; size: string; time: string}[]}) => event.trades ?? []))
      .find((entry) => entry.product_id === 'BTC-USD' && entry.trade_id === '1068572091')!
    expect(sent).toBeDefined()
    const trade = await client.query("SELECT price::text, size::text, time FROM coinbase_market_trades WHERE product_id = 'BTC-USD' AND trade_id = '1068572091'")
    expect(trade.rows[0]).toMatchObject({price: sent.price, size: sent.size})
    expect(trade.rows[0].time.toISOString()).toBe(new Date(sent.time).toISOString())
    expect(JSON.stringify(run.result)).not.toContain('bw-test')
    expect(run.result!.target).toMatch(/^postgres:\/\/bw:\*\*\*@127\.0\.0\.1:\d+\/bw$/)
  })

  it('a segment queued again is found in the ledger and not loaded twice', async () => {
    await putSegments({dir: root}, bodies)
    const run = await runInProcess<EtlResult>(['etl', root, '--source', 'coinbase', '--to', server.url, '--json'])
    expect(run.result!.segments.map((segment) => segment.status)).toEqual(['already-loaded', 'already-loaded', 'already-loaded', 'already-loaded'])
    expect(await tableCounts()).toEqual(expected)
    expect(fs.readdirSync(path.join(root, 'raw/ready/coinbase'))).toEqual([])
  })

  it('upserts: a changed trade updates its row instead of adding one', async () => {
    const frame = {
      channel: 'market_trades',
      timestamp: '2026-08-09T22:00:00.5Z',
      sequence_num: 1,
      events: [
        {
          type: 'update',
          trades: [
            {product_id: 'BTC-USD', trade_id: '1068572091', price: '65083.70', size: '0.02', time: '2026-08-09T21:05:48.167634Z', side: 'BUY'},
            {product_id: 'BTC-USD', trade_id: '99', price: '1.5', size: '2', time: '2026-08-09T22:00:00.1Z', side: 'SELL'},
          ],
        },
      ],
    }
    await putSegments({dir: root}, {'segment_20260809T22_0.ndjson': JSON.stringify(frame) + '\n'})
    const run = await runInProcess<EtlResult>(['etl', root, '--source', 'coinbase', '--to', server.url, '--json'])
    expect(run.result!.segments[0]).toMatchObject({status: 'done', records: {market_trades: 2}})
    expect(await tableCounts()).toEqual(sumCounts(expected, {market_trades: 1}))
    const trade = await client.query("SELECT price::text, size::text, side FROM coinbase_market_trades WHERE product_id = 'BTC-USD' AND trade_id = '1068572091'")
    expect(trade.rows).toEqual([{price: '65083.70', size: '0.02', side: 'BUY'}])
  })

  it('a record twice in one segment: the later line wins', async () => {
    const trade = (price: string) =>
      JSON.stringify({
        channel: 'market_trades',
        timestamp: '2026-08-09T22:10:00.5Z',
        sequence_num: 5,
        events: [{type: 'update', trades: [{product_id: 'ETH-USD', trade_id: '555', price, size: '1', time: '2026-08-09T22:10:00.1Z', side: 'BUY'}]}],
      })
    await putSegments({dir: root}, {'segment_20260809T22_1.ndjson': [trade('1900.01'), trade('1900.02')].join('\n') + '\n'})
    const run = await runInProcess<EtlResult>(['etl', root, '--source', 'coinbase', '--to', server.url, '--json'])
    expect(run.result!.segments[0]).toMatchObject({status: 'done', records: {market_trades: 2}})
    const rows = await client.query("SELECT price::text FROM coinbase_market_trades WHERE product_id = 'ETH-USD' AND trade_id = '555'")
    expect(rows.rows).toEqual([{price: '1900.02'}])
  })

  it('two loaders of one segment at once: the ledger and the advisory lock let exactly one load it', async () => {
    const name = 'segment_20210417T17_0.ndjson'
    // Real frames moved an hour on and with other trade ids, so they are new records.
    const legacy = exchange.slice(0, 300).map((line) => line.replace(/"time":"2021-04-17T16/, '"time":"2021-04-17T17').replace(/"trade_id":(\d+)/, '"trade_id":9$1'))
    await putSegments({dir: root}, {[name]: legacy.join('\n') + '\n'})
    const storage = new LocalStorage(root)
    const source = coinbaseSource()
    const tables = channelTables(source)
    const sinks = [new PostgresSink({url: server.url, source: 'coinbase', tables}), new PostgresSink({url: server.url, source: 'coinbase', tables})]
    const decoded = await Promise.all(sinks.map(() => decodeSegment(storage, `raw/ready/coinbase/${name}`, source, tables, os.tmpdir())))
    const before = await tableCounts()
    const results = await Promise.all(sinks.map((sink, i) => sink.load(decoded[i])))
    expect(results.map((result) => Boolean(result.alreadyLoaded)).sort()).toEqual([false, true])
    const added = expectedCounts(legacy)
    expect(await tableCounts()).toEqual(sumCounts(before, added))
    expect((await client.query('SELECT count(*)::int AS n FROM bucketwright_etl_ledger WHERE segment = $1', [name])).rows[0].n).toBe(1)
    await Promise.all([...sinks.map((sink) => sink.close()), ...decoded.map((segment) => discardStaged(segment))])
    fs.rmSync(path.join(root, 'raw/ready/coinbase', name))
  })

  it('never prints the password of the connection string, even when the connection fails', async () => {
    const url = server.url.replace('bw-test', 'sekret-pw-123')
    const run = await runCli(['etl', root, '--source', 'coinbase', '--to', url, '--json'], {})
    await putSegments({dir: root}, {'segment_20260809T23_0.ndjson': a0})
    const again = await runCli(['etl', root, '--source', 'coinbase', '--to', url, '--json'], {})
    for (const out of [run, again]) {
      expect(out.stdout + out.stderr).not.toContain('sekret-pw-123')
    }
    expect(again.code).toBe(1)
    expect(JSON.parse(again.stdout).segments[0]).toMatchObject({status: 'failed', error: {code: 'PG_CONNECT'}})
    expect(fs.readdirSync(path.join(root, 'raw/processing/coinbase'))).toEqual(['segment_20260809T23_0.ndjson'])
  })
})
