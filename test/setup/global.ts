import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type {TestProject} from 'vitest/node'

import {startS3Server} from '../helpers/s3-server.js'
import {startS3rver} from '../helpers/s3rver.js'
import {type LeakedProcess, leakedProcesses, leftoverPaths} from './leaks.js'

/** Set in every process of the run (workers inherit it), so a process the run left behind can be told by it. */
const MARKER = 'BUCKETWRIGHT_TEST_RUN'
/** How long stragglers get to go away before they count as leaks: a child killed in a last afterAll may still be exiting. */
const GRACE_MS = 3000

/**
 * Starts the two loopback S3-protocol servers once for the whole run: fauxqs (in memory), the default, and s3rver
 * (on disk, signature-checking), the second implementation every S3 code path is also run against. Suites reach
 * them through the provided values (see test/helpers/s3.ts). Postgres is started only by the suites that need it.
 *
 * The run gets a temp folder of its own (TMPDIR/TMP/TEMP for the workers and everything they start), and `npm test`
 * leaves nothing behind: at the end the teardown fails the run, naming them, when a test left a file or folder there
 * or a process running, then removes the folder.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const outer = {TMPDIR: process.env.TMPDIR, TMP: process.env.TMP, TEMP: process.env.TEMP}
  const runTemp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'bw-test-run-')))
  // As /tmp itself: tests run processes as an unprivileged user, whose files and temp files live in here too.
  await fs.chmod(runTemp, 0o1777)
  // No test asks a real instance metadata service (169.254.169.254) where it runs: tests that detect EC2 pass a loopback one.
  Object.assign(process.env, {TMPDIR: runTemp, TMP: runTemp, TEMP: runTemp, [MARKER]: runTemp, AWS_EC2_METADATA_DISABLED: 'true'})
  const [server, s3rver] = await Promise.all([startS3Server(), startS3rver()])
  project.provide('s3Endpoint', server.endpoint)
  project.provide('s3rverEndpoint', s3rver.endpoint)
  return async () => {
    await Promise.all([server.stop(), s3rver.stop()])
    let processes: LeakedProcess[] = []
    let paths: string[] = []
    for (const deadline = Date.now() + GRACE_MS; ;) {
      ;[processes, paths] = await Promise.all([leakedProcesses({name: MARKER, value: runTemp}, runTemp), leftoverPaths(runTemp)])
      if ((processes.length === 0 && paths.length === 0) || Date.now() > deadline) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    // Nothing stays behind, even when the run fails for it.
    for (const leaked of processes) {
      try {
        process.kill(leaked.pid, 'SIGKILL')
      } catch {}
    }
    await fs.rm(runTemp, {recursive: true, force: true, maxRetries: 3})
    for (const [name, value] of Object.entries(outer)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    delete process.env[MARKER]
    const problems = [
      ...paths.map((leftover) => `temp ${leftover} (left by a test; removed now)`),
      ...processes.map((leaked) => `process ${leaked.pid} (parent ${leaked.ppid}) still running (killed now): ${leaked.command}`),
    ]
    if (problems.length > 0) throw new Error(`The tests left ${problems.length} thing(s) behind:\n  ${problems.join('\n  ')}`)
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string
    s3rverEndpoint: string
  }
}
