import type {S3Client, S3ClientConfig} from '@aws-sdk/client-s3'
import {createRequire} from 'node:module'

import {FastS3, type FastS3Target, sdkTarget} from './fast-s3.js'
import type {RequestStats} from '../requests.js'
import type {ObjectOptions} from '../types.js'
import type {SigningCredentials} from './sigv4.js'
import {S3Requests} from './fallback.js'
import {LeanTransport, SdkTransport} from './transport.js'

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
  /** Attempts per request through the SDK, first included (default 8); a request that failed on the lean path (fast-s3.ts) gets them all after it. */
  maxAttempts?: number
  /** Base of the exponential backoff in ms (default 100; full jitter, capped at 20 s). */
  retryBaseMs?: number
  /** Sockets per host (default 64). */
  maxSockets?: number
  /** How written objects are stored (storage class, encryption, ACL, metadata): sent with every write. */
  objects?: ObjectOptions
}

/** Counters of one client's traffic, by operation; attempts include retries. */
export type S3RequestStats = RequestStats

/**
 * Creates an S3 client with keep-alive sockets, exponential backoff with full jitter on throttling, 5xx and
 * connection errors, and request counters. Imported lazily so `--help` never loads the SDK.
 */
export async function createS3Client(options: S3ConnectionOptions, stats: S3RequestStats = {requests: {}, attempts: 0, retries: 0}): Promise<{client: S3Client; stats: S3RequestStats}> {
  const [{S3Client}, {NodeHttpHandler}, {ConfiguredRetryStrategy}] = await Promise.all([import('@aws-sdk/client-s3'), import('@smithy/node-http-handler'), import('@smithy/core/retry')])
  // Required, not imported: see fast-s3.ts (an ESM import of node:http loads Node's internal undici).
  const require = createRequire(import.meta.url)
  const http = require('node:http') as typeof import('node:http')
  const https = require('node:https') as typeof import('node:https')
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
    // No SDK checksum unless an operation requires one (DeleteObjects: a header). bucketwright checks every write
    // itself (Content-MD5 on each body; the stored ETag, or the bytes read back, against what was sent), so the SDK's
    // CRC32 would be extra CPU on the hot path; and with it a streamed body goes up aws-chunked with a trailing
    // checksum, which some S3-compatible servers (s3rver) store as the object's bytes. For the same reason no caller
    // sets ChecksumAlgorithm on a streamed body (test/core/s3-client.test.ts pins what goes on the wire).
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

/**
 * One S3 connection's settings, request counters and SDK client — the client made, and the SDK loaded, only when
 * a request needs it. The lean request path (fast-s3.ts) reaches the store without the SDK when the settings say
 * unambiguously where and as whom (see {@link leanTarget}), which keeps the SDK's ~150 ms of loading off the start
 * of a run that only lists, reads and writes.
 */
export class S3Connection {
  readonly stats: S3RequestStats = {requests: {}, attempts: 0, retries: 0}
  private sdkClient?: Promise<S3Client>
  private made?: S3Client
  private target?: Promise<FastS3Target>
  private quick?: Promise<FastS3Target | undefined>
  private lean?: LeanTransport
  private sent?: S3Requests

  constructor(readonly options: S3ConnectionOptions) {}

  /**
   * The connection's requests: the lean transport (its own keep-alive sockets, made on first use) and the SDK's,
   * under the one fallback policy (requests.ts). Every storage of the connection shares them.
   */
  requests(): S3Requests {
    this.sent ??= new S3Requests(() => this.leanTransport(), new SdkTransport(() => this.client(), this.options.objects), this.stats)
    return this.sent
  }

  private leanTransport(): LeanTransport {
    this.lean ??= new LeanTransport(new FastS3(this.leanTarget(), this.options.maxSockets ?? 64), this.options.objects)
    return this.lean
  }

  /**
   * Whether the store says yes on the lean path, where that path needs no SDK (see {@link quickTarget}): to
   * ListBuckets of one (no `bucket`: the credentials are accepted) or to HeadBucket (the bucket is there for them).
   * `false` when it could not tell — no quick target, a refusal, a network error: the caller asks through the SDK,
   * which explains a refusal in its words. A daemon shipping to a MinIO or loopback store so never loads the SDK.
   */
  async leanAccepts(bucket: string | undefined, signal?: AbortSignal): Promise<boolean> {
    if (!(await this.quickTarget())) return false
    const {fast} = this.leanTransport()
    try {
      await (bucket === undefined ? fast.accepts('GET', '', {'max-buckets': '1'}, signal) : fast.accepts('HEAD', bucket, undefined, signal))
      return true
    } catch {
      return false
    }
  }

  private quickTarget(): Promise<FastS3Target | undefined> {
    this.quick ??= quickTarget(this.options)
    return this.quick
  }

  /** The SDK client, made on first use. */
  client(): Promise<S3Client> {
    this.sdkClient ??= createS3Client(this.options, this.stats).then(({client}) => (this.made = client))
    return this.sdkClient
  }

  /** Where and as whom lean requests go: resolved without the SDK when possible, else as the SDK client resolves it. */
  leanTarget(): FastS3Target {
    const resolve = () => {
      this.target ??= this.quickTarget().then(async (quick) => quick ?? sdkTarget(await this.client()))
      return this.target
    }
    return {
      region: async () => (await resolve()).region(),
      credentials: async () => (await resolve()).credentials(),
      base: async (bucket) => (await resolve()).base(bucket),
    }
  }

  /** Closes the lean transport's and the SDK client's sockets, if they were made. */
  close(): void {
    this.lean?.close()
    // A storage closed while another of the connection goes on (a sub-storage) must not leave it dead sockets.
    this.lean = undefined
    this.made?.destroy()
  }
}

/**
 * The lean path's target without loading the SDK, where the settings leave no doubt about what the SDK would do: an
 * explicit endpoint with path-style addressing (MinIO, R2, Ceph, a loopback server), and credentials from the
 * environment (the first source of the SDK's default chain, which it skips when a profile is named) or none
 * (anonymous). AWS's own endpoints (FIPS, dual-stack, partitions, endpoint settings in config files) and profiles
 * are left to the SDK: `undefined`.
 */
export async function quickTarget(options: S3ConnectionOptions): Promise<FastS3Target | undefined> {
  if (!options.endpoint || options.forcePathStyle === false) return undefined
  let credentials: SigningCredentials | undefined
  if (options.anonymous) credentials = {accessKeyId: '', secretAccessKey: ''}
  else if (!options.profile && !process.env.AWS_PROFILE && process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY) {
    credentials = {accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY, sessionToken: process.env.AWS_SESSION_TOKEN || undefined}
  }
  if (!credentials) return undefined
  let endpoint: URL
  try {
    endpoint = new URL(options.endpoint)
  } catch {
    return undefined // the SDK reports a malformed endpoint in its words
  }
  const region = options.region ?? (await defaultRegion(options.profile)) ?? 'us-east-1'
  const signing = credentials
  const root = `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, '')}`
  return {region: async () => region, credentials: async () => signing, base: async (bucket) => new URL(`${root}/${bucket}`)}
}
