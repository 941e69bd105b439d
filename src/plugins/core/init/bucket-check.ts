import type {BucketwrightError} from '../errors/errors.js'
import {UserError} from '../errors/errors.js'

/** What the live bucket check needs. */
export interface BucketCheckInput {
  bucket: string
  region?: string
  endpoint?: string
  profile?: string
  anonymous?: boolean
}

/** The bucket answered: it exists, the credentials may list it, and it lives in `region`. */
export interface BucketCheckResult {
  bucket: string
  region: string
}

/**
 * Checks a bucket live: HeadBucket (exists, reachable, credentials allowed) and GetBucketLocation (its region;
 * HeadBucket's region header when GetBucketLocation is not allowed). A region given that differs from the bucket's
 * is an error naming the right one. Errors are the storage layer's: no credentials, access denied, no such
 * bucket, endpoint unreachable — each with next steps.
 */
export async function checkBucket(input: BucketCheckInput): Promise<BucketCheckResult> {
  const {locateBucket} = await import('../storage/s3/bucket.js')
  const region = (await locateBucket(input.bucket, {region: input.region, endpoint: input.endpoint, profile: input.profile, anonymous: input.anonymous})) ?? input.region ?? 'us-east-1'
  // S3-compatible stores answer with whatever region they were configured for; only AWS pins a bucket to one.
  if (input.region && !input.endpoint && region !== input.region) {
    throw new UserError(`Bucket ${input.bucket} is in ${region}, not ${input.region}.`, {
      code: 'WRONG_REGION',
      nextSteps: [`Use region ${region} (or leave the region empty to have it discovered).`],
      details: {bucket: input.bucket, region},
    })
  }
  return {bucket: input.bucket, region}
}

/** The lines that explain a failed check, for the wizard to print before asking again. */
export function explainCheckFailure(error: BucketwrightError): string[] {
  return [error.message, ...error.nextSteps.map((step) => `  → ${step}`)]
}
