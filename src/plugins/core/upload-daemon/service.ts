import {constants} from 'node:fs'
import {access, realpath, stat} from 'node:fs/promises'
import path from 'node:path'

import {UsageError, UserError} from '../errors/errors.js'
import type {Logger} from '../progress/logger.js'
import type {S3ConnectionOptions} from '../storage/s3/s3-client.js'
import {checkCredentials, CREDENTIAL_STEPS} from '../storage/s3/credentials.js'
import {unshippedByError, type UploadCounters, UploadDaemon, type UploadDaemonOptions} from './daemon.js'
import {detectEc2, type Ec2Detection} from '../kit/ec2.js'

/** The `--json` result of `upload-daemon` (foreground or `--once`). */
export interface UploadDaemonResult {
  root: string
  mode: 'once' | 'foreground'
  ec2: Ec2Detection
  /** The identity STS reported, when credentials were checked with STS. */
  identity?: string
  counters: UploadCounters
  /**
   * Files left unshipped because of an error (failed uploads or deletes, missing or invalid buckets, collisions,
   * unreadable or unshippable entries; see the counters). With `--once`, anything but 0 is exit 1.
   */
  unshippedByError: number
}

/** Settings of {@link runUploadDaemon}. */
export interface RunUploadDaemonOptions extends Omit<UploadDaemonOptions, 'root'> {
  /** The root as given (relative to the working directory). */
  directory: string
  once: boolean
  connection: S3ConnectionOptions
  logger: Logger
  /** Aborted to stop (the command wires SIGTERM and SIGINT to it). */
  signal: AbortSignal
  /** Called once the credentials are checked and the first scan is about to start. */
  onReady?: (daemon: UploadDaemon) => void
}

/**
 * Runs the upload daemon: resolves the root, detects EC2, checks the credentials (a laptop stops here with
 * instructions; EC2 logs and keeps going, since an instance role may be attached later), then scans until stopped.
 */
export async function runUploadDaemon(options: RunUploadDaemonOptions): Promise<UploadDaemonResult> {
  // A line per file shipped: written a turn of the event loop at a time, all of them before this returns or throws.
  const lines = options.logger.buffered()
  try {
    return await runWith({...options, logger: lines.logger})
  } finally {
    lines.close()
  }
}

async function runWith(options: RunUploadDaemonOptions): Promise<UploadDaemonResult> {
  const {logger} = options
  const root = await resolveRoot(options.directory)
  const ec2 = await detectEc2()
  logger.info(ec2.onEc2 ? `Running on EC2 (instance ${ec2.instanceId}${ec2.region ? `, ${ec2.region}` : ''}).` : `Not on EC2 (${ec2.reason}); using local credentials.`)

  const [{S3Connection}, {HashWorker}] = await Promise.all([import('../storage/s3/s3-client.js'), import('./hash-worker.js')])
  // One connection (sockets, credentials, the lean path and the SDK) for every bucket the daemon ships to.
  const connection = new S3Connection({...options.connection, maxSockets: Math.max(options.concurrency, 16)})
  const hasher = new HashWorker()
  try {
    const check = await checkCredentials(connection, {endpoint: options.connection.endpoint, region: options.region, profile: options.profile, signal: options.signal})
    let credentialError: string | undefined
    // Stopped during the check: nothing was shipped and nothing is wrong; the run below ends before its first scan.
    if (!check.ok && !options.signal.aborted) {
      if (!ec2.onEc2) {
        throw new UserError(`Cannot start the upload daemon: ${check.error!.message}`, {
          code: check.error!.code ?? 'NO_CREDENTIALS',
          nextSteps: check.error!.nextSteps.length > 0 ? check.error!.nextSteps : CREDENTIAL_STEPS,
          details: check.error!.details,
        })
      }
      credentialError = check.error!.message
      logger.error(`Credential check failed on EC2 (${check.error!.message}); continuing: the instance role may be attached later. Each scan retries.`)
    } else {
      logger.info(check.identity ? `Credentials OK: ${check.identity}.` : `Credentials accepted by ${options.connection.endpoint}.`)
    }
    const daemon = new UploadDaemon({...options, root}, connection, logger, hasher)
    if (credentialError) daemon.noteError(credentialError)
    logger.info(`Watching ${root} every ${options.intervalSeconds} s (stable after ${options.stabilitySeconds} s, ${options.concurrency} uploads at once)${options.once ? ', one scan' : ''}.`)
    if (options.signal.aborted) logger.info('Stopped before the first scan; nothing was shipped.')
    options.signal.addEventListener(
      'abort',
      () => {
        logger.info('Stopping: single uploads in flight finish, multipart uploads are aborted; nothing unverified is deleted.')
        daemon.stopping()
      },
      {once: true},
    )
    options.onReady?.(daemon)
    const counters = await daemon.run(options.signal, options.once)
    return {root, mode: options.once ? 'once' : 'foreground', ec2, identity: check.identity, counters, unshippedByError: unshippedByError(counters)}
  } finally {
    connection.close()
    await hasher.close()
  }
}

/** Checks the numeric flags that oclif cannot bound on its own. */
export function validateDaemonNumbers(values: {interval: number; stability: number; concurrency: number}): void {
  if (!(values.interval > 0)) throw new UsageError(`--interval must be a positive number of seconds (got ${values.interval}).`, {code: 'BAD_INTERVAL'})
  if (!(values.stability >= 0)) throw new UsageError(`--stability must be zero or more seconds (got ${values.stability}).`, {code: 'BAD_STABILITY'})
  if (!(values.concurrency >= 1)) throw new UsageError(`--concurrency must be at least 1 (got ${values.concurrency}).`, {code: 'BAD_CONCURRENCY'})
}

/**
 * The root as an absolute real path. It must exist and be a directory the daemon can list: a missing root or a file
 * is a usage error (exit 2) — the daemon never creates it, since a typo would then watch a folder nobody writes to.
 */
export async function resolveRoot(directory: string): Promise<string> {
  const absolute = path.resolve(directory)
  const pointAt = 'Or point -d (S3_ROOT_DIR) at the folder your programs write <bucket>/<key> files to.'
  let stats
  try {
    stats = await stat(absolute)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new UsageError(`The root directory ${absolute} does not exist.`, {code: 'ROOT_NOT_FOUND', nextSteps: [`Create it: mkdir -p ${absolute}`, pointAt], details: {root: absolute}})
    }
    if (code === 'ENOTDIR') {
      throw new UsageError(`The root ${absolute} is not a directory: a part of that path is a file.`, {code: 'ROOT_NOT_A_DIRECTORY', nextSteps: [pointAt], details: {root: absolute}})
    }
    throw rootUnreadable(absolute, error as NodeJS.ErrnoException)
  }
  if (!stats.isDirectory()) {
    throw new UsageError(`The root ${absolute} is a file, not a directory.`, {
      code: 'ROOT_NOT_A_DIRECTORY',
      nextSteps: [pointAt, 'The daemon watches a directory whose subdirectories are buckets: <root>/<bucket>/<key>.'],
      details: {root: absolute},
    })
  }
  try {
    await access(absolute, constants.R_OK | constants.X_OK)
  } catch (error) {
    throw rootUnreadable(absolute, error as NodeJS.ErrnoException)
  }
  return realpath(absolute)
}

function rootUnreadable(root: string, error: NodeJS.ErrnoException): UserError {
  return new UserError(`Cannot read the root directory ${root}: ${error.code === 'EACCES' || error.code === 'EPERM' ? 'permission denied' : error.message}.`, {
    code: 'ROOT_UNREADABLE',
    nextSteps: [`Let the daemon's user list ${root} (chmod/chown), or run the daemon as its owner.`],
    details: {root, errno: error.code},
  })
}
