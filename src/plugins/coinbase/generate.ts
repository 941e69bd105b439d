import type {GeneratedObject, GenerateOptions} from '../core/source-kit.js'
import {seededRandom, segmentKey, segmentName} from '../core/source-kit.js'

interface Product {
  id: string
  /** Price in cents (integers keep the random walk exact). */
  cents: number
  nextTradeId: number
  volume: number
}

const SEGMENT_BYTES = 8 * 1024 * 1024

/** Cents as the feed prints a price: no trailing zeros (`65083.6`, `126296`). */
function price(cents: number): string {
  const whole = Math.floor(cents / 100)
  const frac = cents % 100
  if (frac === 0) return String(whole)
  return frac % 10 === 0 ? `${whole}.${frac / 10}` : `${whole}.${String(frac).padStart(2, '0')}`
}

/** A size with up to 8 decimals, trailing zeros trimmed, as the feed prints it. */
function size(random: () => number, scale: number): string {
  const units = Math.max(1, Math.floor(random() * scale * 1e8))
  const text = String(units).padStart(9, '0')
  const fixed = `${text.slice(0, -8)}.${text.slice(-8)}`.replace(/0+$/, '').replace(/\.$/, '')
  return fixed
}

/**
 * RFC 3339 with nanoseconds, trailing zeros trimmed (so the number of fraction digits varies, like the real feed):
 * `ms` and then `nanos` (taken below a millisecond), so frame times follow sequence numbers as the feed's do.
 */
function timestamp(ms: number, nanos: number): string {
  const base = new Date(ms).toISOString().slice(0, 19)
  const fraction = String((ms % 1000) * 1_000_000 + (nanos % 1_000_000))
    .padStart(9, '0')
    .replace(/0+$/, '')
  return fraction ? `${base}.${fraction}Z` : `${base}Z`
}

/** Microsecond event time, trailing zeros trimmed, as Advanced Trade prints `event_time` and trade `time`. */
function micros(ms: number, micro: number): string {
  const base = new Date(ms).toISOString().slice(0, 19)
  const fraction = String(micro).padStart(6, '0').replace(/0+$/, '')
  return fraction ? `${base}.${fraction}Z` : `${base}Z`
}

/**
 * Synthetic Advanced Trade frames in the real segment layout: l2_data updates (most of the feed), tickers, market
 * trades and heartbeats for BTC-USD, ETH-USD and SOL-USD, one connection with contiguous `sequence_num`, random-walk
 * prices on a one-cent grid, per-product increasing trade ids. `rate` is frames per hour (default 36,000). Each raw
 * frame (one NDJSON line) counts as one record, as `etl` counts a segment's lines.
 */
export async function* generateFrames(options: GenerateOptions): AsyncIterable<GeneratedObject> {
  const random = seededRandom(options.seed)
  const rate = options.rate ?? 36_000
  const products: Product[] = [
    {id: 'BTC-USD', cents: 6_508_367, nextTradeId: 1_068_572_091, volume: 2867},
    {id: 'ETH-USD', cents: 191_941, nextTradeId: 712_004_113, volume: 19_975},
    {id: 'SOL-USD', cents: 15_012, nextTradeId: 98_117_220, volume: 310_422},
  ]
  let sequence = 0
  let heartbeat = 41_691
  const start = Math.floor(options.range.from.getTime() / 3_600_000) * 3_600_000
  for (let hour = start; hour < options.range.to.getTime(); hour += 3_600_000) {
    let n = 0
    let lines: string[] = []
    let bytes = 0
    const step = 3_600_000 / rate
    for (let i = 0; i < rate; i++) {
      const ms = Math.floor(hour + i * step + random() * step)
      if (ms < options.range.from.getTime() || ms >= options.range.to.getTime()) continue
      const ts = timestamp(ms, Math.floor(random() * 1e9))
      const roll = random()
      const product = products[Math.floor(random() * products.length)]
      product.cents = Math.max(100, product.cents + Math.round((random() - 0.5) * 6))
      let line: string
      if (roll < 0.75) {
        const updates: string[] = []
        const count = 1 + Math.floor(random() * 12)
        // Event times precede the frame a little, as the exchange's do, but never fall before the range asked for.
        const eventTime = micros(Math.max(options.range.from.getTime(), ms - 20), Math.floor(random() * 1e6))
        const used = new Set<number>()
        for (let u = 0; u < count; u++) {
          const bid = random() < 0.5
          const offset = 1 + Math.floor(random() * 400)
          // One update per side and price level in a frame, as the real feed sends.
          const level = bid ? -offset : offset
          if (used.has(level)) continue
          used.add(level)
          const quantity = random() < 0.2 ? '0' : size(random, 0.5)
          updates.push(`{"side":"${bid ? 'bid' : 'offer'}","event_time":"${eventTime}","price_level":"${price(product.cents + level)}","new_quantity":"${quantity}"}`)
        }
        line = `{"channel":"l2_data","timestamp":"${ts}","sequence_num":${sequence},"events":[{"type":"update","product_id":"${product.id}","updates":[${updates.join(',')}]}]}`
      } else if (roll < 0.9) {
        const mid = product.cents
        line = `{"channel":"ticker","timestamp":"${ts}","sequence_num":${sequence},"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"${product.id}","price":"${price(mid)}","volume_24_h":"${product.volume}.${String(Math.floor(random() * 1e8)).padStart(8, '1')}","low_24_h":"${price(Math.floor(mid * 0.99))}","high_24_h":"${price(Math.ceil(mid * 1.01))}","low_52_w":"${price(Math.floor(mid * 0.6))}","high_52_w":"${price(Math.ceil(mid * 1.9))}","price_percent_chg_24_h":"${(random() * 4 - 2).toFixed(14)}","best_bid":"${price(mid - 1)}","best_ask":"${price(mid)}","best_bid_quantity":"${size(random, 1)}","best_ask_quantity":"${size(random, 1)}"}]}]}`
      } else if (roll < 0.98) {
        const trades: string[] = []
        const count = 1 + Math.floor(random() * 3)
        for (let t = 0; t < count; t++) {
          const side = random() < 0.5 ? 'BUY' : 'SELL'
          trades.push(
            `{"product_id":"${product.id}","trade_id":"${product.nextTradeId++}","price":"${price(product.cents)}","size":"${size(random, 0.05)}","time":"${micros(Math.max(options.range.from.getTime(), ms - 60), Math.floor(random() * 1e6))}","side":"${side}"}`,
          )
        }
        line = `{"channel":"market_trades","timestamp":"${ts}","sequence_num":${sequence},"events":[{"type":"update","trades":[${trades.join(',')}]}]}`
      } else {
        line = `{"channel":"heartbeats","timestamp":"${ts}","sequence_num":${sequence},"events":[{"current_time":"${ts.slice(0, 10)} ${ts.slice(11, -1)} +0000 UTC m=+${heartbeat}.260485341","heartbeat_counter":${heartbeat++}}]}`
      }
      sequence++
      lines.push(line)
      bytes += line.length + 1
      if (bytes >= SEGMENT_BYTES) {
        yield {key: segmentKey('ready', 'coinbase', segmentName(new Date(hour), n++)), body: lines.join('\n') + '\n', records: lines.length}
        lines = []
        bytes = 0
      }
    }
    if (lines.length > 0) yield {key: segmentKey('ready', 'coinbase', segmentName(new Date(hour), n++)), body: lines.join('\n') + '\n', records: lines.length}
  }
}
