import type {S3Client, S3ClientConfig} from '@aws-sdk/client-s3'

/** How to reach S3 and who to be there. Every field has a flag, an environment variable and a config entry. */
export interface S3ConnectionOptions {
  /** Region; when unset the SDK's chain decides, falling back to us-east-1 with redirects to the bucket's region. */
  region?: string
  /** A named profile from ~/.aws/config or ~/.aws/credentials (SSO profiles included). */
  profile?: string
  /** Unsigned requests, for public buckets. */
  anonymous?: boolean
  /** An S3-compatible endpoint (MinIO, R2, Ceph, a loopback test server); implies path-style addressing. */
  endpoint?: string
  /** Path-style addressing (`endpoint/bucket/key`); on by default with a custom endpoint. */
  forcePathStyle?: boolean
  /** Attempts per request, first included (default 8). */
  maxAttempts?: number
  /** Base of the exponential backoff in ms (default 100; full jitter, capped at 20 s). */
  retryBaseMs?: number
  /** Sockets per host (default 64). */
  maxSockets?: number
}

/** Counters of one client's traffic, by operation; attempts include retries. */
export interface S3RequestStats {
  requests: Record<string, number>
  attempts: number
  retries: number
}

/**
 * Creates an S3 client with keep-alive sockets, exponential backoff with full jitter on throttling, 5xx and
 * connection errors, and request counters. Imported lazily so `--help` never loads the SDK.
 */
export async function createS3Client(options: S3ConnectionOptions): Promise<{client: S3Client; stats: S3RequestStats}> {
  const [{S3Client}, {NodeHttpHandler}, {ConfiguredRetryStrategy}, https, http] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@smithy/node-http-handler'),
    import('@smithy/core/retry'),
    import('node:https'),
    import('node:http'),
  ])
  const maxAttempts = options.maxAttempts ?? 8
  const base = options.retryBaseMs ?? 100
  const maxSockets = options.maxSockets ?? 64
  const config: S3ClientConfig = {
    region: options.region ?? (await defaultRegion(options.profile)) ?? 'us-east-1',
    followRegionRedirects: options.region === undefined,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({keepAlive: true, maxSockets}),
      httpsAgent: new https.Agent({keepAlive: true, maxSockets}),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    }),
    retryStrategy: new ConfiguredRetryStrategy(maxAttempts, (attempt: number) => Math.round(Math.random() * Math.min(20_000, base * 2 ** attempt))),
    // bucketwright checks every write itself (MD5 of the bytes sent against the ETag), so the SDK's per-request
    // CRC32 is extra CPU on the hot path and, on some S3-compatible servers, a source of aws-chunked corruption.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  }
  if (options.endpoint) {
    config.endpoint = options.endpoint
    config.forcePathStyle = options.forcePathStyle ?? true
  } else if (options.forcePathStyle !== undefined) {
    config.forcePathStyle = options.forcePathStyle
  }
  if (options.anonymous) {
    config.credentials = {accessKeyId: '', secretAccessKey: ''}
    config.signer = {sign: async (request) => request}
  } else if (options.profile) {
    const {fromNodeProviderChain} = await import('@aws-sdk/credential-providers')
    config.credentials = fromNodeProviderChain({profile: options.profile})
  }
  const client = new S3Client(config)
  const stats: S3RequestStats = {requests: {}, attempts: 0, retries: 0}
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName?.replace(/Command$/, '') ?? 'Unknown'
      stats.requests[name] = (stats.requests[name] ?? 0) + 1
      const count = (metadata: {attempts?: number} | undefined) => {
        const attempts = metadata?.attempts ?? 1
        stats.attempts += attempts
        stats.retries += attempts - 1
      }
      try {
        const out = await next(args)
        count((out.output as {$metadata?: {attempts?: number}}).$metadata)
        return out
      } catch (error) {
        count((error as {$metadata?: {attempts?: number}}).$metadata)
        throw error
      }
    },
    {step: 'initialize', name: 'bucketwrightRequestCounter'},
  )
  return {client, stats}
}

/** The region of a profile or the environment, as the AWS CLI would pick it. */
async function defaultRegion(profile?: string): Promise<string | undefined> {
  if (process.env.AWS_REGION) return process.env.AWS_REGION
  if (process.env.AWS_DEFAULT_REGION) return process.env.AWS_DEFAULT_REGION
  try {
    const {loadSharedConfigFiles} = await import('@smithy/core/config')
    const files = await loadSharedConfigFiles()
    const name = profile ?? process.env.AWS_PROFILE ?? 'default'
    return files.configFile?.[name]?.region ?? files.credentialsFile?.[name]?.region
  } catch {
    return undefined
  }
}
