import type {Readable} from 'node:stream'

import {
  type Channel,
  DecodeError,
  type DataSource,
  type FrameSequence,
  type GenerateOptions,
  type GeneratedObject,
  type LineDecoder,
  type LiveFeed,
  maybeDecompress,
  parseSegmentName,
  type RawObjectRef,
  readLines,
  segmentLayout,
  type SourceRecord,
  type SqlDecoder,
  type SqlDecoding,
} from '../core/source-kit.js'
import {CHANNELS, EXTRA_CHANNELS} from './channels.js'
import {decodeFrame, type ExtraChannel, newFrameState} from './frames.js'
import {generateFrames} from './generate.js'
import {advancedTradeSql} from './sql.js'

const EXTRAS = new Set<ExtraChannel>(['heartbeats', 'candles'])

/** The Advanced Trade market data feed (no authentication for these channels). */
export const ADVANCED_TRADE_URL = 'wss://advanced-trade-ws.coinbase.com'
/** Channels one can subscribe to without authentication; `heartbeats` is always added. */
const FEED_CHANNELS = new Set(['level2', 'ticker', 'ticker_batch', 'market_trades', 'candles', 'heartbeats', 'status'])
const DEFAULT_FEED_CHANNELS = ['level2', 'ticker', 'market_trades']

/** What `ingest --feed` subscribes to, from `--source-option products=… channels=…`. */
interface FeedOptions {
  products: string[]
  channels: string[]
}

/**
 * The Advanced Trade feed: one subscribe message per channel (the feed takes one channel per message) plus
 * `heartbeats`, which keeps quiet subscriptions open (the feed closes them after a minute or so without updates).
 * `sequence_num` counts every frame of a connection, across channels (the recorded captures' numbers run 0, 1, 2, …
 * through all of them), so one run of numbers covers the connection.
 */
class AdvancedTradeFeed implements LiveFeed {
  readonly url = ADVANCED_TRADE_URL
  readonly sequenceScope = 'connection'
  // Heartbeats come every second: ten silent seconds mean the connection is gone.
  readonly silenceTimeoutMs = 10_000

  constructor(private readonly options: FeedOptions) {}

  subscribeMessages(): string[] {
    const {products, channels} = this.options
    if (products.length === 0) throw new Error('products is missing: name the products to subscribe to, e.g. products=BTC-USD,ETH-USD')
    const all = [...new Set([...channels, 'heartbeats'])]
    return all.map((channel) => JSON.stringify({type: 'subscribe', product_ids: products, channel}))
  }

  frameSequence(frame: Record<string, unknown>): FrameSequence | undefined {
    return typeof frame.sequence_num === 'number' && typeof frame.channel === 'string' ? {channel: frame.channel, sequence: frame.sequence_num} : undefined
  }
}

/**
 * Coinbase WebSocket market data as an ingester writes it: one raw frame per NDJSON line, from the Advanced Trade
 * feed (`channel`, `timestamp`, `sequence_num`, `events[…]`) or the legacy Exchange feed (`type`). Records go to the
 * channels ticker, level2 and market_trades (heartbeats and candles with `keep=`), partitioned by product and date.
 */
class CoinbaseSource implements DataSource, LineDecoder, SqlDecoder {
  readonly name = 'coinbase'
  readonly description = 'Coinbase WebSocket frames (Advanced Trade and Exchange feeds) in NDJSON segments → ticker, level2, market_trades.'
  readonly layout = segmentLayout('coinbase')
  readonly timeField = 'time'
  readonly partitionBy = ['product_id', 'date']
  readonly recordKey = ['product_id', 'sequence', 'time']
  readonly channels: Channel[]
  readonly options = {
    keep: 'Extra channels to keep, comma-separated: heartbeats, candles (ignored by default).',
    products: 'ingest --feed: products to subscribe to, comma-separated (BTC-USD,ETH-USD).',
    channels: `ingest --feed: channels to subscribe to, comma-separated (default ${DEFAULT_FEED_CHANNELS.join(',')}; heartbeats always).`,
  }
  readonly feed: LiveFeed

  constructor(
    private readonly keep: ReadonlySet<ExtraChannel> = new Set(),
    feedOptions: FeedOptions = {products: [], channels: DEFAULT_FEED_CHANNELS},
  ) {
    this.channels = [...CHANNELS, ...EXTRA_CHANNELS.filter((channel) => keep.has(channel.name as ExtraChannel))]
    this.feed = new AdvancedTradeFeed(feedOptions)
  }

  configure(options: Record<string, string>): DataSource {
    const keep = new Set<ExtraChannel>()
    const feed: FeedOptions = {products: [], channels: DEFAULT_FEED_CHANNELS}
    const list = (value: string) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
    for (const [key, value] of Object.entries(options)) {
      if (key === 'keep') {
        for (const name of list(value)) {
          if (!EXTRAS.has(name as ExtraChannel)) throw new Error(`keep=${name}: not a channel that can be kept (heartbeats, candles)`)
          keep.add(name as ExtraChannel)
        }
      } else if (key === 'products') {
        feed.products = list(value)
        for (const product of feed.products) if (!/^[A-Z0-9]+-[A-Z0-9]+$/.test(product)) throw new Error(`products=${product}: not a product id like BTC-USD`)
      } else if (key === 'channels') {
        feed.channels = list(value)
        for (const channel of feed.channels) if (!FEED_CHANNELS.has(channel)) throw new Error(`channels=${channel}: not a channel of the feed (${[...FEED_CHANNELS].join(', ')})`)
      } else throw new Error(`unknown option "${key}" (known: ${Object.keys(this.options).join(', ')})`)
    }
    return new CoinbaseSource(keep, feed)
  }

  channelOf(record: SourceRecord): string | undefined {
    return record.channel as string | undefined
  }

  recordTime(record: SourceRecord): Date | undefined {
    return typeof record.time === 'string' ? new Date(record.time) : undefined
  }

  startObject(object: RawObjectRef): unknown {
    return newFrameState(this.keep, object.time ?? this.layout.timeFromKey(object.key), parseSegmentName(object.key)?.n ?? 0)
  }

  decodeLine(text: string, state: unknown, out: SourceRecord[]): void {
    if (text.length === 0) return
    decodeFrame(text, state as ReturnType<typeof newFrameState>, out)
  }

  async *decode(body: Readable, object: RawObjectRef): AsyncIterable<SourceRecord> {
    const state = this.startObject(object)
    const out: SourceRecord[] = []
    for await (const line of readLines(await maybeDecompress(body))) {
      try {
        this.decodeLine(line.text, state, out)
      } catch (error) {
        if (error instanceof DecodeError) throw new DecodeError(`line ${line.number}: ${error.message}`, {...error.where, line: line.number})
        throw error
      }
      yield* out
      out.length = 0
    }
  }

  /** DuckDB decodes Advanced Trade segments itself for Parquet (the frame decoder handles everything else). */
  sqlDecoding(file: string, prefix: string): SqlDecoding | undefined {
    return this.keep.size === 0 ? advancedTradeSql(file, prefix) : undefined
  }

  generate(options: GenerateOptions): AsyncIterable<GeneratedObject> {
    return generateFrames(options)
  }
}

/** The coinbase source with its default channels. */
export function coinbaseSource(): DataSource {
  return new CoinbaseSource()
}
