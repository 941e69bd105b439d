import WebSocket from 'ws'

import {UsageError} from '../errors/errors.js'
import type {Logger} from '../progress/logger.js'
import type {DataSource, LiveFeed} from '../sources/types.js'

/** Frame text kept in a report of a malformed frame (the rest is cut). */
const MAX_FRAME_TEXT = 4096
/** Gaps and malformed frames listed one by one in a report (all are counted). */
const MAX_LISTED = 100

/** Sequence numbers that jumped: `missing` frames between `expected` and `got` never arrived. */
export interface FeedGap {
  channel: string
  expected: number
  got: number
  missing: number
  /** 1-based number of the connection it happened on. */
  connection: number
  at: string
}

/** A frame that was not a JSON object: not written to a segment, kept here (text cut at 4 KiB). */
export interface MalformedFrame {
  connection: number
  /** 1-based position of the frame on its connection. */
  frame: number
  /** 1-based position among every frame received by this run. */
  received: number
  reason: string
  text: string
  at: string
}

/** What the feed did, counted per segment (`raw/meta/`) and for the whole run (`--json`). */
export interface FeedCounts {
  frames: number
  gaps: number
  /** Frames the gaps skipped, summed. */
  missing: number
  malformed: number
  /** Connections lost and replaced: frames sent while disconnected cannot be seen as a gap (numbers restart). */
  reconnects: number
}

/** The `feed` part of ingest's `--json`: the run's counts, with the first gaps and malformed frames listed. */
export interface FeedReport extends FeedCounts {
  url: string
  connections: number
  gapList: FeedGap[]
  malformedList: MalformedFrame[]
}

/** Something the feed reports, written into the metadata of the segment its next frame goes to. */
export type FeedEvent = {kind: 'gap'; gap: FeedGap} | {kind: 'malformed'; frame: MalformedFrame} | {kind: 'reconnect'; connection: number; at: string; reason: string}

/** One item of the feed for ingest: a frame as one NDJSON line, or an event. */
export type FeedItem = {line: string} | {event: FeedEvent}

/** Options of {@link FeedClient}. */
export interface FeedClientOptions {
  url: string
  /** Sent, in order, after every connect. */
  subscribe: string[]
  feed?: Pick<LiveFeed, 'frameSequence' | 'sequenceScope'>
  /** Ping this often; a connection silent for {@link silenceTimeoutMs} is dropped. */
  pingEveryMs?: number
  silenceTimeoutMs?: number
  /** First reconnect delay; doubled on each failed attempt up to {@link reconnectMaxMs}, with full jitter. */
  reconnectMinMs?: number
  reconnectMaxMs?: number
  signal?: AbortSignal
  logger?: Logger
}

/** The feed's first connection could not be made: nothing was received. */
export class FeedConnectError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Could not connect to ${url}: ${reason}`)
  }
}

/**
 * A live WebSocket feed as a stream of NDJSON lines: connects, sends the subscription, pings and drops a silent
 * connection, reconnects with jittered exponential backoff and subscribes again, and reports gaps in the frames'
 * sequence numbers and frames that are not JSON objects. Runs until the signal aborts. Frames are parsed only to be
 * checked: a line is the frame's own text (newlines between JSON tokens become spaces), so numbers stay exact.
 */
export class FeedClient {
  readonly report: FeedReport
  private readonly queue: FeedItem[] = []
  private wake?: () => void
  private failure?: Error
  private ended = false
  private socket?: WebSocket
  private retryTimer?: NodeJS.Timeout

  constructor(private readonly options: FeedClientOptions) {
    this.report = {url: options.url, connections: 0, frames: 0, gaps: 0, missing: 0, malformed: 0, reconnects: 0, gapList: [], malformedList: []}
  }

  /** The frames and events, in order of arrival; ends when the signal aborts (after the socket closed). */
  async *items(): AsyncGenerator<FeedItem> {
    const {signal} = this.options
    const stop = () => this.stop()
    signal?.addEventListener('abort', stop, {once: true})
    try {
      if (!signal?.aborted) this.connect(0)
      else this.ended = true
      for (;;) {
        while (this.queue.length > 0) yield this.queue.shift()!
        if (this.failure) throw this.failure
        if (this.ended) return
        await new Promise<void>((resolve) => (this.wake = resolve))
        this.wake = undefined
      }
    } finally {
      signal?.removeEventListener('abort', stop)
      this.stop()
    }
  }

  private push(item: FeedItem): void {
    this.queue.push(item)
    this.wake?.()
  }

  private stop(): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.retryTimer)
    // Close politely; frames that arrive before the close completes are still taken (nothing received is lost).
    this.socket?.close(1000)
    this.socket?.terminate()
    this.wake?.()
  }

  private connect(failedAttempts: number): void {
    const {url, logger} = this.options
    const connection = this.report.connections + 1
    const socket = new WebSocket(url, {handshakeTimeout: this.options.silenceTimeoutMs ?? 30_000})
    this.socket = socket
    let opened = false
    let frames = 0
    let lastHeard = Date.now()
    let closedReason = 'closed'
    const expected = new Map<string, number>()
    const silence = this.options.silenceTimeoutMs ?? 30_000
    const pingTimer = setInterval(
      () => {
        if (Date.now() - lastHeard > silence) {
          closedReason = `silent for ${Math.round((Date.now() - lastHeard) / 1000)} s`
          socket.terminate()
          return
        }
        if (socket.readyState === WebSocket.OPEN) socket.ping()
      },
      Math.max(10, Math.min(this.options.pingEveryMs ?? 10_000, silence / 2)),
    )
    socket.on('open', () => {
      opened = true
      this.report.connections = connection
      lastHeard = Date.now()
      logger?.info(`Connected to ${url} (connection ${connection}); subscribing (${this.options.subscribe.length} message(s)).`)
      for (const message of this.options.subscribe) socket.send(message)
    })
    socket.on('pong', () => (lastHeard = Date.now()))
    socket.on('ping', () => (lastHeard = Date.now()))
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      lastHeard = Date.now()
      frames++
      this.report.frames++
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8')
      let frame: unknown
      let reason: string | undefined
      if (isBinary) reason = 'binary frame'
      else {
        try {
          frame = JSON.parse(text)
          if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) reason = 'not a JSON object'
        } catch (error) {
          reason = `not JSON: ${(error as Error).message}`
        }
      }
      if (reason) {
        const malformed: MalformedFrame = {connection, frame: frames, received: this.report.frames, reason, text: text.slice(0, MAX_FRAME_TEXT), at: new Date().toISOString()}
        this.report.malformed++
        if (this.report.malformedList.length < MAX_LISTED) this.report.malformedList.push(malformed)
        logger?.warn(`Malformed frame ${frames} on connection ${connection} (frame ${this.report.frames} of this run): ${reason}; set aside, the feed goes on.`, {text: malformed.text.slice(0, 200)})
        this.push({event: {kind: 'malformed', frame: malformed}})
        return
      }
      this.checkSequence(frame as Record<string, unknown>, expected, connection)
      // JSON allows newlines only between tokens, where a space means the same: one frame stays one line.
      this.push({line: /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text})
    })
    // ws reports a refused handshake as "Unexpected server response: 404", a refused connection as ECONNREFUSED.
    socket.on('error', (error) => (closedReason = error.message))
    socket.on('close', (code, why) => {
      clearInterval(pingTimer)
      if (this.socket === socket) this.socket = undefined
      if (this.ended) {
        this.wake?.()
        return
      }
      if (!opened && this.report.connections === 0) {
        // The first connection never opened: a wrong URL or no network is the user's to fix, not to retry forever.
        this.failure = new FeedConnectError(url, closedReason)
        this.ended = true
        this.wake?.()
        return
      }
      const reason = opened ? `connection ${connection} ${code === 1006 ? closedReason : `closed (${code}${why.length > 0 ? ` ${why.toString()}` : ''})`}` : `reconnect failed: ${closedReason}`
      const attempts = opened ? 0 : failedAttempts + 1
      const min = this.options.reconnectMinMs ?? 1000
      const max = this.options.reconnectMaxMs ?? 60_000
      // Full jitter: clients that lost the same server do not come back in step.
      const delay = Math.round(Math.random() * Math.min(max, min * 2 ** attempts))
      if (opened) {
        this.report.reconnects++
        this.push({event: {kind: 'reconnect', connection, at: new Date().toISOString(), reason}})
      }
      logger?.warn(`${reason}; reconnecting in ${delay} ms. Frames sent while disconnected are not in the vault.`)
      this.retryTimer = setTimeout(() => this.connect(attempts), delay)
    })
  }

  private checkSequence(frame: Record<string, unknown>, expected: Map<string, number>, connection: number): void {
    const place = this.options.feed?.frameSequence?.(frame)
    if (!place) return
    const run = this.options.feed?.sequenceScope === 'connection' ? '' : place.channel
    const next = expected.get(run)
    expected.set(run, place.sequence + 1)
    if (next === undefined || place.sequence === next) return
    const gap: FeedGap = {channel: place.channel, expected: next, got: place.sequence, missing: place.sequence - next, connection, at: new Date().toISOString()}
    this.report.gaps++
    if (gap.missing > 0) this.report.missing += gap.missing
    if (this.report.gapList.length < MAX_LISTED) this.report.gapList.push(gap)
    const what = gap.missing > 0 ? `${gap.missing} frame(s) missing` : 'sequence went backwards'
    this.options.logger?.warn(`Gap on channel ${place.channel}: expected sequence ${next}, got ${place.sequence} (${what}; connection ${connection}).`)
    this.push({event: {kind: 'gap', gap}})
  }
}

/** Where and how to connect: the URL, the subscribe messages, and the source's reading of frames. */
export interface FeedSettings {
  url: string
  subscribe: string[]
  feed?: LiveFeed
}

/**
 * The messages of a subscribe file (`--subscribe-file`): a JSON array holds one message per element, one JSON value
 * is one message, anything else is one message per non-empty line. A usage error names the file when it holds none.
 */
export function subscribeMessages(text: string, file: string): string[] {
  let messages: string[] | undefined
  try {
    const parsed: unknown = JSON.parse(text)
    messages = Array.isArray(parsed) ? parsed.map((message) => (typeof message === 'string' ? message : JSON.stringify(message))) : [JSON.stringify(parsed)]
  } catch {
    messages = text.split(/\r?\n/).filter((line) => line.trim().length > 0)
  }
  if (messages.length === 0)
    throw new UsageError(`The subscribe file ${file} holds no message.`, {
      code: 'EMPTY_SUBSCRIBE_FILE',
      nextSteps: ['Write the message(s) the feed expects after connecting: one JSON value, a JSON array of them, or one per line.'],
    })
  return messages
}

/**
 * The feed to connect to: `--url` or the source's own endpoint, and `--subscribe-file`'s messages or the source's
 * subscription from its options. Usage errors name what is missing.
 */
export function feedSettings(source: DataSource, url: string | undefined, subscribe: string[] | undefined): FeedSettings {
  const feed = source.feed
  const endpoint = url ?? feed?.url
  if (!endpoint) {
    throw new UsageError(`Source "${source.name}" has no live feed of its own.`, {code: 'NO_FEED_URL', nextSteps: ['Pass the feed with --url wss://…, and what to send after connecting with --subscribe-file FILE.']})
  }
  if (!/^wss?:\/\//i.test(endpoint)) throw new UsageError(`--url ${endpoint} is not a WebSocket URL.`, {code: 'BAD_FEED_URL', nextSteps: ['Give a ws:// or wss:// URL.']})
  if (subscribe) return {url: endpoint, subscribe, feed}
  if (!feed) return {url: endpoint, subscribe: [], feed}
  try {
    return {url: endpoint, subscribe: feed.subscribeMessages(), feed}
  } catch (error) {
    throw new UsageError(`Cannot subscribe to the ${source.name} feed: ${(error as Error).message}`, {
      code: 'BAD_SOURCE_OPTION',
      nextSteps: [
        `Options of ${source.name}: ${
          Object.entries(source.options ?? {})
            .map(([key, text]) => `${key} (${text})`)
            .join('; ') || 'none'
        }.`,
        'Or give the messages yourself with --subscribe-file FILE.',
      ],
    })
  }
}
