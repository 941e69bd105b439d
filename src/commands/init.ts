import {Flags} from '@oclif/core'
import path from 'node:path'

import {BaseCommand, sourceFlags} from '../plugins/core/index.js'
import {JOB_NAMES, type JobName} from '../plugins/core/init/answers.js'
import {formatInitResult, type InitResult, runInit} from '../plugins/core/init/init.js'
import {type GivenAnswers} from '../plugins/core/init/wizard.js'
import {checkBucketName} from '../plugins/core/storage/location.js'

export default class Init extends BaseCommand<InitResult> {
  static override summary = 'Set a project up: storage, credentials, data source and jobs; writes the config file and prints cron lines and systemd units.'
  static override description = `On a terminal, a wizard asks what no flag answered; the bucket is checked live (HeadBucket and GetBucketLocation) and a failure is explained and asked again. With --yes, or without a terminal, flags and defaults answer everything; questions without a default (--storage, --bucket or --path, --source) must then be given as flags.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --yes --storage s3 --bucket usdot-its-cvpilot-publicdata --anonymous --source wydot-bsm --jobs convert,verify',
    '<%= config.bin %> <%= command.id %> --yes --storage local --path ./raw --source coinbase --jobs etl,compact --output ./processed',
  ]
  static override flags = {
    source: sourceFlags.source,
    storage: Flags.option({options: ['s3', 'local'] as const, summary: 'Where the raw data is (implied by --bucket or --path).', helpGroup: 'ANSWERS'})(),
    bucket: Flags.string({summary: 'S3 bucket of the raw data.', helpGroup: 'ANSWERS'}),
    prefix: Flags.string({summary: 'Key prefix of the raw data in the bucket (default: the bucket root).', helpGroup: 'ANSWERS'}),
    path: Flags.string({summary: 'Local directory of the raw data (with --storage local).', helpGroup: 'ANSWERS'}),
    credentials: Flags.option({options: ['default', 'profile', 'anonymous'] as const, summary: 'Credential mode (default: the AWS default chain; --profile and --anonymous imply theirs).', helpGroup: 'ANSWERS'})(),
    jobs: Flags.option({options: [...JOB_NAMES, 'none'] as const, multiple: true, delimiter: ',', summary: 'Jobs to set up, comma-separated (default: convert,verify; none for no jobs).', helpGroup: 'ANSWERS'})(),
    output: Flags.string({summary: 'Where outputs go (default: converted/ under the raw data).', helpGroup: 'ANSWERS'}),
    'upload-root': Flags.string({summary: 'Directory the upload daemon watches (default: ./output/s3).', helpGroup: 'ANSWERS'}),
    check: Flags.boolean({summary: 'Check the bucket live (--no-check to skip, e.g. offline).', default: true, allowNo: true}),
    yes: Flags.boolean({char: 'y', summary: 'Ask nothing: flags and defaults answer every question.'}),
    force: Flags.boolean({summary: 'Replace an existing config file.'}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    if (flags.bucket) checkBucketName(flags.bucket, `--bucket "${flags.bucket}"`)
    const jobs = flags.jobs?.includes('none') ? [] : (flags.jobs as JobName[] | undefined)
    const given: GivenAnswers = {
      storage: flags.storage ?? (flags.bucket ? 's3' : flags.path ? 'local' : undefined),
      bucket: flags.bucket,
      prefix: flags.prefix,
      path: flags.path,
      region: flags.region,
      endpoint: flags.endpoint,
      credentials: flags.credentials ?? (flags.anonymous ? 'anonymous' : undefined),
      profile: flags.profile,
      source: flags.source,
      jobs,
      output: flags.output,
      uploadRoot: flags['upload-root'],
    }
    const result = await runInit({
      given,
      interactive: !flags.yes && this.canPrompt(),
      check: flags.check,
      force: flags.force,
      configFile: this.settingsFile,
      registry: await this.sources(),
      schedule: {node: process.execPath, bin: path.join(this.config.root, 'bin', 'run.js'), workingDirectory: process.cwd()},
      logDir: path.join(this.config.cacheDir, 'logs'),
      say: (line) => process.stderr.write(line + '\n'),
      requireFlags: (missing, examples) => this.requireFlags(missing, examples),
    })
    if (!this.jsonEnabled()) this.log(formatInitResult(result))
    return result
  }
}
