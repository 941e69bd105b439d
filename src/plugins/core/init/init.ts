import fs from 'node:fs/promises'
import path from 'node:path'

import {type BucketwrightConfig, saveConfig} from '../config/config.js'
import {UserError} from '../errors/errors.js'
import type {SourceRegistry} from '../sources/registry.js'
import {makeDirectory} from '../storage/make-directory.js'
import {checkLocalDirectory} from '../storage/open.js'
import {configFromAnswers, type InitAnswers} from './answers.js'
import {checkBucket} from './bucket-check.js'
import {cronLines, type ScheduleOptions, type SystemdUnit, systemdUnits} from './schedule.js'
import {answersWithoutPrompts, askAnswers, flagExamples, type GivenAnswers} from './wizard.js'

/** The JSON contract of `bucketwright init`. */
export interface InitResult {
  configFile: string
  config: BucketwrightConfig
  /** Region the live check found (`null` when not checked or local). */
  checkedRegion: string | null
  cron: string[]
  systemd: SystemdUnit[]
}

/** Options of {@link runInit}. */
export interface InitOptions {
  given: GivenAnswers
  /** Prompt for what flags did not answer (a terminal, no `--yes`, no `--json`). */
  interactive: boolean
  /** Check the bucket live (`--no-check` turns it off). */
  check: boolean
  /** Overwrite an existing config file. */
  force: boolean
  configFile: string
  registry: SourceRegistry
  /** The Node, the CLI's bin and the folder the jobs run in, for cron and systemd (see {@link ScheduleOptions}). */
  schedule: Omit<ScheduleOptions, 'configFile'>
  logDir: string
  say: (line: string) => void
  /** Fails fast naming the flags that would answer the questions, with examples (BaseCommand.requireFlags). */
  requireFlags: (missing: string[], examples: Record<string, string>) => void
}

const checkerFor = (enabled: boolean) =>
  enabled ? (answers: InitAnswers) => checkBucket({bucket: answers.bucket!, region: answers.region, endpoint: answers.endpoint, profile: answers.profile, anonymous: answers.credentials === 'anonymous'}) : undefined

/**
 * Sets a project up: the answers (asked, or from flags and defaults), the live bucket check, the config file, and
 * the cron lines and systemd units of the chosen jobs.
 */
export async function runInit(options: InitOptions): Promise<InitResult> {
  const existing = await fs.stat(options.configFile).catch(() => undefined)
  if (existing && !options.force) {
    throw new UserError(`${options.configFile} already exists.`, {
      code: 'CONFIG_EXISTS',
      nextSteps: ['Pass --force to replace it, or --config PATH to write another file.'],
      details: {configFile: options.configFile},
    })
  }
  // The jobs will read this folder: a mistyped one fails now, before any question, not in the first cron run (the
  // wizard checks a typed one the same way).
  if (options.given.path !== undefined && options.given.storage !== 's3') await checkLocalDirectory(options.given.path, {role: 'input', flag: '--path'})
  const check = checkerFor(options.check)
  let answers: InitAnswers
  let checkedRegion: string | null = null
  if (options.interactive) {
    answers = await askAnswers(options.given, {sources: options.registry.list(), check, say: options.say}).catch((error: Error) => {
      // Ctrl+C or a closed terminal in a prompt: the user stopped; nothing has been written.
      if (error.name === 'ExitPromptError' || error.name === 'AbortPromptError') {
        throw new UserError('init was stopped; nothing was written.', {code: 'CANCELLED', nextSteps: ['Run `bucketwright init` again, or pass every answer as a flag with --yes.']})
      }
      throw error
    })
    if (check && answers.storage === 's3') checkedRegion = answers.region ?? null
  } else {
    const resolved = answersWithoutPrompts(options.given)
    options.requireFlags(resolved.missing, flagExamples(options.registry.list()))
    answers = resolved.answers
    if (check && answers.storage === 's3') {
      answers.region = (await check(answers)).region
      checkedRegion = answers.region
    }
  }
  options.registry.get(answers.source) // an unknown source is a usage error listing the known ones
  const config = configFromAnswers(answers)
  await saveConfig(options.configFile, config)
  // Cron appends each job's log there; the directory must exist before the first run.
  await makeDirectory(options.logDir)
  return {
    configFile: options.configFile,
    config,
    checkedRegion,
    cron: cronLines(config, {...options.schedule, configFile: options.configFile, logDir: options.logDir}),
    systemd: systemdUnits(config, {...options.schedule, configFile: options.configFile}),
  }
}

/** Text output of init: where the config went, then the cron lines and units to install. */
export function formatInitResult(result: InitResult): string {
  const lines = [`Wrote ${result.configFile}`, '', '# crontab -e, then add:', ...result.cron, '']
  for (const unit of result.systemd) lines.push(`# ${path.join('/etc/systemd/system', unit.name)}`, unit.content)
  if (result.systemd.length > 0) {
    const timers = result.systemd.filter((unit) => unit.name.endsWith('.timer') || unit.content.includes('WantedBy=multi-user.target')).map((unit) => unit.name)
    lines.push(`# then: sudo systemctl daemon-reload && sudo systemctl enable --now ${timers.join(' ')}`)
  }
  return lines.join('\n')
}
