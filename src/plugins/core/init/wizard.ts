import {BucketwrightError} from '../errors/errors.js'
import {toBucketwrightError} from '../errors/normalise.js'
import {isValidBucketName} from '../storage/location.js'
import {checkLocalDirectory} from '../storage/open.js'
import type {SourceListing} from '../sources/registry.js'
import {type CredentialMode, DEFAULT_JOBS, defaultOutput, type InitAnswers, JOB_NAMES, type JobName} from './answers.js'
import {listAwsProfiles} from './aws-profiles.js'
import {type BucketCheckResult, explainCheckFailure} from './bucket-check.js'

/** Answers given on the command line; each one skips its question. */
export type GivenAnswers = Partial<InitAnswers>

/** What the wizard needs from the command: the sources to offer, the live check, and where to talk. */
export interface WizardContext {
  sources: SourceListing[]
  /** Checks the bucket live; `undefined` with `--no-check`. */
  check?: (answers: InitAnswers) => Promise<BucketCheckResult>
  /** Prints a line to the user (stderr). */
  say: (line: string) => void
}

/** The flag that answers each question, for "missing flags" errors. */
export const QUESTION_FLAGS = {storage: 'storage', bucket: 'bucket', path: 'path', source: 'source', profile: 'profile'} as const

/**
 * An example for each flag that answers a question without a default, for the error that lists them all at once
 * (no terminal): command-line fragments a user can paste and edit. `--storage` brings the flag it then needs.
 */
export function flagExamples(sources: SourceListing[]): Record<string, string> {
  return {
    storage: '--storage s3 --bucket my-raw-data',
    bucket: '--bucket my-raw-data',
    path: '--path ./raw',
    source: `--source ${sources[0]?.name ?? 'NAME'}`,
    profile: '--profile my-profile',
  }
}

const needsOutput = (jobs: JobName[]) => jobs.some((job) => job !== 'upload-daemon')

function credentialsOf(given: GivenAnswers): CredentialMode | undefined {
  if (given.credentials) return given.credentials
  if (given.profile) return 'profile'
  return undefined
}

/**
 * Answers without prompting (`--yes`, or no terminal): flags, then defaults. Questions without a default that no
 * flag answered are returned in `missing`, by flag name.
 */
export function answersWithoutPrompts(given: GivenAnswers): {answers: InitAnswers; missing: string[]} {
  const missing: string[] = []
  if (!given.storage) missing.push(QUESTION_FLAGS.storage)
  if (given.storage === 's3' && !given.bucket) missing.push(QUESTION_FLAGS.bucket)
  if (given.storage === 'local' && !given.path) missing.push(QUESTION_FLAGS.path)
  if (!given.source) missing.push(QUESTION_FLAGS.source)
  const credentials = credentialsOf(given) ?? 'default'
  if (credentials === 'profile' && !given.profile) missing.push(QUESTION_FLAGS.profile)
  const jobs = given.jobs ?? DEFAULT_JOBS
  const base = {storage: given.storage ?? 's3', bucket: given.bucket, prefix: given.prefix ?? '', path: given.path}
  const answers: InitAnswers = {
    ...base,
    region: given.region,
    endpoint: given.endpoint,
    credentials,
    profile: credentials === 'profile' ? given.profile : undefined,
    source: given.source ?? '',
    jobs,
    output: given.output ?? defaultOutput(base),
    uploadRoot: jobs.includes('upload-daemon') ? (given.uploadRoot ?? 'output/s3') : undefined,
  }
  if (answers.storage === 'local') {
    delete answers.bucket
    delete answers.prefix
  } else delete answers.path
  return {answers, missing}
}

/**
 * The interactive wizard (@inquirer/prompts, rendered on stderr): asks every question no flag answered, checks the
 * bucket live and, when the check fails, explains why and asks the S3 questions again with the previous answers
 * as defaults.
 */
export async function askAnswers(given: GivenAnswers, context: WizardContext): Promise<InitAnswers> {
  const {select, input, checkbox} = await import('@inquirer/prompts')
  const io = {output: process.stderr}
  const storage =
    given.storage ??
    (await select<'s3' | 'local'>(
      {
        message: 'Where is the raw data?',
        choices: [
          {name: 'S3 (AWS or an S3-compatible store)', value: 's3'},
          {name: 'A local directory', value: 'local'},
        ],
      },
      io,
    ))
  const answers: InitAnswers = {storage, credentials: 'default', source: '', jobs: [], output: ''}
  if (storage === 'local') {
    answers.path = given.path ?? (await input({message: 'Directory of the raw data:', default: './data', validate: existingFolder}, io))
  } else {
    let ask: GivenAnswers = given
    for (;;) {
      answers.endpoint =
        ask.endpoint ??
        ((await input(
          {message: 'S3 endpoint URL (empty for AWS S3):', default: answers.endpoint ?? '', validate: (value) => value === '' || /^https?:\/\/[^\s/]+/.test(value) || 'Enter an http(s):// URL, or nothing for AWS.'},
          io,
        )) ||
          undefined)
      answers.credentials =
        credentialsOf(ask) ??
        (await select<CredentialMode>(
          {
            message: 'Credentials:',
            default: answers.credentials,
            choices: [
              {name: 'Default chain (environment, ~/.aws, SSO, instance or task role)', value: 'default'},
              {name: 'A profile from ~/.aws/config or ~/.aws/credentials', value: 'profile'},
              {name: 'Anonymous (public bucket, unsigned requests)', value: 'anonymous'},
            ],
          },
          io,
        ))
      answers.profile = answers.credentials === 'profile' ? (ask.profile ?? (await askProfile(answers.profile, context))) : undefined
      answers.bucket =
        ask.bucket ?? (await input({message: 'Bucket:', default: answers.bucket, validate: (value) => isValidBucketName(value) || 'Not a valid S3 bucket name (3–63 lowercase letters, digits, dots, hyphens).'}, io))
      answers.prefix = ask.prefix ?? (await input({message: 'Prefix of the raw data in the bucket (empty for the bucket root):', default: answers.prefix ?? ''}, io))
      answers.region = ask.region ?? ((await input({message: 'Region (empty to discover it from the bucket):', default: answers.region ?? ''}, io)) || undefined)
      if (!context.check) break
      try {
        const checked = await context.check(answers)
        answers.region = checked.region
        context.say(`✔ Bucket ${checked.bucket} answered (region ${checked.region}).`)
        break
      } catch (error) {
        const reason = error instanceof BucketwrightError ? error : toBucketwrightError(error)
        context.say(`✖ Checking bucket ${answers.bucket} failed:`)
        for (const line of explainCheckFailure(reason)) context.say(line)
        context.say('Change the answers below (Enter keeps one).')
        ask = {}
      }
    }
  }
  answers.source =
    given.source ??
    (await select(
      {
        message: 'Data source:',
        choices: context.sources.map((source) => ({name: `${source.name} — ${source.description}${source.builtIn ? '' : ` [plugin ${source.plugin}]`}`, value: source.name})),
      },
      io,
    ))
  answers.jobs = given.jobs ?? (await checkbox<JobName>({message: 'Jobs to set up:', choices: JOB_NAMES.map((job) => ({name: job, value: job, checked: DEFAULT_JOBS.includes(job)}))}, io))
  answers.output = given.output ?? (needsOutput(answers.jobs) ? await input({message: 'Where should outputs go?', default: defaultOutput(answers)}, io) : defaultOutput(answers))
  if (answers.jobs.includes('upload-daemon')) {
    answers.uploadRoot = given.uploadRoot ?? (await input({message: 'Directory the upload daemon watches (first directory = bucket):', default: 'output/s3'}, io))
  }
  if (answers.storage === 'local') {
    delete answers.bucket
    delete answers.prefix
  }
  return answers
}

/** The wizard's check of a local raw-data folder: it must exist (the same check as `--path`), else why not. */
async function existingFolder(value: string): Promise<string | true> {
  if (value.trim() === '') return 'Enter a directory.'
  return checkLocalDirectory(value, {role: 'input'}).then(
    () => true,
    (error: Error) => error.message,
  )
}

async function askProfile(previous: string | undefined, context: WizardContext): Promise<string> {
  const {select, input} = await import('@inquirer/prompts')
  const profiles = await listAwsProfiles()
  if (profiles.length === 0) {
    context.say('No profiles found in ~/.aws/config or ~/.aws/credentials (create one with `aws configure --profile NAME`).')
    return input({message: 'Profile name:', default: previous, validate: (value) => value.trim() !== '' || 'Enter a profile name.'}, {output: process.stderr})
  }
  return select({message: 'AWS profile:', default: previous, choices: profiles.map((name) => ({name, value: name}))}, {output: process.stderr})
}
