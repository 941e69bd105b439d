import type {TestProject} from 'vitest/node'

import {startS3Server} from '../helpers/s3-server.js'
import {startS3rver} from '../helpers/s3rver.js'

/**
 * Starts the two loopback S3-protocol servers once for the whole run: fauxqs (in memory), the default, and s3rver
 * (on disk, signature-checking), the second implementation every S3 code path is also run against. Suites reach
 * them through the provided values (see test/helpers/s3.ts). Postgres is started only by the suites that need it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [server, s3rver] = await Promise.all([startS3Server(), startS3rver()])
  project.provide('s3Endpoint', server.endpoint)
  project.provide('s3rverEndpoint', s3rver.endpoint)
  return async () => {
    await Promise.all([server.stop(), s3rver.stop()])
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string
    s3rverEndpoint: string
  }
}
