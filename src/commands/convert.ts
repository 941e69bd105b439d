import {Args, Flags} from '@oclif/core'

// Straight from the modules, not the core's index: convert's start-up is part of its benchmark, and the index loads
// twice the modules (~20 ms).
import {BaseCommand} from '../plugins/core/command/base-command.js'
import {optInCacheFlags, optInCacheValues} from '../plugins/core/command/cache-flags.js'
import {instantFlag, objectFlags, parseSourceOptions, shardFlags, sourceFlags} from '../plugins/core/command/flags.js'
import {resolveShard} from '../plugins/core/command/shard.js'
import {ExitCode} from '../plugins/core/errors/errors.js'
import {checkKeyTemplate, defaultKeyTemplate, parseBucketList} from '../plugins/core/convert/buckets.js'
import {ConvertProgressView} from '../plugins/core/convert/progress-view.js'
import {encoderThreads} from '../plugins/core/convert/encoder-threads.js'
import {runConvert, startEncoders} from '../plugins/core/convert/service.js'
import {workerLoader} from '../plugins/core/convert/source-handle.js'
import {formatConvertSummary} from '../plugins/core/convert/summary.js'
import type {ConvertResult} from '../plugins/core/convert/types.js'
import {timeRange} from '../plugins/core/sources/time-range.js'
import {parseObjectOptions} from '../plugins/core/storage/object-options.js'
import {parseRunningIn} from '../plugins/core/storage/transfer.js'

export type {ConvertBucketResult, ConvertResult} from '../plugins/core/convert/types.js'

export default class Convert extends BaseCommand<ConvertResult> {
  static override summary = 'Convert raw objects into one compressed file per time bucket (ISO week, day, hour, month).'
  static override description = `Lists the source's objects by day prefixes in parallel, fetches them with bounded concurrency in key order, decodes and compresses them on every core, and streams each bucket's output straight to its destination (S3 multipart), followed by a manifest. A bucket whose manifest matches its inputs is skipped; one whose inputs changed is rebuilt; the current bucket waits unless --include-current.

Exit codes: 0 done, 1 failure (also: more bad objects than --max-bad; a local disk error names the path), 4 done but objects were quarantined, 2 usage error, nothing done: a SOURCE folder that does not exist or is a file, an OUTPUT under a file, s3:/bucket with one slash, a bucket name that cannot exist, a date that does not exist (2021-02-30, 2021-W54), --from not before --to (or now).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> s3://bustimes-data/ s3://bustimes-data/v2/ --source bustimes',
    '<%= config.bin %> <%= command.id %> ./demo/raw ./demo/v2 --source bustimes --from 2021-11-01 --to 2021-12-01 --json',
    '<%= config.bin %> <%= command.id %> s3://b/raw/ s3://b/daily/ --source bustimes --bucket day --format parquet --dry-run',
    '<%= config.bin %> <%= command.id %> s3://b/ s3://b/v2/ --source bustimes --shards 8   # in an AWS Batch array job',
  ]
  static override args = {
    source: Args.string({description: 'Where the raw objects are: s3://bucket/prefix/ or a local directory.', required: true}),
    output: Args.string({description: 'Where the outputs go: s3://bucket/prefix/ or a local directory.', required: true}),
  }
  static override flags = {
    ...sourceFlags,
    ...shardFlags,
    ...objectFlags,
    ...optInCacheFlags,
    bucket: Flags.option({options: ['week', 'day', 'hour', 'month'] as const, default: 'week', summary: 'Time span of one output file (weeks are ISO weeks).'})(),
    'key-template': Flags.string({summary: 'Output key, with {YYYY} {WW} {MM} {DD} {HH} (default e.g. {YYYY}-W{WW}.jsonl.gz).'}),
    format: Flags.option({options: ['jsonl', 'parquet'] as const, default: 'jsonl', summary: 'Output format.'})(),
    compression: Flags.option({options: ['gzip', 'zstd', 'none'] as const, summary: 'Output compression (default gzip for JSONL, zstd for Parquet).'})(),
    level: Flags.integer({summary: 'Compression level (default 6 for gzip, 3 for zstd).', min: 1, max: 19}),
    from: instantFlag({summary: 'Start of the time range (inclusive): 2021-11-08, 2021-11-08T06:00 (UTC) or 2021-W45. Default: the earliest object.'}),
    to: instantFlag({summary: 'End of the time range (exclusive); must be after --from. Default: now.'}),
    weeks: Flags.string({summary: 'Only these buckets, comma-separated, each of the --bucket size: 2021-W45,2021-W47 (days: 2021-11-09,2021-11-12).', exclusive: ['from', 'to']}),
    'include-current': Flags.boolean({summary: 'Also convert the current, unfinished bucket (it is rebuilt as objects arrive).'}),
    'rebuild-foreign': Flags.boolean({summary: 'Rebuild outputs that have no manifest (made by another tool, e.g. the original converter); by default they are left alone and reported.'}),
    'dry-run': Flags.boolean({summary: 'Print the plan (buckets, objects, bytes, S3 requests, data transfer and their cost); write nothing.'}),
    'running-in': Flags.string({
      summary: "Where this run happens, for --dry-run's transfer cost: an AWS region (us-east-1, …), outside-aws, or auto.",
      description:
        'auto (the default) asks the EC2 instance metadata service (IMDSv2, 1 s at most; AWS_EC2_METADATA_DISABLED=true turns it off) and counts the run as outside AWS when nothing answers. Reading S3 from outside AWS is billed per GB, from another region at the cross-region rate, from the same region not at all.',
      default: 'auto',
      parse: async (value) => parseRunningIn(value),
    }),
    validate: Flags.boolean({summary: "Check every record against the source's JSON Schema; violations are counted per field path."}),
    'max-bad': Flags.integer({summary: 'Fail when more than this many objects are quarantined (default: no limit).', min: 0}),
    // --workers is the original bustimes converter's name for parallel downloads (its default was 16 too).
    concurrency: Flags.integer({summary: 'Objects fetched in parallel (--workers is the same).', default: 16, min: 1, max: 256, aliases: ['workers']}),
    threads: Flags.integer({summary: 'Encoder threads (default: one per core; more than the cores are capped; 0 encodes on the main thread).', min: 0}),
  }

  async run(): Promise<ConvertResult> {
    const {args, flags} = await this.parse(Convert)
    const objects = parseObjectOptions(flags)
    const source = await this.dataSource(flags.source, flags['source-option'])
    const loader = workerLoader(this.config, await this.sources(), source.name, parseSourceOptions(flags['source-option']))
    // The encoder threads take ~150 ms to start: bin/run.js started them before oclif loaded, and they get the source
    // now (or they start now), while the lock, the storages and the probe are made.
    const threads = encoderThreads(flags.threads)
    if (threads < (flags.threads ?? 0)) this.logger.warn(`--threads ${flags.threads} is more than the ${threads} cores: using ${threads} encoder threads (more only share the same cores, and cost memory).`)
    const encoders = flags['dry-run'] ? undefined : startEncoders({source, loader, threads})
    try {
      const shard = resolveShard(flags)
      const compression = flags.compression ?? (flags.format === 'parquet' ? 'zstd' : 'gzip')
      const keyTemplate = flags['key-template'] ?? defaultKeyTemplate(flags.bucket, flags.format, compression)
      checkKeyTemplate(keyTemplate, flags.bucket)
      const selected = flags.weeks === undefined ? undefined : parseBucketList(flags.weeks, flags.bucket, 'weeks')
      const from = selected ? selected[0].from : flags.from
      const to = selected ? selected.at(-1)!.to : flags.to
      if (from && !selected) timeRange(from, to ?? new Date(), {toIsNow: !to})
      // The lock is taken while the storages open (opening writes nothing); whatever fails, the lock is settled
      // (and so released with the command) before the error goes on.
      const lock = flags['dry-run'] ? undefined : this.lockJob(`convert ${args.output} ${keyTemplate} shard ${shard.index}/${shard.count}`)
      const [input, output] = await Promise.all([this.openStorage(args.source, {role: 'input'}), this.openStorage(args.output, {objects}), lock]).catch(async (error: unknown) => {
        await lock?.catch(() => {})
        throw error
      })
      const result = await runConvert({
        input: this.withCache(input, optInCacheValues(flags)),
        output,
        source,
        loader,
        encoders,
        bucket: flags.bucket,
        format: flags.format,
        compression,
        keyTemplate,
        level: flags.level,
        from,
        to,
        only: selected?.map((bucket) => bucket.key),
        includeCurrent: flags['include-current'],
        rebuildForeign: flags['rebuild-foreign'],
        dryRun: flags['dry-run'],
        runningIn: flags['running-in'],
        validate: flags.validate,
        maxBad: flags['max-bad'],
        shard,
        concurrency: flags.concurrency,
        threads,
        toolVersion: this.config.version,
        progress: new ConvertProgressView(this.progress, this.logger),
      })
      if (!this.jsonEnabled()) this.log(formatConvertSummary(result))
      if (result.quarantined > 0) this.setOutcome(ExitCode.Quarantined)
      return result
    } finally {
      await encoders?.close()
    }
  }
}
