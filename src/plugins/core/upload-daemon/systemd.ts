import path from 'node:path'

import {systemdArgument, systemdPath, systemdText} from '../config/service-lines.js'

/** Settings written into the unit's `Environment=` lines. */
export interface SystemdUnitOptions {
  /** Absolute path of the Node.js (22+) that runs bucketwright. */
  node: string
  /** Absolute path of bucketwright's bin/run.js. */
  bin: string
  /** The root the daemon watches; a relative one is taken from `workingDirectory`. */
  directory: string
  /** The folder the daemon runs in (`WorkingDirectory=`): where the unit was printed. */
  workingDirectory: string
  interval: number
  stability: number
  region: string
  profile?: string
  endpoint?: string
  concurrency: number
  bucketMap: string[]
  exclude: string[]
  includeTemp: boolean
  pruneEmptyDirs?: boolean
  keep?: boolean
  logTimezone?: 'utc' | 'local'
  /** Object options as arguments (`--sse aws:kms`, …: see storage/object-options.ts objectOptionArgs). */
  objectArgs?: string[]
  user?: string
}

/**
 * A systemd unit running the daemon in the foreground: settings as environment, logs to the journal, restarts on
 * failure, and a stop timeout long enough for uploads in flight to finish (SIGTERM is the daemon's stop signal).
 */
export function systemdUnit(options: SystemdUnitOptions): string {
  // systemd starts the daemon elsewhere: every path in the unit is absolute.
  const workingDirectory = path.resolve(options.workingDirectory)
  const directory = path.resolve(workingDirectory, options.directory)
  const env = [
    `S3_ROOT_DIR=${directory}`,
    `S3_UPLOAD_INTERVAL=${options.interval}`,
    `FILE_STABILITY_SECONDS=${options.stability}`,
    `AWS_REGION=${options.region}`,
    `BUCKETWRIGHT_UPLOAD_CONCURRENCY=${options.concurrency}`,
    ...(options.profile ? [`AWS_PROFILE=${options.profile}`] : []),
    ...(options.endpoint ? [`BUCKETWRIGHT_ENDPOINT=${options.endpoint}`] : []),
    ...(options.includeTemp ? ['BUCKETWRIGHT_INCLUDE_TEMP=true'] : []),
    ...(options.pruneEmptyDirs ? ['BUCKETWRIGHT_PRUNE_EMPTY_DIRS=true'] : []),
    ...(options.keep ? ['BUCKETWRIGHT_KEEP=true'] : []),
    ...(options.logTimezone === 'local' ? ['BUCKETWRIGHT_LOG_TIMEZONE=local'] : []),
  ]
  const extra = [
    ...options.bucketMap.map((entry) => ` --bucket-map ${systemdArgument(entry)}`),
    ...options.exclude.map((glob) => ` --exclude ${systemdArgument(glob)}`),
    ...(options.objectArgs ?? []).map((arg) => ` ${systemdArgument(arg)}`),
  ].join('')
  return `# /etc/systemd/system/bucketwright-upload-daemon.service
# Install: sudo systemctl daemon-reload && sudo systemctl enable --now bucketwright-upload-daemon
# Logs:    journalctl -u bucketwright-upload-daemon -f
[Unit]
Description=bucketwright upload daemon: ship files under ${systemdText(directory)} to S3
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
${options.user ? `User=${systemdText(options.user)}\n` : ''}${env.map((line) => `Environment=${systemdArgument(line, {exec: false})}`).join('\n')}
WorkingDirectory=${systemdPath(workingDirectory)}
ExecStart=${systemdArgument(path.resolve(workingDirectory, options.node))} ${systemdArgument(path.resolve(workingDirectory, options.bin))} upload-daemon${extra}
KillSignal=SIGTERM
TimeoutStopSec=120
Restart=on-failure
RestartSec=10
# Exit 2 is a usage error (a root that does not exist, a bad flag): restarting cannot fix it.
RestartPreventExitStatus=2

[Install]
WantedBy=multi-user.target
`
}
