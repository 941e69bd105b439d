import {createHash, type Hash} from 'node:crypto'

/**
 * Digests of a body as it streams past: MD5 and SHA-256 of the whole, and the S3 multipart ETag for a given part
 * size (MD5 of the parts' MD5s, `-N`), so a client can check that the store kept exactly the bytes it sent.
 */
export class BodyDigest {
  private readonly md5 = createHash('md5')
  private readonly sha256 = createHash('sha256')
  private partMd5: Hash = createHash('md5')
  private partFill = 0
  private readonly partDigests: Buffer[] = []
  size = 0

  constructor(private readonly partSize = Number.POSITIVE_INFINITY) {}

  update(chunk: Uint8Array): void {
    this.md5.update(chunk)
    this.sha256.update(chunk)
    this.size += chunk.length
    if (!Number.isFinite(this.partSize)) return
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.partSize - this.partFill)
      this.partMd5.update(chunk.subarray(offset, offset + take))
      this.partFill += take
      offset += take
      if (this.partFill === this.partSize) {
        this.partDigests.push(this.partMd5.digest())
        this.partMd5 = createHash('md5')
        this.partFill = 0
      }
    }
  }

  /** Finishes the digests. `parts` is how many parts the store used (0 or 1 for a single PUT). */
  finish(): {md5: string; sha256: string; multipartEtag: (parts: number) => string} {
    const md5 = this.md5.digest('hex')
    const sha256 = this.sha256.digest('base64')
    if (this.partFill > 0) this.partDigests.push(this.partMd5.digest())
    const digests = this.partDigests
    return {
      md5,
      sha256,
      multipartEtag: (parts) => multipartEtag(digests, parts),
    }
  }
}

/**
 * The ETag S3 gives a multipart upload: the MD5 of the parts' binary MD5s, then `-` and the number of parts. The one
 * place it is computed; `parts` defaults to the number of digests.
 */
export function multipartEtag(partMd5s: readonly Uint8Array[], parts = partMd5s.length): string {
  const hash = createHash('md5')
  for (const digest of partMd5s) hash.update(digest)
  return `${hash.digest('hex')}-${parts}`
}

/** What a client knows of the bytes it sent in one write, to hold the store's answer against. */
export interface SentBody {
  size: number
  /** Hex MD5 of the whole body. */
  md5: string
  /** Base64 SHA-256 of the whole body. */
  sha256: string
  /** The multipart ETag of the parts as sent; absent for a single PUT. */
  multipartEtag?: string
}

/**
 * Whether the ETag a store answered a write with vouches for the bytes sent: the MD5 of the whole body (a single
 * PUT on S3; a multipart upload on stores such as s3rver) or the multipart ETag of the parts as sent (S3). Any
 * other ETag — another form, another value, none — proves nothing either way: the caller must check the stored
 * object by other means before calling it corrupted.
 */
export function etagVouchesFor(etag: string | undefined, sent: SentBody): boolean {
  return etag !== undefined && (etag === sent.md5 || etag === sent.multipartEtag)
}

/** Strips the quotes S3 puts around ETags. */
export function cleanEtag(etag: string | undefined): string | undefined {
  return etag?.replaceAll('"', '')
}
