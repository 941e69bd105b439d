import type {Channel, JsonSchema} from '../core/source-kit.js'
import {DECIMAL_KINDS} from './frames.js'

/**
 * Column kinds of the channel schemas. Every property carries `x-sql-type`, which etl uses for Parquet and Postgres
 * columns: prices and sizes are exact DECIMALs (see DECIMAL_KINDS), never a float; times are microsecond UTC.
 */
const decimal = (kind: keyof typeof DECIMAL_KINDS, nullable = false) => ({type: nullable ? ['string', 'null'] : 'string', pattern: DECIMAL_KINDS[kind].pattern.source, 'x-sql-type': DECIMAL_KINDS[kind].sqlType})
const DECIMAL = decimal('price')
const NULLABLE_DECIMAL = decimal('price', true)
const NULLABLE_VOLUME = decimal('volume', true)
const TIME = {type: 'string', format: 'date-time', 'x-sql-type': 'TIMESTAMPTZ'}
const TEXT = {type: 'string', 'x-sql-type': 'VARCHAR'}
const NULLABLE_TEXT = {type: ['string', 'null'], 'x-sql-type': 'VARCHAR'}
const BIGINT = {type: 'integer', 'x-sql-type': 'BIGINT'}
const NULLABLE_BIGINT = {type: ['integer', 'null'], 'x-sql-type': 'BIGINT'}
const DATE = {type: 'string', format: 'date', 'x-sql-type': 'DATE'}

function schema(title: string, properties: Record<string, Record<string, unknown>>): JsonSchema {
  const required = Object.entries(properties)
    .filter(([, p]) => !Array.isArray(p.type))
    .map(([name]) => name)
  return {$schema: 'https://json-schema.org/draft/2020-12/schema', title, type: 'object', properties, required}
}

const common = {feed: {...TEXT, enum: ['advanced_trade', 'exchange']}, product_id: TEXT, time: TIME, date: DATE, sequence: BIGINT}

/** The tables the coinbase source routes records to. */
export const CHANNELS: Channel[] = [
  {
    name: 'ticker',
    description: 'One row per ticker message (Advanced Trade `ticker` events, Exchange `ticker` frames).',
    // Advanced Trade sequence numbers restart with every connection; the frame time keeps reconnects apart.
    recordKey: ['product_id', 'sequence', 'time'],
    schema: schema('coinbase ticker', {
      ...common,
      event_type: TEXT,
      price: DECIMAL,
      best_bid: NULLABLE_DECIMAL,
      best_ask: NULLABLE_DECIMAL,
      best_bid_quantity: NULLABLE_DECIMAL,
      best_ask_quantity: NULLABLE_DECIMAL,
      volume_24_h: NULLABLE_VOLUME,
      low_24_h: NULLABLE_DECIMAL,
      high_24_h: NULLABLE_DECIMAL,
      low_52_w: NULLABLE_DECIMAL,
      high_52_w: NULLABLE_DECIMAL,
      price_percent_chg_24_h: decimal('ratio', true),
      open_24_h: NULLABLE_DECIMAL,
      volume_30_d: NULLABLE_VOLUME,
      side: NULLABLE_TEXT,
      trade_id: NULLABLE_TEXT,
      last_size: NULLABLE_DECIMAL,
    }),
  },
  {
    name: 'level2',
    description: 'One row per order-book level change (Advanced Trade `l2_data` updates and snapshots, Exchange `l2update`/`snapshot`).',
    // A price level appears once per side in a frame; frames are told apart by sequence (per connection) and time.
    recordKey: ['product_id', 'sequence', 'time', 'side', 'price_level'],
    schema: schema('coinbase level2', {...common, event_type: TEXT, side: {...TEXT, enum: ['bid', 'offer']}, price_level: DECIMAL, new_quantity: DECIMAL}),
  },
  {
    name: 'market_trades',
    description: 'One row per trade (Advanced Trade `market_trades`, Exchange `match`/`last_match`).',
    // Coinbase numbers trades per product, so trade_id alone repeats across products.
    recordKey: ['product_id', 'trade_id'],
    schema: schema('coinbase market_trades', {
      feed: common.feed,
      product_id: TEXT,
      trade_id: TEXT,
      time: TIME,
      date: DATE,
      sequence: BIGINT,
      event_type: TEXT,
      price: DECIMAL,
      size: DECIMAL,
      side: NULLABLE_TEXT,
      maker_order_id: NULLABLE_TEXT,
      taker_order_id: NULLABLE_TEXT,
    }),
  },
]

/** Channels kept only with `--source-option keep=heartbeats,candles`. */
export const EXTRA_CHANNELS: Channel[] = [
  {
    name: 'heartbeats',
    description: 'Heartbeat frames (kept with keep=heartbeats).',
    recordKey: ['sequence', 'time'],
    partitionBy: ['date'],
    schema: schema('coinbase heartbeats', {feed: common.feed, product_id: NULLABLE_TEXT, time: TIME, date: DATE, sequence: BIGINT, heartbeat_counter: NULLABLE_BIGINT, current_time: NULLABLE_TEXT}),
  },
  {
    name: 'candles',
    description: 'Five-minute candles (kept with keep=candles); a candle is updated while it is open.',
    recordKey: ['product_id', 'start'],
    schema: schema('coinbase candles', {
      feed: common.feed,
      product_id: TEXT,
      start: TIME,
      time: TIME,
      date: DATE,
      sequence: BIGINT,
      event_type: TEXT,
      open: DECIMAL,
      high: DECIMAL,
      low: DECIMAL,
      close: DECIMAL,
      volume: decimal('volume'),
    }),
  },
]
