import {Args, Flags} from '@oclif/core'
import os from 'node:os'

import {BaseCommand, type DataSource, durationFlag, ExitCode, objectFlags, type ObjectOptions, parseObjectOptions, sourceFlags, UsageError} from '../plugins/core/index.js'
import {channelTables} from '../plugins/core/etl/columns.js'
import {type EtlResult, runEtl} from '../plugins/core/etl/etl.js'
import {type EtlSink, ParquetSink} from '../plugins/core/etl/parquet-sink.js'
import {PostgresSink} from '../plugins/core/etl/postgres-sink.js'
import {stopOnSignals} from '../plugins/core/etl/stop-signal.js'

export type {EtlResult, SegmentResult} from '../plugins/core/etl/etl.js'

const duration = durationFlag()

export default class Etl extends BaseCommand<EtlResult> {
  static override summary = 'Load ready NDJSON segments into Hive-partitioned Parquet or Postgres, exactly once.'
  static override description = `Claims segments under <location>/raw/ready/<source>/ (moving them to raw/processing/), decodes them with the source, routes records by channel and writes processed/<source>/<channel>/<partitions>/part_<segment>.parquet — or upserts them into Postgres tables <source>_<channel>, one transaction per segment with a load ledger. A segment is deleted only after its outputs are written and counted. Segments left in processing/ by a crashed run are claimed again once untouched for --stale-after (a live run finishes a segment far sooner). Bad lines are quarantined to raw/quarantine/<source>/ with their line number and reason; the run goes on and exits 4.

Exit codes: 0 all loaded, 1 a segment failed (it stays in processing/), 2 usage error, nothing done (e.g. a LOCATION that does not exist or is a file, a --to under a file), 4 finished with quarantined lines.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> s3://market-vault --source coinbase --to s3://market-vault',
    '<%= config.bin %> <%= command.id %> ./vault --source coinbase --to ./vault --watch --interval 30s',
    '<%= config.bin %> <%= command.id %> ./vault --source coinbase --to postgres://etl@db.internal/markets --json',
  ]

  static override args = {
    location: Args.string({description: 'Where the raw segments are (S3 location or local path).', required: true}),
  }

  static override flags = {
    ...sourceFlags,
    ...objectFlags,
    to: Flags.string({summary: 'Destination: a location for Parquet (S3 or local), or a postgres:// URL.', required: true, env: 'BUCKETWRIGHT_ETL_TO'}),
    watch: Flags.boolean({summary: 'Keep polling for new segments until SIGTERM/SIGINT.'}),
    interval: duration({summary: 'Time between polls with --watch (30s, 5m).', default: 30_000, defaultHelp: async () => '30s'}),
    'stale-after': duration({summary: 'A segment in processing/ untouched this long belongs to a crashed run and is claimed again.', default: 600_000, defaultHelp: async () => '10m'}),
    'pg-schema': Flags.string({summary: 'Postgres schema of the tables and the ledger.', default: 'public'}),
    concurrency: Flags.integer({
      summary: 'Segments claimed and in work at once.',
      description:
        'Parquet: segments are decoded and written by DuckDB side by side, its threads shared out among them (one each on a small machine); default: cores + 1, at most UV_THREADPOOL_SIZE − 1 (3 with the default pool). Postgres: segments decoded ahead of the one loading (default 2). A crash can leave this many segments in processing/ until --stale-after.',
      min: 1,
    }),
  }

  async run(): Promise<EtlResult> {
    const {args, flags} = await this.parse(Etl)
    const objects = parseObjectOptions(flags)
    const source = await this.dataSource(flags.source, flags['source-option'])
    const raw = await this.openStorage(args.location, {role: 'input'})
    const sink = await this.openSink(flags.to, source, flags['pg-schema'], flags.concurrency, objects)
    const stop = stopOnSignals()
    try {
      const result = await runEtl({
        raw,
        source,
        sink,
        logger: this.logger,
        staleAfterMs: flags['stale-after'],
        concurrency: flags.concurrency,
        signal: stop.signal,
        watchIntervalMs: flags.watch ? flags.interval : undefined,
      })
      if (result.totals.failed > 0) this.setOutcome(ExitCode.Failure)
      else if (result.totals.quarantined > 0) this.setOutcome(ExitCode.Quarantined)
      if (!this.jsonEnabled())
        this.log(
          `${result.totals.segments} segment(s), ${result.totals.records} records → ${result.target}${result.totals.quarantined ? `; ${result.totals.quarantined} line(s) quarantined` : ''}${result.totals.failed ? `; ${result.totals.failed} failed` : ''}`,
        )
      return result
    } finally {
      stop.dispose()
    }
  }

  private async openSink(to: string, source: DataSource, pgSchema: string, concurrency?: number, objects?: ObjectOptions): Promise<EtlSink> {
    if (/^postgres(ql)?:\/\//.test(to)) {
      if (objects)
        throw new UsageError(`--storage-class, --sse, --sse-kms-key-id, --acl and --metadata describe S3 objects; --to ${to} is Postgres.`, {
          code: 'BAD_OBJECT_OPTION',
          nextSteps: ['Leave them out for a Postgres destination.'],
        })
      return new PostgresSink({url: to, source: source.name, tables: channelTables(source), schema: pgSchema})
    }
    // Only the Parquet outputs get the object options: the raw segments keep theirs as they move.
    return new ParquetSink({output: await this.openStorage(to, {objects}), source: source.name, toolVersion: this.config.version, tempRoot: os.tmpdir(), concurrency})
  }
}
