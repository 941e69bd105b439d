import {type SqlDecoding, sqlString} from '../core/source-kit.js'
import {DECIMAL_KINDS} from './frames.js'

/** The frame and event shapes of the Advanced Trade feed, as DuckDB reads them (absent fields are NULL). */
const FRAME_COLUMNS = `{
  'channel': 'VARCHAR', 'timestamp': 'VARCHAR', 'sequence_num': 'BIGINT',
  'events': 'STRUCT("type" VARCHAR, product_id VARCHAR,
    updates STRUCT(side VARCHAR, event_time VARCHAR, price_level VARCHAR, new_quantity VARCHAR)[],
    tickers STRUCT(product_id VARCHAR, price VARCHAR, volume_24_h VARCHAR, low_24_h VARCHAR, high_24_h VARCHAR, low_52_w VARCHAR, high_52_w VARCHAR,
      price_percent_chg_24_h VARCHAR, best_bid VARCHAR, best_ask VARCHAR, best_bid_quantity VARCHAR, best_ask_quantity VARCHAR)[],
    trades STRUCT(product_id VARCHAR, trade_id VARCHAR, price VARCHAR, size VARCHAR, "time" VARCHAR, side VARCHAR)[])[]'
}`

const TIME_PATTERN = sqlString('^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$')

/**
 * The frame decoder's `eventTime` as a TIMESTAMPTZ: DuckDB's cast truncates 7–9 fraction digits to microseconds,
 * as `eventTime` does (the check's TIME_PATTERN has fixed the shape). Four times cheaper than rebuilding the
 * fixed-width string first, and level2 has one per row.
 */
const timestamp = (value: string) => `TRY_CAST(${value} AS TIMESTAMPTZ)`
const timeOk = (value: string) => `coalesce(regexp_full_match(${value}, ${TIME_PATTERN}), false)`
const text = (value: string) => `(${value} IS NOT NULL AND ${value} <> '')`
const optionalText = (value: string) => `(${value} IS NULL OR ${value} <> '')`

function decimal(value: string, kind: keyof typeof DECIMAL_KINDS, optional: boolean): {value: string; ok: string} {
  const {pattern, sqlType} = DECIMAL_KINDS[kind]
  const matches = `coalesce(regexp_full_match(${value}, ${sqlString(pattern.source)}), false)`
  const input = optional ? `nullif(${value}, '')` : value
  return optional ? {value: castDecimal(input, sqlType), ok: `(${value} IS NULL OR ${value} = '' OR ${matches})`} : {value: castDecimal(input, sqlType), ok: matches}
}

/**
 * TRY_CAST to a DECIMAL; a 128-bit one (precision > 18) goes through DECIMAL(18, scale) first when the value fits:
 * DuckDB parses a string into a 128-bit decimal ~15× slower, and the narrow cast is exact (same scale; the check
 * limits the fraction digits) or NULL when the value is too large, which then takes the wide cast.
 */
function castDecimal(input: string, sqlType: string): string {
  const [, precision, scale] = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(sqlType) ?? []
  if (!precision || Number(precision) <= 18) return `TRY_CAST(${input} AS ${sqlType})`
  return `coalesce(CAST(TRY_CAST(${input} AS DECIMAL(18,${scale})) AS ${sqlType}), TRY_CAST(${input} AS ${sqlType}))`
}

/**
 * DuckDB's decoding of a segment of Advanced Trade frames into the ticker, level2 and market_trades tables — the
 * same records the frame decoder makes. Anything it does not cover exactly (Exchange frames, kept heartbeats or
 * candles, a value the decoder would refuse) counts as bad in the check or fails a statement, and etl falls back to
 * the frame decoder for the segment.
 */
export function advancedTradeSql(file: string, prefix: string): SqlDecoding {
  const events = `${prefix}_events`
  // Channels the frame decoder returns from before reading the frame time.
  const early = `channel IN ('subscriptions', 'status', 'user', 'futures_balance_summary')`
  const tickerDecimals = {
    price: decimal('t.price', 'price', false),
    best_bid: decimal('t.best_bid', 'price', true),
    best_ask: decimal('t.best_ask', 'price', true),
    best_bid_quantity: decimal('t.best_bid_quantity', 'price', true),
    best_ask_quantity: decimal('t.best_ask_quantity', 'price', true),
    volume_24_h: decimal('t.volume_24_h', 'volume', true),
    low_24_h: decimal('t.low_24_h', 'price', true),
    high_24_h: decimal('t.high_24_h', 'price', true),
    low_52_w: decimal('t.low_52_w', 'price', true),
    high_52_w: decimal('t.high_52_w', 'price', true),
    price_percent_chg_24_h: decimal('t.price_percent_chg_24_h', 'ratio', true),
  }
  const l2 = {price_level: decimal('u.price_level', 'price', false), new_quantity: decimal('u.new_quantity', 'price', false)}
  const trade = {price: decimal('t.price', 'price', false), size: decimal('t.size', 'price', false)}
  const all = (checks: string[]) => checks.map((check) => `coalesce(${check}, false)`).join(' AND ')
  // A row the checks refuse stops the COPY: error() raises, and the segment goes to the frame decoder.
  const guard = (checks: string[]) => `WHERE (${all(checks)}) OR error('a record needs the frame decoder')`
  return {
    statements: [
      // One row per event; a frame without events keeps one row (e NULL) so its time and sequence are checked too.
      `CREATE TEMP TABLE ${events} AS SELECT channel, timestamp, sequence_num, len(events) AS n_events,
          unnest(CASE WHEN events IS NULL OR len(events) = 0 THEN [NULL] ELSE events END) AS e
        FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = ${FRAME_COLUMNS})`,
    ],
    check: `SELECT count(*) FILTER (WHERE NOT coalesce(channel IS NOT NULL AND (${early} OR (${timeOk('timestamp')} AND sequence_num IS NOT NULL AND n_events IS NOT NULL
          AND (e IS NOT NULL OR n_events = 0)
          AND (e IS NULL OR CASE
            WHEN channel IN ('ticker', 'ticker_batch') THEN e.tickers IS NOT NULL
            WHEN channel IN ('l2_data', 'level2') THEN ${text('e.product_id')} AND e.updates IS NOT NULL
            WHEN channel = 'market_trades' THEN e.trades IS NOT NULL
            ELSE true END))), false))::BIGINT AS bad,
        round(sum(1.0 / greatest(coalesce(n_events, 1), 1)))::BIGINT AS lines
      FROM ${events}`,
    channels: {
      ticker: `SELECT 'advanced_trade' AS feed, t.product_id AS product_id, CAST(timestamp AS TIMESTAMPTZ) AS time, CAST(substr(timestamp, 1, 10) AS DATE) AS date,
          sequence_num AS sequence, coalesce(e.type, 'update') AS event_type,
          ${Object.entries(tickerDecimals)
            .map(([name, column]) => `${column.value} AS ${name}`)
            .join(', ')},
          CAST(NULL AS DECIMAL(18,8)) AS open_24_h, CAST(NULL AS DECIMAL(38,8)) AS volume_30_d, CAST(NULL AS VARCHAR) AS side, CAST(NULL AS VARCHAR) AS trade_id, CAST(NULL AS DECIMAL(18,8)) AS last_size
        FROM (SELECT timestamp, sequence_num, e, unnest(e.tickers) AS t FROM ${events} WHERE channel IN ('ticker', 'ticker_batch') AND e IS NOT NULL)
        ${guard([text('t.product_id'), ...Object.values(tickerDecimals).map((column) => column.ok)])}`,
      level2: `SELECT 'advanced_trade' AS feed, e.product_id AS product_id, ${timestamp('u.event_time')} AS time, TRY_CAST(substr(u.event_time, 1, 10) AS DATE) AS date,
          sequence_num AS sequence, coalesce(e.type, 'update') AS event_type, u.side AS side,
          ${l2.price_level.value} AS price_level, ${l2.new_quantity.value} AS new_quantity
        FROM (SELECT sequence_num, e, unnest(e.updates) AS u FROM ${events} WHERE channel IN ('l2_data', 'level2') AND e IS NOT NULL)
        ${guard([timeOk('u.event_time'), text('u.side'), l2.price_level.ok, l2.new_quantity.ok])}`,
      market_trades: `SELECT 'advanced_trade' AS feed, t.product_id AS product_id, t.trade_id AS trade_id, ${timestamp('t."time"')} AS time,
          TRY_CAST(substr(t."time", 1, 10) AS DATE) AS date, sequence_num AS sequence, coalesce(e.type, 'update') AS event_type,
          ${trade.price.value} AS price, ${trade.size.value} AS size, t.side AS side,
          CAST(NULL AS VARCHAR) AS maker_order_id, CAST(NULL AS VARCHAR) AS taker_order_id
        FROM (SELECT sequence_num, e, unnest(e.trades) AS t FROM ${events} WHERE channel = 'market_trades' AND e IS NOT NULL)
        ${guard([text('t.product_id'), text('t.trade_id'), timeOk('t."time"'), trade.price.ok, trade.size.ok, optionalText('t.side')])}`,
    },
  }
}
