import {type BucketwrightError, UserError} from '../../errors/errors.js'
import type {S3Connection} from './s3-client.js'
import {translateS3Error} from './s3-errors.js'

/** Who the credentials belong to, when they could be checked. */
export interface CredentialCheck {
  ok: boolean
  /** `sts` (GetCallerIdentity) or `s3` (ListBuckets on a custom endpoint, which has no STS). */
  via: 'sts' | 's3'
  /** The caller's ARN (STS only). */
  identity?: string
  error?: BucketwrightError
}

/** What a laptop user does about missing or rejected credentials. */
export const CREDENTIAL_STEPS = [
  'Configure access keys: `aws configure` (or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).',
  'With AWS SSO: `aws sso login --profile NAME`, then pass --profile NAME (or set AWS_PROFILE).',
  'Check them: `aws sts get-caller-identity` (add --profile NAME).',
]

/**
 * Checks the credentials before the first scan: STS GetCallerIdentity against AWS; with a custom `--endpoint`
 * (MinIO and other S3-compatible stores have no STS) a ListBuckets. An AccessDenied on ListBuckets still proves the
 * credentials were accepted.
 */
export async function checkCredentials(connection: S3Connection, options: {endpoint?: string; region: string; profile?: string; timeoutMs?: number; signal?: AbortSignal}): Promise<CredentialCheck> {
  // A SIGTERM while the check waits on an unreachable endpoint stops it at once, not after the retries.
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000)
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout
  if (options.endpoint) {
    // A yes on the lean path is the same yes; anything else is asked again through the SDK, which explains it.
    if (await connection.leanAccepts(undefined, signal)) return {ok: true, via: 's3'}
    const [{ListBucketsCommand}, client] = await Promise.all([import('@aws-sdk/client-s3'), connection.client()])
    try {
      await client.send(new ListBucketsCommand({MaxBuckets: 1}), {abortSignal: signal})
      return {ok: true, via: 's3'}
    } catch (error) {
      const translated = translateS3Error(error, {operation: 'ListBuckets', bucket: '*', endpoint: options.endpoint, region: options.region, profile: options.profile})
      if (translated.code === 'ACCESS_DENIED') return {ok: true, via: 's3'}
      return {ok: false, via: 's3', error: withSteps(translated, options.profile)}
    }
  }
  const [{STSClient, GetCallerIdentityCommand}, client] = await Promise.all([import('@aws-sdk/client-sts'), connection.client()])
  const sts = new STSClient({region: options.region, credentials: client.config.credentials, maxAttempts: 2})
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}), {abortSignal: signal})
    return {ok: true, via: 'sts', identity: out.Arn}
  } catch (error) {
    const name = (error as Error).name
    const message =
      /credential/i.test(name) || /credentials/i.test((error as Error).message)
        ? `No usable AWS credentials${options.profile ? ` for profile "${options.profile}"` : ''}: ${(error as Error).message}`
        : `AWS rejected the credentials (${name}) at STS GetCallerIdentity.`
    return {ok: false, via: 'sts', error: new UserError(message, {code: 'NO_CREDENTIALS', nextSteps: CREDENTIAL_STEPS, details: {profile: options.profile, region: options.region}, cause: error})}
  } finally {
    sts.destroy()
  }
}

function withSteps(error: BucketwrightError, profile?: string): BucketwrightError {
  if (error.code === 'NO_CREDENTIALS' || error.code === 'BAD_CREDENTIALS') {
    return new UserError(error.message, {code: error.code, nextSteps: CREDENTIAL_STEPS, details: {...error.details, profile}, cause: error})
  }
  return error
}
