import {Args, Flags} from '@oclif/core'
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {BaseCommand, durationFlag, ExitCode, sizeFlag, sourceFlags, UsageError, UserError} from '../plugins/core/index.js'
import {stopOnSignals} from '../plugins/core/etl/stop-signal.js'
import {FeedClient, FeedConnectError, feedSettings, subscribeMessages} from '../plugins/core/ingest/feed.js'
import {ingest, type IngestResult} from '../plugins/core/ingest/ingest.js'

export type {IngestResult} from '../plugins/core/ingest/ingest.js'

const duration = durationFlag()

export default class Ingest extends BaseCommand<IngestResult> {
  static override summary = 'Write NDJSON lines from stdin, a file or a live WebSocket feed into rotating segments for etl.'
  static override description = `Lines go to raw/active/<source>/segment_<YYYYMMDDTHH>_<n>.ndjson in batches (each synced to disk at least every --flush-every), and the segment moves to raw/ready/<source>/ when it reaches --rotate-size or --rotate-age, when the UTC hour changes, and when the input ends or SIGTERM/SIGINT arrives. A crash loses at most the unflushed batch; the next start makes the segments it left active ready (cut back to their last complete line), so ready/ never holds half a segment.

On S3, objects cannot be appended to: the active segment is kept on local disk (--spool-dir) and uploaded whole to raw/ready/ when it rotates — an upload is visible only once complete. With --compress, a segment is compressed as it becomes ready (.ndjson.gz, .ndjson.zst); etl reads all three. Run one ingest per source and location.

With --feed (or --url), ingest connects to the WebSocket feed itself: the source's own (coinbase: --source-option products=BTC-USD,ETH-USD) or --url with the messages of --subscribe-file. It pings, drops a connection silent for --silence-timeout, reconnects with jittered exponential backoff and subscribes again. A jump in the frames' sequence numbers is a gap: logged, counted in the segment's metadata (raw/meta/<source>/<segment>.json) and in --json. A frame that is not a JSON object is set aside there too, and the feed goes on. It runs until SIGTERM/SIGINT, which seal the active segment. See docs/ingest.md.

Exit codes: 0 done, 1 failure (S3, the local disk: the error names the path; the feed's first connection failed), 2 usage error, nothing written (a --file that does not exist, a LOCATION that is a file, a feed without products or URL), 4 done but malformed frames were set aside.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> s3://market-vault --source coinbase --feed --source-option products=BTC-USD,ETH-USD --compress zstd',
    '<%= config.bin %> <%= command.id %> ./vault --source ndjson --url wss://feed.example.com/ws --subscribe-file subscribe.json',
    '<%= config.bin %> <%= command.id %> ./vault --source coinbase --file capture.ndjson --rotate-size 100MB --rotate-age 10m',
  ]

  static override args = {
    location: Args.string({description: 'Where the segments go (S3 location or local path).', required: true}),
  }

  static override flags = {
    ...sourceFlags,
    source: Flags.string({summary: 'Data source the lines belong to (names the segment folder).', env: 'BUCKETWRIGHT_SOURCE', helpGroup: 'SOURCE'}),
    // Not Flags.file's `exists`, which takes regular files only: a pipe (`--file <(…)`, a FIFO) or /dev/stdin is input too.
    file: Flags.string({
      summary: 'Read this file (or pipe) instead of stdin; it must exist.',
      exclusive: ['feed', 'url'],
      async parse(input) {
        const stats = await stat(input).catch(() => undefined)
        if (!stats) throw new Error(`${input} does not exist`)
        if (stats.isDirectory()) throw new Error(`${input} is a directory, not a file`)
        return input
      },
    }),
    'rotate-size': sizeFlag({summary: 'Make a segment ready once it holds this much (100MB, 64MiB).', default: 100_000_000, defaultHelp: async () => '100MB'}),
    'rotate-age': duration({summary: 'Make a segment ready this long after it was opened (10m, 1h).', default: 600_000, defaultHelp: async () => '10m'}),
    'flush-every': duration({summary: 'Write buffered lines at least this often; a crash loses at most this much.', default: 1000, defaultHelp: async () => '1s'}),
    'spool-dir': Flags.string({summary: 'Local directory for active segments when the location is on S3.'}),
    compress: Flags.string({summary: 'Compress segments as they become ready.', options: ['none', 'gzip', 'zstd'], default: 'none'}),
    feed: Flags.boolean({summary: "Connect to the source's own live WebSocket feed (coinbase) instead of reading stdin.", helpGroup: 'FEED'}),
    url: Flags.string({summary: 'Connect to this WebSocket feed (ws:// or wss://) instead of reading stdin.', helpGroup: 'FEED'}),
    'subscribe-file': Flags.string({summary: "Messages to send after each connect (a JSON value, a JSON array, or one per line); default: the source's subscription.", helpGroup: 'FEED'}),
    'silence-timeout': duration({summary: 'Drop and replace a connection that sends nothing (no frame, no pong) this long.', defaultHelp: async () => "the source's (coinbase 10s), else 30s", helpGroup: 'FEED'}),
    'reconnect-delay': duration({summary: 'First reconnect delay; doubled per failed attempt, with jitter.', default: 1000, defaultHelp: async () => '1s', helpGroup: 'FEED'}),
    'reconnect-max': duration({summary: 'Longest reconnect delay.', default: 60_000, defaultHelp: async () => '60s', helpGroup: 'FEED'}),
  }

  async run(): Promise<IngestResult> {
    const {args, flags} = await this.parse(Ingest)
    const source = await this.dataSource(flags.source, flags['source-option'])
    const live = flags.feed || flags.url !== undefined
    if (!live && flags['subscribe-file'])
      throw new UsageError('--subscribe-file is for a live feed.', {code: 'SUBSCRIBE_WITHOUT_FEED', nextSteps: ["Add --url wss://… (or --feed for the source's own feed), or leave --subscribe-file out."]})
    const subscribe = flags['subscribe-file'] ? subscribeMessages(await readSubscribeFile(flags['subscribe-file']), flags['subscribe-file']) : undefined
    const settings = live ? feedSettings(source, flags.url, subscribe) : undefined
    const raw = await this.openStorage(args.location)
    await this.lockJob(`ingest-${source.name}-${hash(raw.uri)}`)
    const stop = stopOnSignals()
    const client = settings
      ? new FeedClient({
          ...settings,
          silenceTimeoutMs: flags['silence-timeout'] ?? settings.feed?.silenceTimeoutMs,
          reconnectMinMs: flags['reconnect-delay'],
          reconnectMaxMs: flags['reconnect-max'],
          signal: stop.signal,
          logger: this.logger,
        })
      : undefined
    const input = client ? client.items() : flags.file ? createReadStream(flags.file) : process.stdin
    if (flags.file) (input as ReturnType<typeof createReadStream>).once('error', () => {})
    try {
      const result = await ingest({
        raw,
        source: source.name,
        input,
        feed: client?.report,
        compression: flags.compress as 'none' | 'gzip' | 'zstd',
        rotateBytes: flags['rotate-size'],
        rotateAgeMs: flags['rotate-age'],
        flushEveryMs: flags['flush-every'],
        spoolDir: flags['spool-dir'] ?? path.join(this.config.cacheDir, 'ingest', hash(`${raw.uri}\n${source.name}`)),
        signal: stop.signal,
        logger: this.logger,
      }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && flags.file) throw new UserError(`No such file: ${flags.file}.`, {code: 'NO_SUCH_FILE', nextSteps: ['Check the --file path, or pipe the lines on stdin.']})
        if (error instanceof FeedConnectError) {
          throw new UserError(error.message, {code: 'FEED_UNREACHABLE', details: {url: error.url}, nextSteps: ['Check the URL and the network; ingest reconnects by itself only once a first connection worked.']})
        }
        throw error
      })
      if (result.feed && result.feed.malformed > 0) this.setOutcome(ExitCode.Quarantined)
      if (!this.jsonEnabled()) {
        this.log(`${result.lines} lines in ${result.segments.length} segment(s) → ${raw.uri}raw/ready/${source.name}/`)
        if (result.feed)
          this.log(`feed ${result.feed.url}: ${result.feed.frames} frames, ${result.feed.gaps} gap(s) (${result.feed.missing} missing), ${result.feed.malformed} malformed, ${result.feed.reconnects} reconnect(s)`)
      }
      return result
    } finally {
      stop.dispose()
    }
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}

async function readSubscribeFile(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`Cannot read the subscribe file ${file}: ${error.code ?? error.message}.`, {code: 'NO_SUCH_FILE', nextSteps: ['Check the --subscribe-file path.']})
  })
}
