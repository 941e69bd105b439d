import {createHash, type Hash} from 'node:crypto'

/**
 * S3's ETags, in one place: the multipart ETag (MD5 of the parts' binary MD5s, `-N`), its incremental form, reading
 * an ETag's shape, and whether a write's answer vouches for the bytes sent. Deciding whether a stored object holds
 * some local bytes is same-content.ts's, on top of these; whether a write kept what was sent, write-check.ts's.
 */

/** The ETag S3 gives a multipart upload: the MD5 of the parts' binary MD5s, then `-` and the number of parts. */
export function multipartEtag(partMd5s: readonly Uint8Array[], parts = partMd5s.length): string {
  const hash = createHash('md5')
  for (const digest of partMd5s) hash.update(digest)
  return `${hash.digest('hex')}-${parts}`
}

/** The multipart ETag of a body for one part size, as the body streams past. */
export class MultipartEtag {
  private part: Hash = createHash('md5')
  private fill = 0
  private readonly digests: Buffer[] = []

  constructor(readonly partSize: number) {}

  update(chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.partSize - this.fill)
      this.part.update(chunk.subarray(offset, offset + take))
      this.fill += take
      offset += take
      if (this.fill === this.partSize) this.flush()
    }
  }

  private flush(): void {
    this.digests.push(this.part.digest())
    this.part = createHash('md5')
    this.fill = 0
  }

  finish(): string {
    if (this.fill > 0) this.flush()
    return multipartEtag(this.digests)
  }
}

/** The number of parts of a multipart ETag (`…-N`), or 0 for a plain MD5 ETag, or undefined for anything else. */
export function etagParts(etag: string | undefined): number | undefined {
  if (!etag) return undefined
  if (/^[0-9a-f]{32}$/.test(etag)) return 0
  const match = /^[0-9a-f]{32}-(\d+)$/.exec(etag)
  return match ? Number(match[1]) : undefined
}

/** What a client knows of the bytes it sent in one write, to hold the store's answer against. */
export interface SentBody {
  size: number
  /** Hex MD5 of the whole body (always for a single PUT; a multipart upload of a body read by position has none). */
  md5?: string
  /** Base64 SHA-256 of the whole body, when it was computed (see UploadOptions.sha256). */
  sha256?: string
  /** The multipart ETag of the parts as sent; absent for a single PUT. */
  multipartEtag?: string
  /** The part size of a multipart upload. */
  partSize?: number
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
