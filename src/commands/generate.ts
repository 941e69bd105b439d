import {Args, Flags} from '@oclif/core'

import {BaseCommand, formatBytes, sourceFlags, timeRange, timeRangeFlags} from '../plugins/core/index.js'
import {type GenerateResult, writeGenerated} from '../plugins/core/generate/generate.js'

export default class Generate extends BaseCommand<GenerateResult> {
  static override summary = 'Write realistic synthetic data for a source, in its real key layout, to a local path or S3.'
  static override description = `Objects come from the data source's generator (bustimes, coinbase, wydot-bsm, or a plugin's): the same --seed and range always give the same bytes, so generated data serves demos, tests and benchmarks. What --rate counts is the source's: objects per hour for bustimes, frames per hour for coinbase, records per hour for wydot-bsm.

Exit codes: 0 done, 1 failure (S3, or the local disk: the error names the path), 2 usage error, nothing written (a LOCATION that is a file or under one, a bucket name that cannot exist, a date that does not exist, --from not before --to).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> ./wydot --source wydot-bsm --from 2018-05-06 --to 2018-05-07 --seed 42',
    '<%= config.bin %> <%= command.id %> s3://my-test-bucket/ --source bustimes --from 2021-11-08 --to 2021-11-12 --rate 60',
  ]
  static override args = {location: Args.string({description: 'Where to write: s3://bucket/prefix/ or a local directory.', required: true})}
  static override flags = {
    ...sourceFlags,
    ...timeRangeFlags,
    rate: Flags.integer({summary: "Volume per hour, in the source's unit (see description); the source's default when unset.", min: 1}),
    seed: Flags.integer({summary: 'Seed of the generator: the same seed and range give the same bytes.', default: 1}),
    concurrency: Flags.integer({summary: 'Writes in flight at once.', default: 16, min: 1}),
  }

  async run(): Promise<GenerateResult> {
    const {args, flags} = await this.parse(Generate)
    const source = await this.dataSource(flags.source, flags['source-option'])
    const range = timeRange(flags.from, flags.to)
    const storage = await this.openStorage(args.location)
    this.logger.info(`Generating ${source.name} data for ${range.from.toISOString()} to ${range.to.toISOString()} into ${storage.uri}`)
    const result = await writeGenerated(source, storage, {range, seed: flags.seed, rate: flags.rate, concurrency: flags.concurrency, logger: this.logger})
    const rate = result.recordsPerSecond === null ? '' : `, ${result.recordsPerSecond} records/s`
    this.logger.info(`Wrote ${result.objects} objects, ${result.records ?? '?'} records, ${formatBytes(result.bytes)} in ${result.seconds} s${rate}`)
    if (!this.jsonEnabled()) this.log(`${result.objects} objects, ${result.records ?? 'unknown'} records, ${result.bytes} bytes → ${result.location}`)
    return result
  }
}
