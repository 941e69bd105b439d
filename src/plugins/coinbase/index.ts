import type {Readable} from 'node:stream'

import {
  type Channel,
  DecodeError,
  type DataSource,
  type GenerateOptions,
  type GeneratedObject,
  type LineDecoder,
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
  readonly options = {keep: 'Extra channels to keep, comma-separated: heartbeats, candles (ignored by default).'}

  constructor(private readonly keep: ReadonlySet<ExtraChannel> = new Set()) {
    this.channels = [...CHANNELS, ...EXTRA_CHANNELS.filter((channel) => keep.has(channel.name as ExtraChannel))]
  }

  configure(options: Record<string, string>): DataSource {
    const keep = new Set<ExtraChannel>()
    for (const [key, value] of Object.entries(options)) {
      if (key !== 'keep') throw new Error(`unknown option "${key}" (known: keep)`)
      for (const name of value.split(',').map((part) => part.trim()).filter(Boolean)) {
        if (!EXTRAS.has(name as ExtraChannel)) throw new Error(`keep=${name}: not a channel that can be kept (heartbeats, candles)`)
        keep.add(name as ExtraChannel)
      }
    }
    return new CoinbaseSource(keep)
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
