import path from 'node:path'

import type {BucketwrightConfig} from '../config/config.js'
import {cronArgument, systemdArgument, systemdText} from '../config/service-lines.js'

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

/** The command line of a job (the CLI, its command and arguments, pinned to the config file), quoted for `quote`. */
function commandLine(bin: string, configFile: string, command: string, args: string[], extra: string[] = [], quote: (arg: string) => string = cronArgument): string {
  return [bin, command, ...args, ...extra, '--config', configFile].map(quote).join(' ')
}

/**
 * Cron lines for the jobs of a config: each job on its schedule, logging to `logDir/<job>.log`; the upload
 * daemon runs `--once` a minute (its run lock keeps two from overlapping).
 */
export function cronLines(config: BucketwrightConfig, options: {bin: string; configFile: string; logDir: string}): string[] {
  return Object.entries(config.jobs ?? {}).map(([name, job]) => {
    const extra = job.command === 'upload-daemon' ? ['--once'] : []
    return `${job.schedule ?? '0 * * * *'} ${commandLine(options.bin, options.configFile, job.command, job.args, extra)} >> ${cronArgument(path.join(options.logDir, `${name}.log`))} 2>&1`
  })
}

/**
 * systemd units for the jobs: a oneshot service and a timer per scheduled job; the upload daemon as a long-running
 * service that systemd restarts on failure and stops with SIGTERM (which it handles by finishing what is in flight).
 */
export function systemdUnits(config: BucketwrightConfig, options: {bin: string; configFile: string}): SystemdUnit[] {
  const units: SystemdUnit[] = []
  for (const [name, job] of Object.entries(config.jobs ?? {})) {
    const exec = commandLine(options.bin, options.configFile, job.command, job.args, [], (arg) => systemdArgument(arg))
    if (job.command === 'upload-daemon') {
      units.push({
        name: `bucketwright-${name}.service`,
        content: `[Unit]\nDescription=bucketwright ${systemdText(name)}: upload finished files to S3\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=simple\nExecStart=${exec}\nRestart=on-failure\nRestartSec=30\nKillSignal=SIGTERM\nTimeoutStopSec=120\n\n[Install]\nWantedBy=multi-user.target\n`,
      })
      continue
    }
    units.push({
      name: `bucketwright-${name}.service`,
      content: `[Unit]\nDescription=bucketwright ${systemdText(name)}${config.source ? ` (${systemdText(config.source)})` : ''}\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=${exec}\nNice=10\n`,
    })
    units.push({
      name: `bucketwright-${name}.timer`,
      content: `[Unit]\nDescription=Run bucketwright ${systemdText(name)} on schedule\n\n[Timer]\nOnCalendar=${onCalendar(job.schedule ?? '0 * * * *') ?? 'hourly'}\nPersistent=true\nRandomizedDelaySec=60\n\n[Install]\nWantedBy=timers.target\n`,
    })
  }
  return units
}
