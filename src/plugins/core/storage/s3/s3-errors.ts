import {BucketwrightError, RemoteError, UserError} from '../../errors/errors.js'

/** What was being attempted when an S3 call failed; used to say what permission is missing. */
export interface S3ErrorContext {
  /** The S3 API operation, e.g. `GetObject`. */
  operation: string
  bucket: string
  key?: string
  endpoint?: string
  region?: string
  profile?: string
}

/** IAM actions each S3 operation needs (ListObjectsV2 is authorised by s3:ListBucket, and so on). */
const IAM_ACTION: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  HeadObject: 's3:GetObject',
  GetObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  DeleteObjects: 's3:DeleteObject',
  DeleteObject: 's3:DeleteObject',
  CopyObject: 's3:GetObject and s3:PutObject',
  HeadBucket: 's3:ListBucket',
}

const NO_CREDENTIALS_STEPS = [
  'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment.',
  'Or configure a profile: `aws configure` (or `aws sso login --profile NAME`), then pass --profile NAME.',
  'Or run where an instance role / ECS / EKS task role provides credentials.',
  'For a public bucket, pass --anonymous to send unsigned requests.',
]

/** The error's network code, looking through wrapped causes. */
function networkCode(error: unknown): string | undefined {
  let current = error as {code?: string; cause?: unknown; name?: string} | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_SOCKET)$/.test(current.code)) return current.code
    if (current.name === 'TimeoutError') return 'ETIMEDOUT'
    current = current.cause as typeof current
  }
  return undefined
}

/**
 * Turns an AWS SDK error into one a person can act on: no credentials, access denied (with the IAM action),
 * no such bucket, wrong region, endpoint unreachable, throttled after retries. Messages never include secrets.
 */
export function translateS3Error(error: unknown, context: S3ErrorContext): BucketwrightError {
  if (error instanceof BucketwrightError) return error
  const err = error as {name?: string; message?: string; $metadata?: {httpStatusCode?: number; attempts?: number}; $response?: {headers?: Record<string, string>}; Code?: string}
  const name = err.name ?? ''
  const status = err.$metadata?.httpStatusCode
  const where = context.key === undefined ? `s3://${context.bucket}` : `s3://${context.bucket}/${context.key}`
  const details = {operation: context.operation, bucket: context.bucket, key: context.key, endpoint: context.endpoint, httpStatus: status, attempts: err.$metadata?.attempts}

  if (name === 'CredentialsProviderError' || /Could not load credentials|Unable to locate credentials/i.test(err.message ?? '')) {
    return new UserError(`No AWS credentials found${context.profile ? ` for profile "${context.profile}"` : ''}, so ${context.operation} on ${where} cannot be signed.`, {
      code: 'NO_CREDENTIALS',
      nextSteps: NO_CREDENTIALS_STEPS,
      details,
      cause: error,
    })
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || (status === 403 && !/InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken/.test(name))) {
    const action = IAM_ACTION[context.operation] ?? `s3:${context.operation}`
    const resource = context.operation === 'ListObjectsV2' || context.operation === 'HeadBucket' ? `arn:aws:s3:::${context.bucket}` : `arn:aws:s3:::${context.bucket}/${context.key ?? '*'}`
    return new UserError(`Access denied: ${context.operation} on ${where}.`, {
      code: 'ACCESS_DENIED',
      nextSteps: [
        `Grant the identity in use ${action} on ${resource}.`,
        'Check that you are using the intended credentials: `aws sts get-caller-identity` (add --profile if you use one).',
        'If the bucket is public, pass --anonymous.',
      ],
      details: {...details, action, resource},
      cause: error,
    })
  }
  if (/InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken/.test(name)) {
    return new UserError(`The AWS credentials in use were rejected (${name}) for ${context.operation} on ${where}.`, {
      code: 'BAD_CREDENTIALS',
      nextSteps: ['Refresh or fix the credentials: `aws configure`, or `aws sso login --profile NAME` for SSO.', ...NO_CREDENTIALS_STEPS.slice(2)],
      details,
      cause: error,
    })
  }
  if (name === 'NoSuchBucket' || (status === 404 && context.operation === 'HeadBucket')) {
    return new UserError(`Bucket "${context.bucket}" does not exist${context.endpoint ? ` at ${context.endpoint}` : ''}.`, {
      code: 'NO_SUCH_BUCKET',
      // With an endpoint given, advising --endpoint would send the user to what they already did.
      nextSteps: context.endpoint
        ? [
            'Check the bucket name in the location (s3://BUCKET/prefix/).',
            `List the buckets you can see there: \`aws s3 ls --endpoint-url ${context.endpoint}\`.`,
            `Check that ${context.endpoint} is the store that holds the bucket.`,
          ]
        : ['Check the bucket name in the location (s3://BUCKET/prefix/).', 'List the buckets you can see: `aws s3 ls`.', 'If it is on an S3-compatible store, pass --endpoint.'],
      details,
      cause: error,
    })
  }
  const bucketRegion = err.$response?.headers?.['x-amz-bucket-region']
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || status === 301 || (status === 400 && bucketRegion)) {
    return new UserError(`Bucket "${context.bucket}" is not in region ${context.region ?? '(default)'}${bucketRegion ? `; it is in ${bucketRegion}` : ''}.`, {
      code: 'WRONG_REGION',
      nextSteps: [bucketRegion ? `Pass --region ${bucketRegion}.` : "Pass the bucket's region with --region.", 'Or leave --region unset: bucketwright then follows the bucket to its region.'],
      details: {...details, bucketRegion},
      cause: error,
    })
  }
  const code = networkCode(error)
  if ((code && code !== 'ECONNRESET' && code !== 'EPIPE') || name === 'TimeoutError') {
    return new RemoteError(`Cannot reach the S3 endpoint${context.endpoint ? ` ${context.endpoint}` : ''} (${code ?? name}) for ${context.operation} on ${where}.`, {
      code: 'ENDPOINT_UNREACHABLE',
      nextSteps: ['Check the network and the --endpoint URL (scheme, host and port).', 'If you are behind a proxy, set HTTPS_PROXY.', 'Run again; bucketwright resumes where it stopped.'],
      details: {...details, networkCode: code},
      cause: error,
    })
  }
  if (name === 'NoSuchKey' || (status === 404 && context.key !== undefined)) {
    return new UserError(`No object at ${where}.`, {code: 'NO_SUCH_KEY', details, cause: error})
  }
  if (name === 'SlowDown' || status === 503 || (status !== undefined && status >= 500) || code) {
    return new RemoteError(`S3 kept failing (${name || status || code}) for ${context.operation} on ${where} after ${err.$metadata?.attempts ?? 'several'} attempts.`, {
      code: name === 'SlowDown' || status === 503 ? 'THROTTLED' : 'REMOTE_FAILURE',
      nextSteps: ['Run again later; bucketwright resumes where it stopped.', 'Lower --concurrency if S3 is throttling this prefix.'],
      details,
      cause: error,
    })
  }
  return new RemoteError(`${context.operation} on ${where} failed: ${name || 'error'}${err.message ? ` — ${err.message}` : ''}`, {code: 'S3_ERROR', details, cause: error})
}
