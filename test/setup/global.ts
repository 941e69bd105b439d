import type {TestProject} from 'vitest/node'

import {startS3Server} from '../helpers/s3-server.js'

/**
 * Starts the loopback S3-protocol server (fauxqs, in memory) once for the whole run; suites reach it through the
 * `S3_ENDPOINT` provided value (see test/helpers/s3.ts). Postgres is started only by the suites that need it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startS3Server()
  project.provide('s3Endpoint', server.endpoint)
  return server.stop
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string
  }
}
