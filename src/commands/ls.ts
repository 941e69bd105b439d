import {Args, Flags} from '@oclif/core'

import {BaseCommand, printable} from '../plugins/core/index.js'

/** The JSON contract of `bucketwright ls`. */
export interface LsResult {
  location: string
  objects: {key: string; size: number; lastModified: string; etag?: string}[]
  count: number
  bytes: number
  truncated: boolean
}

export default class Ls extends BaseCommand<LsResult> {
  static override summary = 'List the objects under a location (S3 or local), in key order.'
  static override description =
    'A quick look at what a location holds, with the same storage settings every other command uses. A local LOCATION that does not exist, or is a file, is a usage error (exit 2), not an empty listing.'
  static override examples = ['<%= config.bin %> <%= command.id %> s3://bustimes-data/raw/ --prefix bustimes__2021-11-10 --limit 20', '<%= config.bin %> <%= command.id %> ./out --json']

  static override args = {
    location: Args.string({description: 'S3 location (s3://bucket/prefix/) or local path.', required: true}),
  }

  static override flags = {
    prefix: Flags.string({summary: 'Only keys starting with this, relative to the location.', default: ''}),
    'start-after': Flags.string({summary: 'Only keys after this one.'}),
    limit: Flags.integer({summary: 'Stop after this many objects (0: no limit).', default: 1000, min: 0}),
  }

  async run(): Promise<LsResult> {
    const {args, flags} = await this.parse(Ls)
    const storage = await this.openStorage(args.location, {role: 'input'})
    const result: LsResult = {location: storage.uri, objects: [], count: 0, bytes: 0, truncated: false}
    for await (const object of storage.list(flags.prefix, {startAfter: flags['start-after']})) {
      if (flags.limit > 0 && result.count >= flags.limit) {
        result.truncated = true
        break
      }
      result.count++
      result.bytes += object.size
      result.objects.push({key: object.key, size: object.size, lastModified: object.lastModified.toISOString(), etag: object.etag})
      if (!this.jsonEnabled()) this.log(`${object.lastModified.toISOString()}  ${String(object.size).padStart(12)}  ${printable(object.key)}`)
    }
    if (!this.jsonEnabled()) this.logger.info(`${result.count} objects, ${result.bytes} bytes${result.truncated ? ' (more not shown: raise --limit)' : ''}`)
    return result
  }
}
