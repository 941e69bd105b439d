import path from 'node:path'

import {BaseCommand} from '../../plugins/core/index.js'
import {type StartResult, runFiles, startDetached} from '../../plugins/core/upload-daemon/control.js'
import {runDirFlag, uploadDaemonFlags} from '../../plugins/core/upload-daemon/flags.js'

export default class UploadDaemonStart extends BaseCommand<StartResult> {
  static override summary = 'Start the upload daemon in the background (PID file + log file); refuses to start a second one.'
  static override description = 'Takes the same flags as `upload-daemon` and passes them on. Waits until the daemon has checked its credentials; if it exits instead, the end of its log is shown.'
  static override examples = ['<%= config.bin %> <%= command.id %> -d ~/exports -i 30', '<%= config.bin %> upload-daemon status', '<%= config.bin %> upload-daemon stop']
  static override flags = {...uploadDaemonFlags, ...runDirFlag}

  async run(): Promise<StartResult> {
    const {flags} = await this.parse(UploadDaemonStart)
    // A root that does not exist is the user's to fix (exit 2) before anything starts in the background.
    const {resolveRoot} = await import('../../plugins/core/upload-daemon/service.js')
    await resolveRoot(flags.directory)
    const files = runFiles(flags['run-dir'] ?? path.join(this.config.dataDir, 'upload-daemon'))
    // The daemon parses the very same arguments; only the run directory and --json stay here.
    const args = this.argv.filter((arg, index, all) => arg !== '--json' && !arg.startsWith('--run-dir') && all[index - 1] !== '--run-dir')
    const started = await startDetached({files, bin: path.join(this.config.root, 'bin', 'run.js'), args})
    this.logger.info(`Upload daemon started (PID ${started.pid}); log: ${started.logFile}.`)
    if (!this.jsonEnabled()) this.log(String(started.pid))
    return started
  }
}
