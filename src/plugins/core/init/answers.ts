import path from 'node:path'

import type {BucketwrightConfig, JobSettings} from '../config/config.js'

/** The jobs `init` can set up, in the order they are offered. */
export const JOB_NAMES = ['convert', 'verify', 'compact', 'etl', 'upload-daemon'] as const
export type JobName = (typeof JOB_NAMES)[number]

/** How bucketwright gets AWS credentials. */
export type CredentialMode = 'default' | 'profile' | 'anonymous'

/** Everything the init wizard asks; each field has a flag (see the `init` command). */
export interface InitAnswers {
  storage: 's3' | 'local'
  /** S3 bucket of the raw data (`--bucket`). */
  bucket?: string
  /** Key prefix of the raw data in the bucket (`--prefix`), '' for the bucket root. */
  prefix?: string
  /** Local directory of the raw data (`--path`). */
  path?: string
  region?: string
  endpoint?: string
  credentials: CredentialMode
  profile?: string
  source: string
  jobs: JobName[]
  /** Where outputs go (`--output`). */
  output: string
  /** Root directory the upload daemon watches (`--upload-root`). */
  uploadRoot?: string
}

/** Default schedule of each job, as a cron expression (upload-daemon: `--once` a minute under cron). */
export const JOB_SCHEDULES: Record<JobName, string> = {
  convert: '15 * * * *',
  verify: '30 3 * * *',
  compact: '0 2 * * *',
  etl: '*/5 * * * *',
  'upload-daemon': '* * * * *',
}

/** The jobs offered when none are chosen. */
export const DEFAULT_JOBS: JobName[] = ['convert', 'verify']

/** The raw data location the answers name: `s3://bucket/prefix/` or an absolute local path. */
export function locationOf(answers: Pick<InitAnswers, 'storage' | 'bucket' | 'prefix' | 'path'>): string {
  if (answers.storage === 'local') return path.resolve(answers.path ?? '.')
  const prefix = answers.prefix ? answers.prefix.replace(/^\/+/, '').replace(/\/*$/, '/') : ''
  return `s3://${answers.bucket}/${prefix}`
}

/** Where outputs go unless told: `converted/` under the raw location. */
export function defaultOutput(answers: Pick<InitAnswers, 'storage' | 'bucket' | 'prefix' | 'path'>): string {
  const location = locationOf(answers)
  return answers.storage === 'local' ? path.join(path.dirname(location), 'converted') : `${location}converted/`
}

/** S3 locations as they are; local paths made absolute, since cron and systemd run jobs from another directory. */
const absolute = (location: string) => (/^s3:\/\//i.test(location) ? location : path.resolve(location))

/** The arguments of each job's command (`convert SOURCE OUTPUT`, `etl LOCATION --to DEST`, …). */
function jobArgs(job: JobName, answers: InitAnswers): string[] {
  const location = locationOf(answers)
  switch (job) {
    case 'convert':
      return [location, absolute(answers.output)]
    case 'etl':
      return [location, '--to', absolute(answers.output)]
    case 'verify':
    case 'compact':
      return [absolute(answers.output)]
    case 'upload-daemon':
      return ['--directory', absolute(answers.uploadRoot ?? 'output/s3')]
  }
}

/** The config file `init` writes for a set of answers. */
export function configFromAnswers(answers: InitAnswers): BucketwrightConfig {
  const storage: BucketwrightConfig['storage'] = {}
  if (answers.storage === 's3') {
    if (answers.region) storage.region = answers.region
    if (answers.endpoint) {
      storage.endpoint = answers.endpoint
      storage.forcePathStyle = true
    }
    if (answers.credentials === 'profile' && answers.profile) storage.profile = answers.profile
    if (answers.credentials === 'anonymous') storage.anonymous = true
  }
  const jobs: Record<string, JobSettings> = {}
  for (const job of JOB_NAMES.filter((name) => answers.jobs.includes(name))) {
    jobs[job] = {command: job, args: jobArgs(job, answers), schedule: JOB_SCHEDULES[job]}
  }
  return {storage, source: answers.source, location: locationOf(answers), jobs}
}
