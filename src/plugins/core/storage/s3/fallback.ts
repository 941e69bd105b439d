import {type S3ErrorContext, translateS3Error} from './s3-errors.js'
import type {S3Transport} from './transport.js'

/** How many lean failures in a row send a bucket's requests to the SDK only. */
const STRIKES = 3

/** What to do with an error the SDK transport finally gave: a value that stands for the answer, or `undefined` to report it. */
export type Recover<T> = (error: unknown) => Promise<T | undefined>

/**
 * The one fallback policy between the two transports. A request goes on the lean transport first; whatever goes
 * wrong there (a status, a cut-off body, credentials that will not resolve) is done again through the SDK, which
 * retries with backoff, follows redirects and reports errors in its words, translated here (s3-errors.ts) into the
 * user's. After three lean failures in a row on a bucket (one in another region answers 301 to every lean request)
 * its requests go through the SDK only. Only an abort stops at once. Requests are counted in the connection's
 * stats as the SDK counts its own: a lean attempt that failed becomes a retry of the SDK's request.
 */
export class S3Requests {
  private readonly strikes = new Map<string, number>()

  constructor(
    private readonly lean: () => S3Transport,
    readonly sdk: S3Transport,
    /** The connection's S3RequestStats (s3-client.ts), counted into. */
    private readonly stats: {requests: Record<string, number>; attempts: number; retries: number},
  ) {}

  /**
   * Runs `request` on the lean transport, then (if that failed) on the SDK's. Errors from the SDK are translated
   * with `context` unless `recover` turns them into an answer. A lean error that `final` accepts (an answer the SDK
   * would get too, such as a 413 for a body too large for one PUT) is thrown as it is, not sent again.
   */
  async send<T>(context: S3ErrorContext, request: (transport: S3Transport) => Promise<T>, recover?: Recover<T>, final?: (leanError: unknown) => boolean): Promise<T> {
    const lean = await this.leanOnly(context, request, final)
    if (lean) return lean.value
    try {
      return await request(this.sdk)
    } catch (error) {
      if (isAbort(error)) throw error
      const recovered = recover ? await recover(error) : undefined
      if (recovered !== undefined) return recovered
      throw translateS3Error(error, context)
    }
  }

  /**
   * The lean half of {@link send}, for a request whose SDK form is another (a whole GET read back as a resumable
   * stream): its answer, or `undefined` when it is to be done through the SDK.
   */
  async leanOnly<T>(context: S3ErrorContext, request: (transport: S3Transport) => Promise<T>, final?: (leanError: unknown) => boolean): Promise<{value: T} | undefined> {
    const {bucket, operation} = context
    if ((this.strikes.get(bucket) ?? 0) >= STRIKES) return undefined
    this.stats.requests[operation] = (this.stats.requests[operation] ?? 0) + 1
    this.stats.attempts++
    try {
      const value = await request(this.lean())
      this.strikes.set(bucket, 0)
      return {value}
    } catch (error) {
      if (isAbort(error) || final?.(error)) throw error
      this.strikes.set(bucket, (this.strikes.get(bucket) ?? 0) + 1)
      this.stats.requests[operation]--
      this.stats.retries++
      return undefined
    }
  }
}

export function isAbort(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'AbortError'
}
