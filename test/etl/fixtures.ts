import {GetObjectCommand, ListObjectsV2Command, PutObjectCommand} from '@aws-sdk/client-s3'
import fs from 'node:fs'
import path from 'node:path'

import {openDuckDB} from '../../src/plugins/core/duckdb/duckdb.js'
import {advancedTradeFrames as generatedFrames} from '../fixtures/generated.js'
import {ROOT} from '../helpers/cli.js'
import {testS3Client} from '../helpers/s3.js'

/**
 * Advanced Trade frames (about 1,000 lines, 2026-08-09 21:05:48–21:06:12 UTC) in the shapes of cryptofeed's capture,
 * generated: the real capture is AGPL-3.0 (see test/fixtures/README.md).
 */
const ADVANCED_TRADE = await generatedFrames()

/** Raw Advanced Trade frames, one per line, as the feed sends them (every channel, snapshots but the l2 books). */
export function advancedTradeFrames(): string[] {
  return [...ADVANCED_TRADE]
}

/** The legacy Exchange capture (2021-04-17, cryptofeed's master branch, BSD-style; vendored, first 500 lines). */
export const EXCHANGE_CAPTURE = path.join(ROOT, 'test', 'fixtures', 'coinbase', 'COINBASE.ws.28.0')

/** Raw legacy Exchange frames, taken out of cryptofeed's `<epoch>: <frame>` capture lines. */
export function exchangeFrames(): string[] {
  return fs
    .readFileSync(EXCHANGE_CAPTURE, 'utf8')
    .split('\n')
    .filter((line) => /^\d+\.\d+: \{/.test(line))
    .map((line) => line.slice(line.indexOf(': ') + 2))
}

/** Splits lines into `parts` consecutive segments' bodies. */
export function cut(lines: string[], parts: number): string[] {
  const size = Math.ceil(lines.length / parts)
  return Array.from({length: parts}, (_, i) => lines.slice(i * size, (i + 1) * size).join('\n') + '\n')
}

/**
 * Records per channel that frames hold, counted straight from the feed's documented shapes (independently of the
 * source's decoder): one per ticker, per level2 update or snapshot level, per trade.
 */
export function expectedCounts(lines: string[]): Record<string, number> {
  const counts: Record<string, number> = {ticker: 0, level2: 0, market_trades: 0}
  for (const line of lines) {
    let frame
    try {
      frame = JSON.parse(line)
    } catch {
      continue
    }
    if (frame.channel === 'ticker') for (const event of frame.events) counts.ticker += event.tickers.length
    if (frame.channel === 'l2_data') for (const event of frame.events) counts.level2 += event.updates.length
    if (frame.channel === 'market_trades') for (const event of frame.events) counts.market_trades += event.trades.length
    if (frame.type === 'ticker') counts.ticker++
    if (frame.type === 'l2update') counts.level2 += frame.changes.length
    if (frame.type === 'snapshot') counts.level2 += frame.bids.length + frame.asks.length
    if (frame.type === 'match' || frame.type === 'last_match') counts.market_trades++
  }
  return counts
}

/** Puts segment bodies under `raw/ready/coinbase/` of a local root or an S3 bucket. */
export async function putSegments(target: {dir: string} | {bucket: string}, segments: Record<string, string>): Promise<void> {
  for (const [name, body] of Object.entries(segments)) {
    const key = `raw/ready/coinbase/${name}`
    if ('dir' in target) {
      fs.mkdirSync(path.join(target.dir, 'raw/ready/coinbase'), {recursive: true})
      fs.writeFileSync(path.join(target.dir, key), body)
    } else {
      await testS3Client().send(new PutObjectCommand({Bucket: target.bucket, Key: key, Body: body}))
    }
  }
}

/** Keys under a prefix of a bucket. */
export async function s3Keys(bucket: string, prefix: string, client = testS3Client()): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken: token}))
    for (const object of page.Contents ?? []) keys.push(object.Key!)
    token = page.NextContinuationToken
  } while (token)
  return keys
}

/** Downloads every object under a prefix of a bucket into a local directory (DuckDB reads local files). */
export async function download(bucket: string, prefix: string, dir: string): Promise<void> {
  for (const key of await s3Keys(bucket, prefix)) {
    const out = await testS3Client().send(new GetObjectCommand({Bucket: bucket, Key: key}))
    fs.mkdirSync(path.dirname(path.join(dir, key)), {recursive: true})
    fs.writeFileSync(path.join(dir, key), await out.Body!.transformToByteArray())
  }
}

/** Rows and distinct record keys per channel of the Parquet outputs under `dir`, read with Hive partitioning. */
export async function parquetCounts(dir: string, keys: Record<string, string[]> = RECORD_KEYS): Promise<Record<string, {rows: number; distinct: number}>> {
  const db = await openDuckDB({threads: 1})
  try {
    const out: Record<string, {rows: number; distinct: number}> = {}
    for (const [channel, key] of Object.entries(keys)) {
      const glob = path.join(dir, 'processed', 'coinbase', channel, '**', '*.parquet')
      if (!fs.existsSync(path.join(dir, 'processed', 'coinbase', channel))) {
        out[channel] = {rows: 0, distinct: 0}
        continue
      }
      const [row] = await db.query<{rows: number; distinct: number}>(`SELECT count(*)::INT AS rows, count(DISTINCT (${key.join(', ')}))::INT AS distinct FROM read_parquet('${glob}', hive_partitioning = true)`)
      out[channel] = row
    }
    return out
  } finally {
    await db.close()
  }
}

/** The record keys of the coinbase channels (as the source declares them). */
export const RECORD_KEYS: Record<string, string[]> = {
  ticker: ['product_id', 'sequence', 'time'],
  level2: ['product_id', 'sequence', 'time', 'side', 'price_level'],
  market_trades: ['product_id', 'trade_id'],
}

/** Adds up per-channel counts. */
export function sumCounts(...all: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {}
  for (const counts of all) for (const [channel, n] of Object.entries(counts)) total[channel] = (total[channel] ?? 0) + n
  return total
}

/**
 * The Advanced Trade frames repeated `times` times, each copy with its own range of sequence numbers and trade
 * ids — so every copy's records are new records with the same shapes, sizes and quirks.
 */
export function replicatedAdvancedFrames(times: number, offset = 0): string[] {
  const lines = advancedTradeFrames()
  const out: string[] = []
  for (let copy = offset; copy < offset + times; copy++) {
    for (const line of lines) {
      out.push(line.replace(/"sequence_num":(\d+)/, (_, n) => `"sequence_num":${Number(n) + copy * 100_000}`).replace(/"trade_id":"(\d+)"/g, (_, n) => `"trade_id":"${BigInt(n) + BigInt(copy) * 10_000_000n}"`))
    }
  }
  return out
}
