import {createHash} from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

import {UserError} from '../errors/errors.js'
import {makeDirectory} from '../storage/make-directory.js'

/** A held run lock; `release()` removes it. */
export interface RunLock {
  file: string
  release(): Promise<void>
}

/** Whether a process of this host with this id is running (EPERM: it is, under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the lock of a job (e.g. `convert s3://b/raw/ → s3://b/v2/`), so two cron runs of the same job never
 * overlap. A lock left by a dead process is taken over.
 */
export async function acquireRunLock(dir: string, job: string): Promise<RunLock> {
  await makeDirectory(dir)
  const file = path.join(dir, `${createHash('sha256').update(job).digest('hex').slice(0, 16)}.lock`)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify({pid: process.pid, job, since: new Date().toISOString()}), {flag: 'wx'})
      return {file, release: () => fs.rm(file, {force: true})}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = JSON.parse(await fs.readFile(file, 'utf8').catch(() => '{}')) as {pid?: number; since?: string}
      if (holder.pid && isProcessAlive(holder.pid)) {
        throw new UserError(`Another run of this job is in progress (pid ${holder.pid}, since ${holder.since}).`, {
          code: 'JOB_RUNNING',
          nextSteps: ['Wait for it to finish; cron runs of one job never overlap.', `If no such process exists, delete ${file}.`],
          details: {pid: holder.pid, lockFile: file},
        })
      }
      await fs.rm(file, {force: true})
    }
  }
  throw new UserError(`Could not take the run lock ${file}.`, {code: 'JOB_RUNNING'})
}
