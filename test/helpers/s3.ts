import {CreateBucketCommand, S3Client} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'
import {inject} from 'vitest'

import {S3RVER_CREDENTIALS} from './s3rver.js'

/** Credentials for the loopback server; fauxqs accepts any. Tests set them in the environment for commands. */
export const TEST_CREDENTIALS = {accessKeyId: 'test', secretAccessKey: 'test'}

/** The loopback S3 endpoint started by the global setup. */
export function s3Endpoint(): string {
  return process.env.TEST_S3_ENDPOINT ?? inject('s3Endpoint')
}

/** The second loopback S3 implementation (s3rver, see test/helpers/s3rver.ts) started by the global setup. */
export function s3rverEndpoint(): string {
  return process.env.TEST_S3RVER_ENDPOINT ?? inject('s3rverEndpoint')
}

/** The two S3 implementations of the suite, for `describe.each`: code that passes on one only is not S3 code. */
export function s3Servers(): {name: 'fauxqs' | 's3rver'; endpoint: string}[] {
  return [
    {name: 'fauxqs', endpoint: s3Endpoint()},
    {name: 's3rver', endpoint: s3rverEndpoint()},
  ]
}

/** The s3rver endpoint when known: outside a vitest run (benchmarks started with tsx) there is none to inject. */
function knownS3rverEndpoint(): string | undefined {
  try {
    return s3rverEndpoint()
  } catch {
    return undefined
  }
}

/** The credentials a loopback server accepts: s3rver refuses any access key but its own, fauxqs takes any. */
export function credentialsFor(endpoint: string): {accessKeyId: string; secretAccessKey: string} {
  return endpoint === knownS3rverEndpoint() ? S3RVER_CREDENTIALS : TEST_CREDENTIALS
}

/** Environment a command run needs to reach the loopback server (fast retries for tests). */
export function s3Env(endpoint = s3Endpoint()): Record<string, string> {
  const credentials = credentialsFor(endpoint)
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
    BUCKETWRIGHT_ENDPOINT: endpoint,
    BUCKETWRIGHT_RETRY_BASE_MS: '5',
  }
}

/** Puts {@link s3Env} into this process's environment (for in-process command runs). */
export function useS3Env(endpoint = s3Endpoint()): void {
  Object.assign(process.env, s3Env(endpoint))
}

/** A raw SDK client on the loopback server, for arranging and inspecting test data. */
export function testS3Client(endpoint = s3Endpoint()): S3Client {
  return new S3Client({endpoint, region: 'us-east-1', forcePathStyle: true, credentials: credentialsFor(endpoint)})
}

/** Creates a fresh, uniquely named bucket and returns its name. */
export async function createTestBucket(prefix = 'bw-test', client = testS3Client()): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`.toLowerCase()
  await client.send(new CreateBucketCommand({Bucket: name}))
  return name
}
