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
      multipartEtag: (parts) => `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts}`,
    }
  }
}

/** Strips the quotes S3 puts around ETags. */
export function cleanEtag(etag: string | undefined): string | undefined {
  return etag?.replaceAll('"', '')
}
