import type {BucketwrightError} from '../../errors/errors.js'
import {createS3Client, type S3Connection, type S3ConnectionOptions} from './s3-client.js'
import {type S3ErrorContext, translateS3Error} from './s3-errors.js'

/** Requests about a bucket as a whole (not its objects): whether it answers, and where it lives. */

/**
 * HeadBucket: `undefined` when the bucket exists and the credentials may use it, else the reason in the user's words
 * (no such bucket, access denied, endpoint unreachable…).
 */
export async function headBucket(connection: S3Connection, bucket: string, context: Omit<S3ErrorContext, 'operation' | 'bucket'>, signal?: AbortSignal): Promise<BucketwrightError | undefined> {
  // A yes on the lean path is the same yes; anything else is asked again through the SDK, which explains it.
  if (await connection.leanAccepts(bucket, signal)) return undefined
  const [{HeadBucketCommand}, client] = await Promise.all([import('@aws-sdk/client-s3'), connection.client()])
  try {
    await client.send(new HeadBucketCommand({Bucket: bucket}), {abortSignal: signal})
    return undefined
  } catch (error) {
    return translateS3Error(error, {...context, operation: 'HeadBucket', bucket})
  }
}

/**
 * Where a bucket lives, checked live on a client of its own (two attempts, short backoff: a person is waiting):
 * HeadBucket (exists, reachable, credentials allowed), then GetBucketLocation; HeadBucket's region header when
 * GetBucketLocation is not allowed. `undefined` when neither says. Errors are translated (see s3-errors.ts).
 */
export async function locateBucket(bucket: string, connection: S3ConnectionOptions): Promise<string | undefined> {
  const [{client}, {HeadBucketCommand, GetBucketLocationCommand}] = await Promise.all([createS3Client({...connection, maxAttempts: 2, retryBaseMs: 50}), import('@aws-sdk/client-s3')])
  const context = {bucket, endpoint: connection.endpoint, region: connection.region, profile: connection.profile}
  try {
    let headRegion: string | undefined
    try {
      headRegion = (await client.send(new HeadBucketCommand({Bucket: bucket}))).BucketRegion
    } catch (error) {
      throw translateS3Error(error, {...context, operation: 'HeadBucket'})
    }
    try {
      const location = await client.send(new GetBucketLocationCommand({Bucket: bucket}))
      const constraint = location.LocationConstraint as string | undefined
      return !constraint ? 'us-east-1' : constraint === 'EU' ? 'eu-west-1' : constraint
    } catch (error) {
      if (!headRegion) throw translateS3Error(error, {...context, operation: 'GetBucketLocation'})
      return headRegion
    }
  } finally {
    client.destroy()
  }
}
