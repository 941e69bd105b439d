import {Flags} from '@oclif/core'

import {objectFlags} from '../command/flags.js'

/**
 * The daemon's own flags, named and with the environment variables the user's specification gives. `--region` and
 * `--profile` override the base flags of the same name: here they read `AWS_REGION` / `AWS_PROFILE` (the
 * `BUCKETWRIGHT_*` variables still apply under them) and the region defaults to eu-west-1.
 */
export const uploadDaemonFlags = {
  help: Flags.help({char: 'h', summary: 'Show help.'}),
  ...objectFlags,
  directory: Flags.string({char: 'd', summary: 'Root to watch: <root>/<bucket>/<key>; an existing folder (else exit 2).', env: 'S3_ROOT_DIR', default: 'output/s3'}),
  interval: Flags.integer({char: 'i', summary: 'Seconds between scans.', env: 'S3_UPLOAD_INTERVAL', default: 60, min: 1}),
  stability: Flags.integer({char: 's', summary: 'Seconds a file must be left unmodified before it is uploaded.', env: 'FILE_STABILITY_SECONDS', default: 2, min: 0}),
  region: Flags.string({
    char: 'r',
    summary: 'AWS region of the buckets.',
    env: 'AWS_REGION',
    default: async () => process.env.BUCKETWRIGHT_REGION ?? 'eu-west-1',
    helpGroup: 'S3',
  }),
  profile: Flags.string({
    char: 'p',
    summary: 'Named AWS profile (shared config, SSO).',
    env: 'AWS_PROFILE',
    default: async () => process.env.BUCKETWRIGHT_PROFILE,
    helpGroup: 'S3',
  }),
  'bucket-map': Flags.string({summary: 'Upload directory LOCAL to bucket REAL, as LOCAL=REAL (repeatable); for directory names that are not valid bucket names.', multiple: true, default: []}),
  concurrency: Flags.integer({summary: 'Files uploaded at once.', env: 'BUCKETWRIGHT_UPLOAD_CONCURRENCY', default: 64, min: 1, max: 1024}),
  'multipart-threshold': Flags.integer({
    summary: 'Files above this many MiB go up as multipart uploads (8 MiB parts); smaller ones in one PUT.',
    description:
      'One PUT is one request and, on most stores, less work than parts plus a completion; multipart lets a flaky link retry one part instead of the file. A store that refuses a large PUT (HTTP 413) gets multipart from then on.',
    env: 'BUCKETWRIGHT_MULTIPART_THRESHOLD',
    default: 32,
    min: 1,
    max: 5120,
  }),
  'include-temp': Flags.boolean({
    summary: 'Also upload temporary files (dotfiles, *.tmp, *.part, *.partial, *.crdownload, *.swp, *.swx, *~, #*#).',
    env: 'BUCKETWRIGHT_INCLUDE_TEMP',
    default: false,
  }),
  exclude: Flags.string({
    summary: 'Leave out files matching GLOB (repeatable), as rclone does; they stay where they are.',
    description:
      "GLOB is matched against the path below the root (<bucket dir>/<key>): * and ? stay within one path segment, ** crosses them, [abc] and {a,b} work, and * matches dotfiles too. A GLOB starting with / is anchored at the root; any other matches at any depth (*.log is every .log file). A GLOB ending in /** (or /) leaves out a whole directory, which is then not even listed: --exclude 'scratch/**'.",
    multiple: true,
    default: [],
    helpValue: 'GLOB',
  }),
  keep: Flags.boolean({
    summary: 'Copy: ship files and keep them locally (never delete). Files already in the bucket are not uploaded again.',
    description: 'A file is uploaded again only when the bucket does not prove, by a strong digest, to hold its bytes. Within one run, a file already shipped is not read again until its size, mtime or inode change.',
    env: 'BUCKETWRIGHT_KEEP',
    default: false,
  }),
  'prune-empty-dirs': Flags.boolean({
    summary: 'Remove the folders the daemon empties by shipping their last file (never one you made empty, a bucket folder or the root).',
    description: 'Off by default: a writer that made its folder once must still find it for its next file. With it, writers must create their folder before each file (mkdir -p).',
    env: 'BUCKETWRIGHT_PRUNE_EMPTY_DIRS',
    default: false,
  }),
  'log-timezone': Flags.string({
    summary: "Time zone of log timestamps: utc, or local (the machine's, as the original daemon logged).",
    description:
      'UTC by default: a text timestamp carries no zone, and in local time an hour repeats when summer time ends; UTC lines from machines in different zones sort together, and EC2 instances run in UTC anyway. JSON lines carry the offset (…Z or +01:00).',
    options: ['utc', 'local'],
    env: 'BUCKETWRIGHT_LOG_TIMEZONE',
    default: 'utc',
  }),
  once: Flags.boolean({summary: 'One scan, then exit (for cron).', exclusive: ['print-systemd-unit']}),
  'print-systemd-unit': Flags.boolean({summary: 'Print a systemd unit that runs the daemon with these settings, and exit.'}),
  'state-file': Flags.string({summary: 'Keep counters in this file (written by `upload-daemon start`).', hidden: true}),
  'pid-file': Flags.string({summary: 'PID file to remove at exit (written by `upload-daemon start`).', hidden: true}),
}

/** Where `start`, `stop` and `status` keep the PID, log and state files. */
export const runDirFlag = {
  'run-dir': Flags.string({summary: 'Directory of the PID, log and state files (default: the bucketwright data dir).', env: 'BUCKETWRIGHT_DAEMON_DIR', helpGroup: 'GLOBAL'}),
}
