import type {Readable} from 'node:stream'

/** The oclif hook through which plugins (built-ins included) contribute data sources. */
export const SOURCES_HOOK = 'bucketwright:sources'

/** A JSON Schema (draft 2020-12 or 07) as ajv accepts it. */
export type JsonSchema = Record<string, unknown>

/** One record as a source yields it: a plain JSON-serialisable object. */
export type SourceRecord = Record<string, unknown>

/** A half-open time range `[from, to)`, in UTC. */
export interface TimeRange {
  from: Date
  to: Date
}

/** Where one raw object came from, handed to {@link DataSource.decode}. */
export interface RawObjectRef {
  /** Key relative to the source location root, e.g. `raw/bustimes__2021-11-10__07-15-05.json`. */
  key: string
  size?: number
  etag?: string
  /** The object's time as {@link RawLayout.timeFromKey} gives it. */
  time?: Date
}

/** How a source's raw objects are laid out under a location. */
export interface RawLayout {
  /** Human description of the keys, e.g. `raw/bustimes__YYYY-MM-DD__HH-MM-SS.json`. */
  readonly pattern: string
  /** The time of an object from its key (UTC), or `undefined` when the key is not one of the source's objects. */
  timeFromKey(key: string): Date | undefined
  /**
   * Disjoint prefixes that together hold every object of the range, in key order, so listings run in parallel
   * (typically one per day). Keys they return outside the range are filtered by {@link timeFromKey}.
   */
  prefixesFor(range: TimeRange): string[]
  /** Prefixes to list when no range is given (e.g. `['bustimes__', 'raw/bustimes__']`). */
  allPrefixes(): string[]
  /** A key for an object of this time (used by generate and ingest); `sequence` disambiguates same-time objects. */
  keyFor?(time: Date, sequence?: number): string
}

/** A table a source's records are routed to (etl): a channel of a feed, with its own schema and key. */
export interface Channel {
  name: string
  description?: string
  schema?: JsonSchema
  /** Fields that identify a record within the channel (upsert key). */
  recordKey?: string[]
  /** Hive partition columns for this channel (default: the source's). */
  partitionBy?: string[]
}

/** Options of a synthetic data generator. */
export interface GenerateOptions {
  range: TimeRange
  /** Objects (or frames) per hour; the source's own default when unset. */
  rate?: number
  seed: number
}

/** One generated raw object: its key in the source's real layout and its bytes. */
export interface GeneratedObject {
  key: string
  body: Uint8Array | string
  /** Records in the body, when the generator knows it (`generate` reports records/s from it). */
  records?: number
}

/**
 * Everything a command needs to know about one dataset. Built-in sources and third-party plugins implement
 * exactly this interface and register it through {@link SourcePluginModule}.
 */
export interface DataSource {
  /** Short, unique, kebab-case name used in `--source`. */
  readonly name: string
  readonly description: string
  readonly layout: RawLayout
  /**
   * Decodes one raw object into records, streaming. Bodies arrive as stored (the source handles its own gzip/zstd
   * or uses {@link maybeDecompress}). Throw a {@link DecodeError} for bad input: the object is quarantined.
   */
  decode(body: Readable, object: RawObjectRef): AsyncIterable<SourceRecord>
  /**
   * The format an object is in, from its key alone (bustimes: `repr` until the cutoff, `JSON` after), for sources
   * whose objects come in more than one: a dry run shows each bucket's split, since formats decode at different costs.
   */
  formatOf?(key: string): string
  /**
   * Optional fast path for commands that only serialise records (convert without `--validate`): one whole raw
   * object, as stored, straight to JSON lines — the records {@link decode} yields, one compact JSON object per line,
   * each ending in `\n`, numbers exact. Throws a {@link DecodeError} exactly where {@link decode} would.
   */
  toJsonLines?(body: Uint8Array, object: RawObjectRef): JsonLines | Promise<JsonLines>
  /** JSON Schema of one record (after derived fields), used by `--validate`, verify and etl table creation. */
  readonly schema?: JsonSchema
  /** Dotted path of the record's event time (e.g. `snapshot_time`). */
  readonly timeField: string
  /** The record's event time; defaults to parsing {@link timeField}. */
  recordTime?(record: SourceRecord): Date | undefined
  /** Hive partition columns of outputs, e.g. `['product_id', 'date']`. */
  readonly partitionBy?: string[]
  /** Fields identifying a record, for duplicates (verify) and upserts (etl). */
  readonly recordKey?: string[]
  /** Tables/channels; sources without channels have one implicit table named after the source. */
  readonly channels?: Channel[]
  /** The channel a record belongs to (required with {@link channels}). */
  channelOf?(record: SourceRecord): string | undefined
  /** Synthetic data in the real key layout, deterministic for a seed. */
  generate?(options: GenerateOptions): AsyncIterable<GeneratedObject>
  /**
   * A copy of the source with user options applied (`--source-option timeField=ts`); sources that take options
   * (json, ndjson) implement it and throw a {@link DecodeError}-free `Error` naming a bad option.
   */
  configure?(options: Record<string, string>): DataSource
  /** The options {@link configure} accepts, with a description each (shown by `sources`). */
  readonly options?: Record<string, string>
  /** How `ingest --feed` connects to the source's live WebSocket feed, for sources that have one. */
  readonly feed?: LiveFeed
}

/** A frame's place in its feed, read by {@link LiveFeed.frameSequence} for gap detection. */
export interface FrameSequence {
  /** The frame's channel (named in gap warnings; the run of numbers when the scope is `channel`). */
  channel: string
  sequence: number
}

/**
 * The live part of a source (`ingest --feed`): where its WebSocket feed is, what to send to subscribe, and how to
 * read a frame's sequence number so gaps are seen. Built from the configured source options (`configure`).
 */
export interface LiveFeed {
  /** The feed's endpoint when `--url` is not given. */
  readonly url?: string
  /**
   * The messages sent after each connect and reconnect, from the source options. Throws an `Error` naming a missing
   * or bad option (a usage error: nothing was done).
   */
  subscribeMessages(): string[]
  /** The channel and sequence number of a parsed frame; `undefined` for frames without one (acknowledgements). */
  frameSequence?(frame: Record<string, unknown>): FrameSequence | undefined
  /**
   * What one run of sequence numbers covers: each channel its own (`channel`, the default) or every frame of the
   * connection (`connection`). Numbers restart with each connection either way.
   */
  readonly sequenceScope?: 'channel' | 'connection'
  /** A connection that sends nothing (no frame, no pong) this long is dropped and replaced (default 30 s). */
  readonly silenceTimeoutMs?: number
}

/** One raw object as JSON lines (see {@link DataSource.toJsonLines}). */
export interface JsonLines {
  /** UTF-8 bytes: one JSON object per line, each line ending in `\n`. */
  lines: Uint8Array
  /** Number of lines. */
  records: number
}

/** Where a registered source came from. */
export interface SourceOrigin {
  /** `core` for built-ins, else the npm package name of the plugin. */
  plugin: string
  version?: string
  builtIn: boolean
}

/**
 * A function that makes a source when it is needed. One that carries the name of the source it makes
 * (`sourceName`) is called only when that source is asked for (or all are listed), so a command that uses one
 * source does not load the others' modules.
 */
export type SourceFactory = (() => DataSource | Promise<DataSource>) & {sourceName?: string}

/** A factory that names its source: see {@link SourceFactory}. */
export function namedSource(name: string, make: () => DataSource | Promise<DataSource>): SourceFactory {
  return Object.assign(make, {sourceName: name})
}

/**
 * What a data-source plugin exports (default export or named `sources`): a list of sources or factories. A plugin
 * declares the module in its package.json: `"oclif": {"hooks": {"bucketwright:sources": "./dist/sources.js"}}`.
 */
export type SourcePluginModule = {sources: (DataSource | SourceFactory)[]}
