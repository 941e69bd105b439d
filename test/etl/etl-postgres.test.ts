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

  it('a segment overlapping the table at its first or last record goes the general way at once: no straight COPY written and refused', async () => {
    // Its own schema, so the loader's backend is the only writer of the table whose counts are read.
    const schema = 'edge_probe'
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-pg-edge-'))
    const trades = (entries: [id: string, price: string][]) =>
      JSON.stringify({
        channel: 'market_trades',
        timestamp: '2026-08-10T01:00:00.5Z',
        sequence_num: 7,
        events: [{type: 'update', trades: entries.map(([id, price]) => ({product_id: 'SOL-USD', trade_id: id, price, size: '1', time: '2026-08-10T01:00:00.1Z', side: 'BUY'}))}],
      }) + '\n'
    const ids = (from: number, n: number) => Array.from({length: n}, (_, i) => String(from + i))
    const first = ids(1000, 50)
    const segments = {
      'segment_20260810T01_0.ndjson': trades(first.map((id) => [id, '10.5'])),
      // The head overlaps (the tail of the segment before it) …
      'segment_20260810T01_1.ndjson': trades([[first[0], '11.5'], ...ids(2000, 30).map((id): [string, string] => [id, '10.5'])]),
      // … and the tail (a later segment loaded first): a straight COPY would write all 41 rows before the key refused one.
      'segment_20260810T01_2.ndjson': trades([...ids(3000, 40).map((id): [string, string] => [id, '10.5']), [first.at(-1)!, '12.5']]),
    }
    await putSegments({dir}, segments)
    const source = coinbaseSource()
    const tables = channelTables(source)
    const sink = new PostgresSink({url: server.url, source: 'coinbase', tables, schema})
    try {
      for (const name of Object.keys(segments)) {
        const decoded = await decodeSegment(new LocalStorage(dir), `raw/ready/coinbase/${name}`, source, tables, os.tmpdir())
        expect(await sink.load(decoded)).toEqual({rows: {ticker: 0, level2: 0, market_trades: 1 + (name.endsWith('0.ndjson') ? 49 : name.endsWith('1.ndjson') ? 30 : 40)}})
        await discardStaged(decoded)
      }
    } finally {
      await sink.close()
      fs.rmSync(dir, {recursive: true, force: true})
    }
    const table = `${schema}.coinbase_market_trades`
    const prices = await client.query(`SELECT trade_id, price::text FROM ${table} WHERE trade_id IN ($1, $2, $3)`, [first[0], first[1], first.at(-1)])
    expect(Object.fromEntries(prices.rows.map((row) => [row.trade_id, row.price]))).toEqual({[first[0]]: '11.5', [first[1]]: '10.5', [first.at(-1)!]: '12.5'})
    expect((await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(120)
    // Rows written count whether or not their (sub)transaction commits: 120 new rows and 2 updates, nothing written
    // and rolled back. The loader's counts reach the statistics when its backend ends, so they are awaited.
    let counts: {ins: number; upd: number} | undefined
    for (let tries = 0; tries < 100 && !(counts && counts.upd >= 2); tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100))
      counts = (await client.query(`SELECT n_tup_ins::int AS ins, n_tup_upd::int AS upd FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'coinbase_market_trades'`, [schema])).rows[0]
    }
    expect(counts).toEqual({ins: 120, upd: 2})
    await client.query(`DROP SCHEMA ${schema} CASCADE`)
  })

  it('records delivered again unchanged (another segment name) are left as they are, no new row version; a changed one is updated', async () => {
    const schema = 'same_again'
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-pg-same-'))
    const trades = (prices: string[]) =>
      JSON.stringify({
        channel: 'market_trades',
        timestamp: '2026-08-10T02:00:00.5Z',
        sequence_num: 9,
        events: [{type: 'update', trades: prices.map((price, i) => ({product_id: 'ADA-USD', trade_id: String(500 + i), price, size: '1', time: '2026-08-10T02:00:00.1Z', side: 'BUY'}))}],
      }) + '\n'
    const prices = Array.from({length: 20}, (_, i) => `0.${100 + i}`)
    // The second delivery: the same records, but trade 507's price sent with another scale (equal as a number).
    const again = prices.map((price, i) => (i === 7 ? `${price}0` : price))
    const segments = {'segment_20260810T02_0.ndjson': trades(prices), 'segment_20260810T02_0-replay.ndjson': trades(again)}
    await putSegments({dir}, segments)
    const source = coinbaseSource()
    const tables = channelTables(source)
    const sink = new PostgresSink({url: server.url, source: 'coinbase', tables, schema})
    const table = `${schema}.coinbase_market_trades`
    const versions = async () => Object.fromEntries((await client.query(`SELECT trade_id, xmin::text AS x, price::text FROM ${table}`)).rows.map((row) => [row.trade_id, `${row.x} ${row.price}`]))
    try {
      const seen: Record<string, string>[] = []
      for (const name of Object.keys(segments)) {
        const decoded = await decodeSegment(new LocalStorage(dir), `raw/ready/coinbase/${name}`, source, tables, os.tmpdir())
        expect((await sink.load(decoded)).rows.market_trades).toBe(20)
        await discardStaged(decoded)
        seen.push(await versions())
      }
      const [before, after] = seen
      expect(Object.keys(after).length).toBe(20)
      const changed = Object.keys(after).filter((id) => after[id] !== before[id])
      expect(changed).toEqual(['507'])
      expect(after['507']).toMatch(/ 0\.1070$/)
    } finally {
      await sink.close()
      fs.rmSync(dir, {recursive: true, force: true})
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    }
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
