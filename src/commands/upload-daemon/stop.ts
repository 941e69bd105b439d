import {Flags} from '@oclif/core'
import path from 'node:path'

import {BaseCommand} from '../../plugins/core/index.js'
import {runFiles, stopDaemon, type StopResult} from '../../plugins/core/upload-daemon/control.js'
import {runDirFlag} from '../../plugins/core/upload-daemon/flags.js'

export default class UploadDaemonStop extends BaseCommand<StopResult> {
  static override summary = 'Stop the background upload daemon: SIGTERM, wait for uploads in flight, remove the PID file.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --timeout 300']
  static override flags = {
    ...runDirFlag,
    timeout: Flags.integer({summary: 'Seconds to wait for the daemon to finish its uploads.', default: 120, min: 1}),
  }

  async run(): Promise<StopResult> {
    const {flags} = await this.parse(UploadDaemonStop)
    const result = await stopDaemon({files: runFiles(flags['run-dir'] ?? path.join(this.config.dataDir, 'upload-daemon')), timeoutMs: flags.timeout * 1000})
    if (result.stopped) this.logger.info(`Upload daemon (PID ${result.pid}) stopped after ${(result.waitedMs / 1000).toFixed(1)} s.`)
    else if (result.stalePidFile) this.logger.warn(`The upload daemon (PID ${result.pid}) was not running; removed its stale PID file.`)
    else this.logger.info('The upload daemon is not running.')
    return result
  }
}
