import {Args, Flags} from '@oclif/core'

import {BaseCommand, durationFlag, ExitCode, objectFlags, parseObjectOptions, resolveShard, shardFlags, sizeFlag} from '../plugins/core/index.js'
import {checkTimeZone} from '../plugins/core/compact/age.js'
import {resolveCompactOptions} from '../plugins/core/compact/options.js'
import type {CompactResult} from '../plugins/core/compact/result.js'
import {describePartition, runCompaction} from '../plugins/core/compact/run.js'

export type {CompactResult} from '../plugins/core/compact/result.js'

export default class Compact extends BaseCommand<CompactResult> {
  static override summary = 'Merge the small files of each past partition into a few Parquet files, verify them, then delete the inputs.'
  static override description = `Partitions are found by layout: staging/YYYY-MM-DD/ compacts into compacted/YYYY-MM-DD.parquet; Hive folders (…/date=YYYY-MM-DD/) compact in place into part-compacted-<hash>.parquet; --pattern names other layouts. Inputs are Parquet, NDJSON/JSONL (optionally .gz); nested fields stay nested; differing schemas are merged by column name.

Per partition: list → merge (DuckDB) → verify the new files against the inputs (row count and an order-independent checksum of every row) → record a manifest under _manifests/ naming every input with its ETag → delete exactly those inputs. Today's partition is never touched. A run stopped at any point is finished (or cleanly undone) by the next run; files that arrive meanwhile are kept and merged next time.

Settings come from flags, then their BUCKETWRIGHT_* variables, then "commands": {"compact": {...}} in the config file (as every command's).

Exit codes: 0 done, 1 a partition failed (rerun continues it), 2 usage error, nothing done (e.g. a LOCATION that does not exist or is a file, a bucket name that cannot exist), 3 a partition did not verify (nothing of it was deleted).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> s3://my-bucket/ --dry-run',
    '<%= config.bin %> <%= command.id %> ./data --min-age 2d --timezone Europe/Berlin',
    '<%= config.bin %> <%= command.id %> s3://vault/processed/coinbase/ --target-size 256MB --memory-limit 2GB --json',
    '<%= config.bin %> <%= command.id %> s3://logs/ --pattern "events/{YYYY}/{MM}/{DD}/" --shard 0/4',
  ]

  static override args = {
    location: Args.string({description: 'Dataset root: s3://bucket/prefix/ or a local path (holding staging/ or Hive folders).', required: true}),
  }

  static override flags = {
    ...shardFlags,
    ...objectFlags,
    'min-age': durationFlag('d')({
      summary: "Only partitions at least this old, from the start of their day (36h, 0; a bare number is days). Today's is never compacted.",
      default: 86_400_000,
      defaultHelp: async () => '1d',
      env: 'BUCKETWRIGHT_MIN_AGE',
    }),
    timezone: Flags.custom<string>({parse: async (input) => checkTimeZone(input)})({summary: 'Time zone that decides which day is today.', default: 'UTC', env: 'BUCKETWRIGHT_TIMEZONE'}),
    'min-files': Flags.integer({summary: 'Only partitions with at least this many files.', default: 2, min: 1, env: 'BUCKETWRIGHT_MIN_FILES'}),
    pattern: Flags.string({summary: 'Partition folder template instead of staging/Hive detection, e.g. "events/{date}/" or "logs/{YYYY}/{MM}/{DD}/" (* = one segment).', env: 'BUCKETWRIGHT_PATTERN'}),
    'target-size': sizeFlag({summary: 'Size of each output file, about (128MB = 128×10⁶ bytes); a larger partition gives several.', default: 128e6, defaultHelp: async () => '128MB', env: 'BUCKETWRIGHT_TARGET_SIZE'}),
    'row-group-size': Flags.integer({summary: 'Rows per Parquet row group (default 122,880); files are cut between row groups.', min: 1, env: 'BUCKETWRIGHT_ROW_GROUP_SIZE'}),
    'memory-limit': sizeFlag({summary: "Memory of the run: DuckDB gets all but Node's share, and spills to disk beyond it.", default: 1e9, defaultHelp: async () => '1GB', env: 'BUCKETWRIGHT_MEMORY_LIMIT'}),
    'disk-budget': sizeFlag({summary: 'Local disk for S3 inputs being merged (4GB = 4×10⁹ bytes).', default: 4e9, defaultHelp: async () => '4GB', env: 'BUCKETWRIGHT_DISK_BUDGET'}),
    threads: Flags.integer({summary: 'DuckDB threads (default: all cores).', min: 1, env: 'BUCKETWRIGHT_THREADS'}),
    'dry-run': Flags.boolean({summary: 'Show partitions, files, bytes and the requests it would make; change nothing.', default: false}),
    'delete-batch': Flags.integer({summary: 'Inputs per delete request.', default: 1000, min: 1, max: 1000, hidden: true}),
    strategy: Flags.option({options: ['single-pass', 'two-pass'] as const, default: 'single-pass' as const, summary: 'Checksum the inputs in the merging scan, or in a second read.', hidden: true})(),
  }

  async run(): Promise<CompactResult> {
    const {args, flags} = await this.parse(Compact)
    const options = resolveCompactOptions(flags, {
      dryRun: flags['dry-run'],
      shard: resolveShard(flags),
      strategy: flags.strategy,
      tool: {name: this.config.name, version: this.config.version},
    })
    // The merged files, manifests and moves are written here: with the run's object options.
    const storage = await this.openStorage(args.location, {role: 'input', objects: parseObjectOptions(flags)})
    if (!options.dryRun) await this.lockJob(`compact ${storage.uri} shard ${options.shard.index}/${options.shard.count}`)
    const result = await runCompaction(storage, options, {mode: this.progress, logger: this.logger})
    if (result.partitions.some((partition) => partition.status === 'failed')) this.setOutcome(ExitCode.Failure)
    if (result.partitions.some((partition) => partition.status === 'verification-failed')) this.setOutcome(ExitCode.VerificationFailed)
    if (!this.jsonEnabled()) this.printSummary(result)
    return result
  }

  private printSummary(result: CompactResult): void {
    for (const partition of result.partitions) this.log(describePartition(partition))
    const {totals} = result
    this.log(
      `${result.dryRun ? 'Would compact' : 'Compacted'} ${totals.compacted} of ${totals.partitions} partition(s): ${totals.inputs} files, ${totals.rows} rows, ${totals.deleted} inputs deleted, ${totals.failed} failed.`,
    )
    if (result.requests)
      this.log(
        `Requests: ${result.requests.list} LIST, ${result.requests.get} GET, ${result.requests.head} HEAD, ${result.requests.put} PUT, ${result.requests.copy} COPY, ${result.requests.delete} DELETE (about $${result.requests.estimatedCostUsd}).`,
      )
  }
}
