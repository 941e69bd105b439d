import {Args, Flags} from '@oclif/core'

import {BaseCommand, cacheFlags, formatBytes, type ReadCacheStats, sourceFlags, timeRange, timeRangeFlags, UsageError} from '../plugins/core/index.js'
import {fetchRange, type FetchSummary} from '../plugins/core/fetch/fetch.js'

/** The JSON contract of `bucketwright fetch`. */
export interface FetchResult extends FetchSummary {
  location: string
  destination: string
  source: string
  from: string
  to: string
  /** Cache hits and misses of this run; `null` with `--no-cache`. */
  cache: ReadCacheStats | null
}

export default class Fetch extends BaseCommand<FetchResult> {
  static override summary = "Download a date range of a source's raw objects from S3 to a local directory, through the object cache."
  static override description = `Lists only the prefixes of the range (for wydot-bsm: the range's days, and hours at its ends), keeps the objects whose key time is in [--from, --to), and writes them under the same keys. Reads go through the read-through cache: fetching the same objects again makes no GET request (the listing is always fresh, so changed objects are downloaded again).

Exit codes: 0 done, 1 failure (S3, or the local disk: the error names the path), 2 usage error, nothing fetched (a location that is not s3://bucket/…, a bucket name that cannot exist, a DIRECTORY under a file, a date that does not exist, --from not before --to).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> s3://usdot-its-cvpilot-publicdata/ --source wydot-bsm --from 2018-05-06 --to 2018-05-07 ./wydot',
    '<%= config.bin %> <%= command.id %> s3://usdot-its-cvpilot-publicdata/ ./wydot --source wydot-bsm --from 2018-05-06T20 --to 2018-05-06T22 --profile research',
  ]
  static override args = {
    location: Args.string({description: "S3 location of the source's raw objects (s3://bucket/prefix/).", required: true}),
    directory: Args.string({description: 'Local directory to write them to.', required: true}),
  }
  static override flags = {
    ...sourceFlags,
    ...timeRangeFlags,
    ...cacheFlags,
    concurrency: Flags.integer({summary: 'Downloads in flight at once.', default: 16, min: 1}),
  }

  async run(): Promise<FetchResult> {
    const {args, flags} = await this.parse(Fetch)
    // Opening makes no request; a location whose objects are local files has nothing to download.
    const remote = await this.openStorage(args.location)
    if (remote.localPath) {
      throw new UsageError(`fetch reads from S3; "${args.location}" is not an s3:// location.`, {code: 'NOT_S3', nextSteps: ['Pass the source location as s3://bucket/prefix/.']})
    }
    const source = await this.dataSource(flags.source, flags['source-option'])
    const range = timeRange(flags.from, flags.to)
    const from = this.withCache(remote, flags)
    const to = await this.openStorage(args.directory)
    const summary = await fetchRange(source, from, to, {range, concurrency: flags.concurrency, logger: this.logger})
    const cache = this.cacheStats() ?? null
    this.logger.info(`Fetched ${summary.objects} objects (${formatBytes(summary.bytes)}) from ${summary.prefixes.length} prefixes` + (cache ? `; cache: ${cache.hits} hits, ${cache.misses} downloads` : ''))
    if (!this.jsonEnabled()) this.log(`${summary.objects} objects, ${summary.bytes} bytes → ${to.uri}`)
    return {location: from.uri, destination: to.uri, source: source.name, from: range.from.toISOString(), to: range.to.toISOString(), ...summary, cache}
  }
}
