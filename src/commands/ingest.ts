import {Args, Flags} from '@oclif/core'
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
import path from 'node:path'

import {BaseCommand, parseDuration, parseSize, UserError} from '../plugins/core/index.js'
import {stopOnSignals} from '../plugins/core/etl/stop-signal.js'
import {ingest, type IngestResult} from '../plugins/core/ingest/ingest.js'

export type {IngestResult} from '../plugins/core/ingest/ingest.js'

const duration = Flags.custom<number>({parse: async (input) => parseDuration(input)})
const size = Flags.custom<number>({parse: async (input) => parseSize(input)})

export default class Ingest extends BaseCommand<IngestResult> {
  static override summary = 'Write NDJSON lines from stdin (or a file) into rotating segments for etl.'
  static override description = `Lines go to raw/active/<source>/segment_<YYYYMMDDTHH>_<n>.ndjson in batches (each synced to disk at least every --flush-every), and the segment moves to raw/ready/<source>/ when it reaches --rotate-size or --rotate-age, when the UTC hour changes, and when the input ends or SIGTERM/SIGINT arrives. A crash loses at most the unflushed batch; the next start makes the segments it left active ready (cut back to their last complete line), so ready/ never holds half a segment.

On S3, objects cannot be appended to: the active segment is kept on local disk (--spool-dir) and uploaded whole to raw/ready/ when it rotates — an upload is visible only once complete. Run one ingest per source and location.

Exit codes: 0 done, 1 failure (S3, or the local disk: the error names the path), 2 usage error, nothing written (a --file that does not exist, a LOCATION that is a file).`
  static override examples = [
    'websocat wss://advanced-trade-ws.coinbase.com | <%= config.bin %> <%= command.id %> s3://market-vault --source coinbase',
    '<%= config.bin %> <%= command.id %> ./vault --source coinbase --file capture.ndjson --rotate-size 100MB --rotate-age 10m',
  ]

  static override args = {
    location: Args.string({description: 'Where the segments go (S3 location or local path).', required: true}),
  }

  static override flags = {
    source: Flags.string({summary: 'Data source the lines belong to (names the segment folder).', env: 'BUCKETWRIGHT_SOURCE', helpGroup: 'SOURCE'}),
    // Not Flags.file's `exists`, which takes regular files only: a pipe (`--file <(…)`, a FIFO) or /dev/stdin is input too.
    file: Flags.string({
      summary: 'Read this file (or pipe) instead of stdin; it must exist.',
      async parse(input) {
        const stats = await stat(input).catch(() => undefined)
        if (!stats) throw new Error(`${input} does not exist`)
        if (stats.isDirectory()) throw new Error(`${input} is a directory, not a file`)
        return input
      },
    }),
    'rotate-size': size({summary: 'Make a segment ready once it holds this much (100MB, 64MiB).', default: 100_000_000, defaultHelp: async () => '100MB'}),
    'rotate-age': duration({summary: 'Make a segment ready this long after it was opened (10m, 1h).', default: 600_000, defaultHelp: async () => '10m'}),
    'flush-every': duration({summary: 'Write buffered lines at least this often; a crash loses at most this much.', default: 1000, defaultHelp: async () => '1s'}),
    'spool-dir': Flags.string({summary: 'Local directory for active segments when the location is on S3.'}),
  }

  async run(): Promise<IngestResult> {
    const {args, flags} = await this.parse(Ingest)
    const source = await this.dataSource(flags.source)
    const raw = await this.openStorage(args.location)
    await this.lockJob(`ingest-${source.name}-${hash(raw.uri)}`)
    const input = flags.file ? createReadStream(flags.file) : process.stdin
    if (flags.file) input.once('error', () => {})
    const stop = stopOnSignals()
    try {
      const result = await ingest({
        raw,
        source: source.name,
        input,
        rotateBytes: flags['rotate-size'],
        rotateAgeMs: flags['rotate-age'],
        flushEveryMs: flags['flush-every'],
        spoolDir: flags['spool-dir'] ?? path.join(this.config.cacheDir, 'ingest', hash(`${raw.uri}\n${source.name}`)),
        signal: stop.signal,
        logger: this.logger,
      }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && flags.file) throw new UserError(`No such file: ${flags.file}.`, {code: 'NO_SUCH_FILE', nextSteps: ['Check the --file path, or pipe the lines on stdin.']})
        throw error
      })
      if (!this.jsonEnabled()) this.log(`${result.lines} lines in ${result.segments.length} segment(s) → ${raw.uri}raw/ready/${source.name}/`)
      return result
    } finally {
      stop.dispose()
    }
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}
