import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {EtlResult} from '../../src/commands/etl.js'
import {openDuckDB} from '../../src/plugins/core/duckdb/duckdb.js'
import {runInProcess} from '../helpers/cli.js'
import {createTestBucket, useS3Env} from '../helpers/s3.js'
import {advancedTradeFrames, cut, download, exchangeFrames, expectedCounts, parquetCounts, putSegments, s3Keys} from './fixtures.js'

const BAD_JSON = '{"type":"match","trade_id":'
const BAD_PRICE = '{"type":"match","trade_id":7,"product_id":"SKL-USD","price":"0.0000000000000000001","size":"1","time":"2021-04-17T16:43:37.1Z","sequence":5,"side":"buy"}'

/** Five segments cut from the two real captures; the last one with two bad lines (lines 5 and 10). */
function segments(): {bodies: Record<string, string>; good: string[]} {
  const advanced = advancedTradeFrames()
  const exchange = exchangeFrames()
  const [a0, a1, a2] = cut(advanced, 3)
  const [e0, e1] = cut(exchange, 2)
  const e1Lines = e1.split('\n').filter(Boolean)
  e1Lines.splice(4, 0, BAD_JSON)
  e1Lines.splice(9, 0, BAD_PRICE)
  return {
    bodies: {
      'segment_20260809T21_0.ndjson': a0,
      'segment_20260809T21_1.ndjson': a1,
      'segment_20260809T21_2.ndjson': a2,
      'segment_20210417T16_0.ndjson': e0,
      'segment_20210417T16_1.ndjson': e1Lines.join('\n') + '\n',
    },
    good: [...advanced, ...exchange],
  }
}

describe.each(['local', 's3'] as const)('etl to Parquet on %s storage', {timeout: 180_000}, (kind) => {
  let root: string
  let location: string
  let bucket = ''
  const {bodies, good} = segments()
  const expected = expectedCounts(good)

  /** The outputs as local files, for DuckDB. */
  async function outputs(): Promise<string> {
    if (kind === 'local') return root
    // Under root (only the S3 case gets here, where root holds nothing else), so afterAll removes it.
    const dir = fs.mkdtempSync(path.join(root, 'download-'))
    await download(bucket, '', dir)
    return dir
  }
  async function rawKeys(prefix: string): Promise<string[]> {
    if (kind === 's3') return s3Keys(bucket, prefix)
    const dir = path.join(root, prefix)
    return fs.existsSync(dir) ? fs.readdirSync(dir) : []
  }

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-pq-'))
    if (kind === 's3') {
      useS3Env()
      bucket = await createTestBucket('bw-etl-pq')
      location = `s3://${bucket}/`
      await putSegments({bucket}, bodies)
    } else {
      location = root
      await putSegments({dir: root}, bodies)
    }
  })
  afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

  it('loads every segment, quarantines the bad lines with line and reason, and exits 4', async () => {
    const run = await runInProcess<EtlResult>(['etl', location, '--source', 'coinbase', '--to', location, '--json'])
    expect(run.exitCode).toBe(4)
    const result = run.result!
    expect(result.segments.map((segment) => [segment.segment, segment.status])).toEqual(
      Object.keys(bodies)
        .sort((a, b) => a.localeCompare(b))
        .map((name) => [name, 'done']),
    )
    expect(result.totals.quarantined).toBe(2)
    // Each output is named from its segment, so a reprocessed segment overwrites exactly its own files.
    for (const segment of result.segments) {
      for (const output of segment.outputs!)
        expect(output.key).toMatch(new RegExp(`^processed/coinbase/${output.channel}/product_id=[A-Z]+-[A-Z]+/date=\\d{4}-\\d{2}-\\d{2}/part_${segment.segment.replace('.ndjson', '')}\\.parquet$`))
    }
    const bad = result.segments.find((segment) => segment.quarantined > 0)!
    expect(bad.segment).toBe('segment_20210417T16_1.ndjson')
    expect(bad.quarantine).toEqual([expect.objectContaining({line: 5, reason: expect.stringMatching(/not JSON/)}), expect.objectContaining({line: 10, reason: expect.stringMatching(/price .* not a decimal/)})])
    expect(await rawKeys('raw/ready/coinbase/')).toEqual([])
    expect(await rawKeys('raw/processing/coinbase/')).toEqual([])
    const dir = await outputs()
    const quarantine = fs
      .readFileSync(path.join(dir, 'raw/quarantine/coinbase/segment_20210417T16_1.quarantine.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(quarantine.map((entry) => [entry.segment, entry.line, entry.text])).toEqual([
      ['segment_20210417T16_1.ndjson', 5, BAD_JSON],
      ['segment_20210417T16_1.ndjson', 10, BAD_PRICE],
    ])
  })

  it('writes Hive-partitioned Parquet whose row counts equal the records of the input lines', async () => {
    const dir = await outputs()
    const counts = await parquetCounts(dir)
    for (const channel of ['ticker', 'level2', 'market_trades']) expect(counts[channel], channel).toEqual({rows: expected[channel], distinct: expected[channel]})
    const db = await openDuckDB({threads: 1})
    try {
      const partitions = await db.query<{product_id: string; date: string; type: string}>(
        `SELECT DISTINCT product_id, date::VARCHAR AS date, typeof(date) AS type FROM read_parquet('${dir}/processed/coinbase/market_trades/**/*.parquet', hive_partitioning = true) ORDER BY ALL`,
      )
      expect(partitions).toContainEqual({product_id: 'BTC-USD', date: '2026-08-09', type: 'DATE'})
      expect(partitions).toContainEqual({product_id: 'SKL-BTC', date: '2021-04-17', type: 'DATE'})
      // Every trade's price and size come back digit for digit (DECIMAL, not a float).
      const rows = await db.query<{product_id: string; trade_id: string; price: string; size: string}>(
        `SELECT product_id, trade_id, price::VARCHAR AS price, size::VARCHAR AS size FROM read_parquet('${dir}/processed/coinbase/market_trades/**/*.parquet', hive_partitioning = true)`,
      )
      const trim = (value: string) => (value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value)
      const sent = new Map<string, string>()
      for (const line of good) {
        const frame = JSON.parse(line)
        for (const event of frame.channel === 'market_trades' ? frame.events : []) for (const trade of event.trades) sent.set(`${trade.product_id}/${trade.trade_id}`, `${trim(trade.price)} ${trim(trade.size)}`)
        if (frame.type === 'match' || frame.type === 'last_match') sent.set(`${frame.product_id}/${frame.trade_id}`, `${trim(frame.price)} ${trim(frame.size)}`)
      }
      expect(rows.length).toBe(sent.size)
      for (const row of rows) expect(`${trim(row.price)} ${trim(row.size)}`, `${row.product_id}/${row.trade_id}`).toBe(sent.get(`${row.product_id}/${row.trade_id}`))
    } finally {
      await db.close()
    }
  })

  it('reprocessing the same segments overwrites their files instead of adding rows', async () => {
    const before = await parquetCounts(await outputs())
    await putSegments(kind === 's3' ? {bucket} : {dir: root}, bodies)
    const run = await runInProcess<EtlResult>(['etl', location, '--source', 'coinbase', '--to', location, '--json'])
    expect(run.result!.totals.segments).toBe(5)
    expect(await parquetCounts(await outputs())).toEqual(before)
  })
})
