import path from 'node:path'

import {BaseCommand, type CommandFlags, ExitCode, UsageError} from '../../plugins/core/index.js'
import {uploadDaemonFlags} from '../../plugins/core/upload-daemon/flags.js'
import type {UploadDaemonResult} from '../../plugins/core/upload-daemon/service.js'

/** The JSON contract of `bucketwright upload-daemon`: the run's counters, or the unit text with `--print-systemd-unit`. */
export type UploadDaemonCommandResult = UploadDaemonResult | {systemdUnit: string}

export default class UploadDaemon extends BaseCommand<UploadDaemonCommandResult> {
  static override summary = 'Ship files written under a local root to S3: <root>/<bucket>/<key>, deleted locally once verified.'
  static override description = `Scans --directory every --interval seconds. The first directory under the root is the bucket (--bucket-map for names that are not valid bucket names), the rest of the path is the key. A file is uploaded once it has been left alone for --stability seconds. It is deleted locally only when a byte-identical copy is proven to be in the bucket: before an upload, by a strong digest of the whole bytes (a full-object SHA-256/SHA-1, an MD5 ETag, a multipart ETag recomputed with the same parts — never size or CRC32 alone; otherwise it is uploaded again); after an upload, by the ETag of the bytes sent or, from a store that answers another form, by what the store attests, down to reading the object back.

--keep ships and keeps the local files (a copy; files the bucket proves to hold are not uploaded again). Folders are never removed, unless --prune-empty-dirs: then those the daemon emptied by shipping (never the bucket folder or the root). Each object gets a Content-Type from its extension. Log times are UTC unless --log-timezone local.

Runs in the foreground (systemd, EC2 user data), once (--once, for cron), or in the background with \`upload-daemon start|stop|status\`. SIGTERM finishes single uploads in flight, aborts multipart uploads, and deletes nothing unverified. Symbolic links are never followed; temporary names (dotfiles, *.tmp, *.part, *.partial, *.crdownload, *.swp, *.swx, *~, #*#) are left alone unless --include-temp; --exclude GLOB leaves out more.

Bad input: two local files mapping to one key are both kept and neither shipped (ERROR naming both); a directory or file it may not read, a name that is not UTF-8, a missing bucket, a failed upload or delete are each an ERROR naming the path, and the rest is shipped; a file that vanishes or changes meanwhile is a WARN and is left. A foreground daemon keeps running through all of these.

Exit codes: 0 done (or stopped by SIGTERM); 1 with --once when files were left behind by an error (counts in --json: counters and unshippedByError), or credentials/root unusable; 2 usage error, e.g. a --directory that does not exist or is a file. See docs/upload-daemon.md for the full table, EC2 user data and the IAM policy.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --once -d /data/out/s3 --bucket-map distributed_colony=distributed-colony',
    "<%= config.bin %> <%= command.id %> --once -d /data/out/s3 --exclude '*.log' --exclude 'scratch/**'",
    '<%= config.bin %> <%= command.id %> --print-systemd-unit | sudo tee /etc/systemd/system/bucketwright-upload-daemon.service',
    '<%= config.bin %> <%= command.id %> start -d ~/exports',
  ]

  static override flags = uploadDaemonFlags

  async run(): Promise<UploadDaemonCommandResult> {
    const {flags} = await this.parse(UploadDaemon)
    if (flags['log-timezone'] === 'local') this.logger = this.logger.inTimezone('local')
    const settings = await this.daemonSettings(flags)
    if (flags['print-systemd-unit']) {
      const [{systemdUnit}, {objectOptionArgs}] = await Promise.all([import('../../plugins/core/upload-daemon/systemd.js'), import('../../plugins/core/storage/object-options.js')])
      const unit = systemdUnit({
        ...settings,
        node: process.execPath,
        bin: path.join(this.config.root, 'bin', 'run.js'),
        workingDirectory: process.cwd(),
        bucketMap: flags['bucket-map'],
        exclude: flags.exclude,
        includeTemp: flags['include-temp'],
        pruneEmptyDirs: flags['prune-empty-dirs'],
        keep: flags.keep,
        logTimezone: flags['log-timezone'] as 'utc' | 'local',
        user: process.env.USER,
        objectArgs: objectOptionArgs(settings.objects),
      })
      if (!this.jsonEnabled()) process.stdout.write(unit)
      return {systemdUnit: unit}
    }
    const {runUploadDaemon} = await import('../../plugins/core/upload-daemon/service.js')
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    try {
      const result = await runUploadDaemon({
        ...settings,
        intervalSeconds: flags.interval,
        stabilitySeconds: flags.stability,
        includeTemp: flags['include-temp'],
        exclude: flags.exclude,
        pruneEmptyDirs: flags['prune-empty-dirs'],
        keep: flags.keep,
        bucketMap: settings.bucketMapping,
        partSize: 8 * 1024 * 1024,
        singlePutLimit: flags['multipart-threshold'] * 1024 * 1024,
        once: flags.once,
        connection: {...this.storageOptions(), objects: settings.objects},
        logger: this.logger,
        signal: controller.signal,
        stateFile: flags['state-file'],
        onReady: (daemon) => void daemon.writeState(true),
      })
      // Cron sees only the exit code: a run that left files behind because of an error must not look like success.
      if (flags.once && result.unshippedByError > 0) this.setOutcome(ExitCode.Failure)
      return result
    } finally {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
      if (flags['pid-file']) await this.removeOwnPidFile(flags['pid-file'])
    }
  }

  private async daemonSettings(flags: CommandFlags<typeof UploadDaemon>) {
    const [{parseBucketMap}, {validateDaemonNumbers}] = await Promise.all([import('../../plugins/core/upload-daemon/daemon.js'), import('../../plugins/core/upload-daemon/service.js')])
    validateDaemonNumbers(flags)
    const {parseObjectOptions} = await import('../../plugins/core/storage/object-options.js')
    const objects = parseObjectOptions(flags)
    const {map, problems} = parseBucketMap(flags['bucket-map'])
    if (problems.length > 0)
      throw new UsageError(`Bad --bucket-map: ${problems.join('; ')}.`, {
        code: 'BAD_BUCKET_MAP',
        nextSteps: ['Write it as --bucket-map local_dir=real-bucket-name (lowercase letters, digits, dots, hyphens; 3-63 characters).'],
      })
    const connection = this.storageOptions()
    return {
      directory: flags.directory,
      interval: flags.interval,
      stability: flags.stability,
      region: flags.region!,
      profile: flags.profile,
      endpoint: connection.endpoint,
      concurrency: flags.concurrency,
      bucketMapping: map,
      objects,
    }
  }

  private async removeOwnPidFile(pidFile: string): Promise<void> {
    const {readPid} = await import('../../plugins/core/upload-daemon/control.js')
    const {unlink} = await import('node:fs/promises')
    if ((await readPid(pidFile)) === process.pid) await unlink(pidFile).catch(() => {})
  }
}
