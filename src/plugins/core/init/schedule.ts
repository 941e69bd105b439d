import path from 'node:path'

import type {BucketwrightConfig} from '../config/config.js'
import {cronArgument, systemdArgument, systemdPath, systemdText} from '../config/service-lines.js'

/** A systemd unit file to install under /etc/systemd/system (or ~/.config/systemd/user). */
export interface SystemdUnit {
  name: string
  content: string
}

/** Cron expressions `init` writes, in systemd `OnCalendar` form. */
function onCalendar(cron: string): string | undefined {
  const [minute, hour, day, month, weekday] = cron.split(/\s+/)
  if (day !== '*' || month !== '*' || weekday !== '*') return undefined
  const field = (value: string) => (value === '*' ? '*' : value.startsWith('*/') ? `00/${value.slice(2)}` : value.padStart(2, '0'))
  return `*-*-* ${field(hour)}:${field(minute)}:00`
}

/**
 * How a scheduled job is started. cron and systemd start jobs with another working directory and a bare PATH (cron:
 * /usr/bin:/bin, where there may be no Node, or an older one), so every path in the lines is absolute: the Node
 * that runs bucketwright, its bin, the config file and the log folder; relative ones are taken from
 * `workingDirectory`, which is also where the job runs (cron: `cd`; systemd: `WorkingDirectory=`).
 */
export interface ScheduleOptions {
  /** The Node.js (22+) that runs bucketwright (`process.execPath`). */
  node: string
  /** bucketwright's bin/run.js. */
  bin: string
  configFile: string
  /** The folder the jobs run in: where `init` ran, which relative paths were given from. */
  workingDirectory: string
}

/** The command line of a job (Node, the CLI, its command and arguments, pinned to the config file), quoted by `quote`. */
function commandLine(options: ScheduleOptions, command: string, args: string[], extra: string[] = [], quote: (arg: string) => string = cronArgument): string {
  const at = (file: string) => path.resolve(options.workingDirectory, file)
  return [at(options.node), at(options.bin), command, ...args, ...extra, '--config', at(options.configFile)].map(quote).join(' ')
}

/**
 * Cron lines for the jobs of a config: each job on its schedule, run in the working directory, logging to
 * `logDir/<job>.log`; the upload daemon runs `--once` a minute (its run lock keeps two from overlapping).
 */
export function cronLines(config: BucketwrightConfig, options: ScheduleOptions & {logDir: string}): string[] {
  const workingDirectory = path.resolve(options.workingDirectory)
  return Object.entries(config.jobs ?? {}).map(([name, job]) => {
    const extra = job.command === 'upload-daemon' ? ['--once'] : []
    const log = path.resolve(workingDirectory, options.logDir, `${name}.log`)
    return `${job.schedule ?? '0 * * * *'} cd ${cronArgument(workingDirectory)} && ${commandLine(options, job.command, job.args, extra)} >> ${cronArgument(log)} 2>&1`
  })
}

/**
 * systemd units for the jobs: a oneshot service and a timer per scheduled job; the upload daemon as a long-running
 * service that systemd restarts on failure and stops with SIGTERM (which it handles by finishing what is in flight).
 */
export function systemdUnits(config: BucketwrightConfig, options: ScheduleOptions): SystemdUnit[] {
  const units: SystemdUnit[] = []
  const workingDirectory = `WorkingDirectory=${systemdPath(path.resolve(options.workingDirectory))}`
  for (const [name, job] of Object.entries(config.jobs ?? {})) {
    const exec = commandLine(options, job.command, job.args, [], (arg) => systemdArgument(arg))
    if (job.command === 'upload-daemon') {
      units.push({
        name: `bucketwright-${name}.service`,
        content: `[Unit]\nDescription=bucketwright ${systemdText(name)}: upload finished files to S3\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=simple\n${workingDirectory}\nExecStart=${exec}\nRestart=on-failure\nRestartSec=30\nKillSignal=SIGTERM\nTimeoutStopSec=120\n\n[Install]\nWantedBy=multi-user.target\n`,
      })
      continue
    }
    units.push({
      name: `bucketwright-${name}.service`,
      content: `[Unit]\nDescription=bucketwright ${systemdText(name)}${config.source ? ` (${systemdText(config.source)})` : ''}\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n${workingDirectory}\nExecStart=${exec}\nNice=10\n`,
    })
    units.push({
      name: `bucketwright-${name}.timer`,
      content: `[Unit]\nDescription=Run bucketwright ${systemdText(name)} on schedule\n\n[Timer]\nOnCalendar=${onCalendar(job.schedule ?? '0 * * * *') ?? 'hourly'}\nPersistent=true\nRandomizedDelaySec=60\n\n[Install]\nWantedBy=timers.target\n`,
    })
  }
  return units
}
