import {createHash} from 'node:crypto'

/** MD5 and SHA-256 of a whole body as it streams past, and its size: what a write reports of the bytes it took. */
export class BodyDigest {
  private readonly md5 = createHash('md5')
  private readonly sha256 = createHash('sha256')
  size = 0

  update(chunk: Uint8Array): void {
    this.md5.update(chunk)
    this.sha256.update(chunk)
    this.size += chunk.length
  }

  /** Finishes the digests: hex MD5, base64 SHA-256. */
  finish(): {md5: string; sha256: string} {
    return {md5: this.md5.digest('hex'), sha256: this.sha256.digest('base64')}
  }
}
