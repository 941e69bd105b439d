import {DecodeError, type SourceRecord} from '../core/source-kit.js'

/** Which Coinbase feed a record came from. */
export type Feed = 'advanced_trade' | 'exchange'

/** Optional channels beside ticker, level2 and market_trades, kept only when asked for (`--source-option keep=…`). */
export type ExtraChannel = 'heartbeats' | 'candles'

/**
 * Per-segment decoding state. The legacy Exchange level2 channel carries no sequence number, so its records take
 * their frame's place in the feed as `sequence`: the segment's number times {@link FRAMES_PER_SEGMENT} plus the
 * frame's position in it. That keeps two updates of one price level at one timestamp apart and in feed order even
 * when they fall into different segments (a per-segment count gave both 0 there, and the upsert kept only one), and
 * it is the same on every reprocessing of a segment. Legacy snapshots carry no time at all and take the last event
 * time seen before them (else the segment's hour).
 */
export interface FrameState {
  lastTime?: string
  fallbackTime?: string
  /** `sequence` of the segment's first frame: its number (`segment_<hour>_<n>`) times FRAMES_PER_SEGMENT. */
  segmentBase: number
  /** Frames (non-empty lines) decoded so far. */
  frames: number
  keep: ReadonlySet<ExtraChannel>
}

/** Room for the frames of one segment in a level2 `sequence` (a 100 MB segment holds about a million frames). */
export const FRAMES_PER_SEGMENT = 1_000_000_000

/** A fresh state for one segment (`segmentNumber`: the `n` of `segment_<hour>_<n>`, 0 for other objects). */
export function newFrameState(keep: ReadonlySet<ExtraChannel>, segmentTime?: Date, segmentNumber = 0): FrameState {
  return {segmentBase: segmentNumber * FRAMES_PER_SEGMENT, frames: 0, keep, fallbackTime: segmentTime ? segmentTime.toISOString().replace(/\.\d{3}Z$/, '.000000Z') : undefined}
}

const TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)$/
/**
 * The exact decimal columns: prices, sizes and quantities are DECIMAL(18,8) (Coinbase quotes and sizes have at most
 * 8 decimals; the 64-bit form is many times faster to write than a 128-bit one), 24 h / 30 d volumes DECIMAL(38,8),
 * the percent change DECIMAL(38,18). A value a column cannot hold without rounding is refused, never rounded.
 */
export const DECIMAL_KINDS = {
  price: {pattern: /^-?\d{1,10}(?:\.\d{1,8})?$/, sqlType: 'DECIMAL(18,8)', text: 'at most 10 integer and 8 fraction digits'},
  volume: {pattern: /^-?\d{1,30}(?:\.\d{1,8})?$/, sqlType: 'DECIMAL(38,8)', text: 'at most 30 integer and 8 fraction digits'},
  ratio: {pattern: /^-?\d{1,20}(?:\.\d{1,18})?$/, sqlType: 'DECIMAL(38,18)', text: 'at most 20 integer and 18 fraction digits'},
} as const
type DecimalKind = keyof typeof DECIMAL_KINDS

/**
 * An RFC 3339 UTC time with 0–9 fraction digits (the feed trims trailing zeros) as a fixed-width microsecond ISO
 * string: Parquet and Postgres keep microseconds, so nanoseconds are truncated here, once, the same for both sinks.
 */
export function eventTime(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new DecodeError(`${field} is ${value === undefined ? 'missing' : `not a string (${JSON.stringify(value)})`}`, {field})
  const match = TIME.exec(value)
  if (match) return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0').slice(0, 6)}Z`
  const parsed = Date.parse(value)
  if (Number.isNaN(parsed)) throw new DecodeError(`${field} "${value}" is not an RFC 3339 time`, {field})
  return new Date(parsed).toISOString().replace(/Z$/, '000Z')
}

/** A price, size or volume kept exactly as sent; refuses what its DECIMAL column could not hold without rounding. */
function decimal(value: unknown, field: string, optional = false, kind: DecimalKind = 'price'): string | null {
  if (value === undefined || value === null || value === '') {
    if (optional) return null
    throw new DecodeError(`${field} is missing`, {field})
  }
  const {pattern, text} = DECIMAL_KINDS[kind]
  if (typeof value === 'string' && pattern.test(value)) return value
  if (typeof value === 'number' && Number.isFinite(value) && pattern.test(String(value))) return String(value)
  throw new DecodeError(`${field} ${JSON.stringify(value)} is not a decimal of ${text}`, {field})
}

function text(value: unknown, field: string, optional = false): string | null {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number') return String(value)
  if (optional && (value === undefined || value === null)) return null
  throw new DecodeError(`${field} is ${value === undefined ? 'missing' : `not a string (${JSON.stringify(value)})`}`, {field})
}

function integer(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value)
  throw new DecodeError(`${field} ${value === undefined ? 'is missing' : `${JSON.stringify(value)} is not an integer`}`, {field})
}

function list(value: unknown, field: string): unknown[] {
  if (Array.isArray(value)) return value
  throw new DecodeError(`${field} is ${value === undefined ? 'missing' : 'not an array'}`, {field})
}

type Json = Record<string, unknown>

/**
 * Decodes one raw WebSocket frame (one NDJSON line) into records: Advanced Trade frames have `channel`, legacy
 * Exchange frames `type`. Control frames (subscriptions, errors, status) give no records; a frame that is not JSON
 * or lacks what its channel needs raises a {@link DecodeError}.
 */
export function decodeFrame(line: string, state: FrameState, out: SourceRecord[]): void {
  state.frames++
  let frame: Json
  try {
    frame = JSON.parse(line) as Json
  } catch (error) {
    throw new DecodeError(`not JSON: ${(error as Error).message}`)
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) throw new DecodeError('not a JSON object')
  if (typeof frame.channel === 'string') advancedTrade(frame, state, out)
  else if (typeof frame.type === 'string') exchange(frame, state, out)
  else throw new DecodeError('neither a "channel" (Advanced Trade) nor a "type" (Exchange) field')
}

function advancedTrade(frame: Json, state: FrameState, out: SourceRecord[]): void {
  const channel = frame.channel as string
  if (channel === 'subscriptions' || channel === 'status' || channel === 'user' || channel === 'futures_balance_summary') return
  const frameTime = eventTime(frame.timestamp, 'timestamp')
  const sequence = integer(frame.sequence_num, 'sequence_num')
  state.lastTime = frameTime
  const events = list(frame.events, 'events') as Json[]
  for (const event of events) {
    const eventType = typeof event.type === 'string' ? event.type : 'update'
    switch (channel) {
      case 'ticker':
      case 'ticker_batch': {
        for (const t of list(event.tickers, 'events[].tickers') as Json[]) {
          out.push({
            channel: 'ticker',
            feed: 'advanced_trade',
            product_id: text(t.product_id, 'product_id'),
            time: frameTime,
            date: frameTime.slice(0, 10),
            sequence,
            event_type: eventType,
            price: decimal(t.price, 'price'),
            best_bid: decimal(t.best_bid, 'best_bid', true),
            best_ask: decimal(t.best_ask, 'best_ask', true),
            best_bid_quantity: decimal(t.best_bid_quantity, 'best_bid_quantity', true),
            best_ask_quantity: decimal(t.best_ask_quantity, 'best_ask_quantity', true),
            volume_24_h: decimal(t.volume_24_h, 'volume_24_h', true, 'volume'),
            low_24_h: decimal(t.low_24_h, 'low_24_h', true),
            high_24_h: decimal(t.high_24_h, 'high_24_h', true),
            low_52_w: decimal(t.low_52_w, 'low_52_w', true),
            high_52_w: decimal(t.high_52_w, 'high_52_w', true),
            price_percent_chg_24_h: decimal(t.price_percent_chg_24_h, 'price_percent_chg_24_h', true, 'ratio'),
            open_24_h: null,
            volume_30_d: null,
            side: null,
            trade_id: null,
            last_size: null,
          })
        }
        break
      }
      case 'l2_data':
      case 'level2': {
        const productId = text(event.product_id, 'events[].product_id')
        for (const u of list(event.updates, 'events[].updates') as Json[]) {
          const time = u.event_time === undefined ? frameTime : eventTime(u.event_time, 'event_time')
          out.push({
            channel: 'level2',
            feed: 'advanced_trade',
            product_id: productId,
            time,
            date: time.slice(0, 10),
            sequence,
            event_type: eventType,
            side: text(u.side, 'side'),
            price_level: decimal(u.price_level, 'price_level'),
            new_quantity: decimal(u.new_quantity, 'new_quantity'),
          })
        }
        break
      }
      case 'market_trades': {
        for (const t of list(event.trades, 'events[].trades') as Json[]) {
          const time = eventTime(t.time, 'time')
          out.push({
            channel: 'market_trades',
            feed: 'advanced_trade',
            product_id: text(t.product_id, 'product_id'),
            trade_id: text(t.trade_id, 'trade_id'),
            time,
            date: time.slice(0, 10),
            sequence,
            event_type: eventType,
            price: decimal(t.price, 'price'),
            size: decimal(t.size, 'size'),
            side: text(t.side, 'side', true),
            maker_order_id: null,
            taker_order_id: null,
          })
        }
        break
      }
      case 'heartbeats': {
        if (!state.keep.has('heartbeats')) return
        out.push({
          channel: 'heartbeats',
          feed: 'advanced_trade',
          product_id: null,
          time: frameTime,
          date: frameTime.slice(0, 10),
          sequence,
          heartbeat_counter: typeof event.heartbeat_counter === 'number' ? event.heartbeat_counter : null,
          current_time: text(event.current_time, 'current_time', true),
        })
        break
      }
      case 'candles': {
        if (!state.keep.has('candles')) return
        for (const c of list(event.candles, 'events[].candles') as Json[]) {
          const start = new Date(integer(c.start, 'start') * 1000).toISOString().replace(/Z$/, '000Z')
          out.push({
            channel: 'candles',
            feed: 'advanced_trade',
            product_id: text(c.product_id, 'product_id'),
            start,
            time: frameTime,
            date: start.slice(0, 10),
            sequence,
            event_type: eventType,
            open: decimal(c.open, 'open'),
            high: decimal(c.high, 'high'),
            low: decimal(c.low, 'low'),
            close: decimal(c.close, 'close'),
            volume: decimal(c.volume, 'volume', false, 'volume'),
          })
        }
        break
      }
      default:
        return
    }
  }
}

function exchange(frame: Json, state: FrameState, out: SourceRecord[]): void {
  switch (frame.type) {
    case 'ticker': {
      const time = eventTime(frame.time, 'time')
      state.lastTime = time
      out.push({
        channel: 'ticker',
        feed: 'exchange',
        product_id: text(frame.product_id, 'product_id'),
        time,
        date: time.slice(0, 10),
        sequence: integer(frame.sequence, 'sequence'),
        event_type: 'ticker',
        price: decimal(frame.price, 'price'),
        best_bid: decimal(frame.best_bid, 'best_bid', true),
        best_ask: decimal(frame.best_ask, 'best_ask', true),
        best_bid_quantity: decimal(frame.best_bid_size, 'best_bid_size', true),
        best_ask_quantity: decimal(frame.best_ask_size, 'best_ask_size', true),
        volume_24_h: decimal(frame.volume_24h, 'volume_24h', true, 'volume'),
        low_24_h: decimal(frame.low_24h, 'low_24h', true),
        high_24_h: decimal(frame.high_24h, 'high_24h', true),
        low_52_w: null,
        high_52_w: null,
        price_percent_chg_24_h: null,
        open_24_h: decimal(frame.open_24h, 'open_24h', true),
        volume_30_d: decimal(frame.volume_30d, 'volume_30d', true, 'volume'),
        side: text(frame.side, 'side', true),
        trade_id: frame.trade_id === undefined ? null : text(frame.trade_id, 'trade_id'),
        last_size: decimal(frame.last_size, 'last_size', true),
      })
      return
    }
    case 'l2update': {
      const productId = text(frame.product_id, 'product_id') as string
      const time = eventTime(frame.time, 'time')
      state.lastTime = time
      const sequence = state.segmentBase + state.frames
      for (const change of list(frame.changes, 'changes')) {
        const [side, price, size] = list(change, 'changes[]')
        out.push({
          channel: 'level2',
          feed: 'exchange',
          product_id: productId,
          time,
          date: time.slice(0, 10),
          sequence,
          event_type: 'update',
          side: side === 'buy' ? 'bid' : side === 'sell' ? 'offer' : text(side, 'changes[][0]'),
          price_level: decimal(price, 'changes[][1]'),
          new_quantity: decimal(size, 'changes[][2]'),
        })
      }
      return
    }
    case 'snapshot': {
      const productId = text(frame.product_id, 'product_id') as string
      const time = state.lastTime ?? state.fallbackTime
      if (!time) throw new DecodeError('snapshot frame has no time and no earlier frame or segment time to take it from')
      const sequence = state.segmentBase + state.frames
      for (const [field, side] of [
        ['bids', 'bid'],
        ['asks', 'offer'],
      ] as const) {
        for (const level of list(frame[field], field)) {
          const [price, size] = list(level, `${field}[]`)
          out.push({
            channel: 'level2',
            feed: 'exchange',
            product_id: productId,
            time,
            date: time.slice(0, 10),
            sequence,
            event_type: 'snapshot',
            side,
            price_level: decimal(price, `${field}[][0]`),
            new_quantity: decimal(size, `${field}[][1]`),
          })
        }
      }
      return
    }
    case 'match':
    case 'last_match': {
      const time = eventTime(frame.time, 'time')
      state.lastTime = time
      out.push({
        channel: 'market_trades',
        feed: 'exchange',
        product_id: text(frame.product_id, 'product_id'),
        trade_id: text(frame.trade_id, 'trade_id'),
        time,
        date: time.slice(0, 10),
        sequence: integer(frame.sequence, 'sequence'),
        event_type: frame.type,
        price: decimal(frame.price, 'price'),
        size: decimal(frame.size, 'size'),
        side: text(frame.side, 'side', true),
        maker_order_id: text(frame.maker_order_id, 'maker_order_id', true),
        taker_order_id: text(frame.taker_order_id, 'taker_order_id', true),
      })
      return
    }
    case 'heartbeat': {
      if (!state.keep.has('heartbeats')) return
      const time = eventTime(frame.time, 'time')
      out.push({
        channel: 'heartbeats',
        feed: 'exchange',
        product_id: text(frame.product_id, 'product_id', true),
        time,
        date: time.slice(0, 10),
        sequence: integer(frame.sequence, 'sequence'),
        heartbeat_counter: null,
        current_time: null,
      })
      return
    }
    default:
      // subscriptions, error, status and the full channel's order messages carry no market data for these tables.
      return
  }
}
