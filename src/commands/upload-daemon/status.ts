import path from 'node:path'

import {BaseCommand, printable} from '../../plugins/core/index.js'
import {daemonStatus, runFiles, type StatusResult} from '../../plugins/core/upload-daemon/control.js'
import {runDirFlag} from '../../plugins/core/upload-daemon/flags.js'

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${seconds % 60}s` : `${seconds}s`
}

export default class UploadDaemonStatus extends BaseCommand<StatusResult> {
  static override summary = 'Show whether the background upload daemon runs: PID, uptime and counters.'
  static override description = 'Exit code 0 when it runs, 1 when it does not.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override flags = {...runDirFlag}

  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(UploadDaemonStatus)
    const status = await daemonStatus(runFiles(flags['run-dir'] ?? path.join(this.config.dataDir, 'upload-daemon')))
    if (!status.running) this.setOutcome(1)
    if (this.jsonEnabled()) return status
    if (!status.running) {
      this.log(status.stalePidFile ? `not running (stale PID file of ${status.pid}; see ${status.logFile})` : 'not running')
      return status
    }
    const c = status.state?.counters
    this.log(`running  PID ${status.pid}  uptime ${status.uptimeSeconds === undefined ? '?' : duration(status.uptimeSeconds)}  ${status.state?.phase ?? 'starting'}`)
    if (status.state) this.log(`root     ${printable(status.state.root)}`)
    if (c)
      this.log(
        `counters scans ${c.scans}  uploaded ${c.uploaded} (${(c.uploadedBytes / 1e6).toFixed(1)} MB)  already there ${c.alreadyThere}  failed ${c.failed}  changed ${c.changed}  not yet stable ${c.unstable}  in flight ${c.inFlight}`,
      )
    // What the last scan left behind because of an error (absent from a state file of an older daemon).
    const held =
      c &&
      [
        ['not deleted', c.deleteFailed],
        ['bucket skipped', c.bucketSkipped],
        ['key collisions', c.collisions],
        ['unreadable or unshippable', c.scanErrors],
      ].filter(([, count]) => Number(count) > 0)
    if (held && held.length > 0) this.log(`held     ${held.map(([what, count]) => `${what} ${count}`).join('  ')}`)
    if (status.state?.lastError) this.log(`last error  ${printable(status.state.lastError)}`)
    this.log(`log      ${status.logFile}`)
    return status
  }
}
