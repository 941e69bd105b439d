import {createHash, type Hash} from 'node:crypto'
import type {FileHandle} from 'node:fs/promises'
import {crc32} from 'node:zlib'

/** What the store says about an object already under the key (from a listing or a HEAD). */
export interface RemoteObject {
  size: number
  etag?: string
  /** Base64 CRC32 (HEAD with checksum mode). */
  crc32?: string
  checksumType?: string
}

/** Digests of the local file, as far as they are known. */
export interface LocalDigests {
  size: number
  /** Hex MD5 of the whole file. */
  md5?: string
  /** Base64 big-endian CRC32 of the whole file. */
  crc32?: string
  /** Multipart ETags (`md5-of-md5s-N`) by part size. */
  multipart?: Map<number, string>
}

/** `same`: proven identical; `different`: proven not; `unknown`: nothing to compare with (then upload). */
export type Sameness = 'same' | 'different' | 'unknown'

const MIB = 1024 * 1024
/** Part sizes that common uploaders use (the SDKs, the AWS CLI, rclone, bucketwright's own 8 MiB). */
const COMMON_PART_SIZES = [5 * MIB, 8 * MIB, 10 * MIB, 15 * MIB, 16 * MIB, 32 * MIB, 64 * MIB, 100 * MIB, 128 * MIB]

/** Base64 of a CRC32 in the big-endian byte order S3 uses. */
export function crc32Base64(data: Uint8Array): string {
  const out = Buffer.allocUnsafe(4)
  out.writeUInt32BE(crc32(data) >>> 0)
  return out.toString('base64')
}

/** The number of parts of a multipart ETag (`…-N`), or 0 for a plain MD5 ETag, or undefined for anything else. */
export function etagParts(etag: string | undefined): number | undefined {
  if (!etag) return undefined
  if (/^[0-9a-f]{32}$/.test(etag)) return 0
  const match = /^[0-9a-f]{32}-(\d+)$/.exec(etag)
  return match ? Number(match[1]) : undefined
}

/** Part sizes that split `size` bytes into exactly `parts` parts, most likely first. */
export function partSizesFor(size: number, parts: number, preferred: number): number[] {
  const even = Math.ceil(size / parts)
  const candidates = [preferred, ...COMMON_PART_SIZES, Math.ceil(even / MIB) * MIB, even]
  return [...new Set(candidates)].filter((partSize) => partSize > 0 && Math.ceil(size / partSize) === parts).slice(0, 4)
}

/**
 * Decides whether the object already stored is the local file, by checksum only: a CRC32 the store kept, the MD5
 * ETag of a single PUT, or the multipart ETag computed locally for the same part size. A size mismatch proves a
 * difference; a size match alone proves nothing.
 */
export function compareContent(remote: RemoteObject, local: LocalDigests): Sameness {
  if (remote.size !== local.size) return 'different'
  if (remote.crc32 && local.crc32 && (remote.checksumType ?? 'FULL_OBJECT') === 'FULL_OBJECT') return remote.crc32 === local.crc32 ? 'same' : 'different'
  const parts = etagParts(remote.etag)
  if (parts === 0 && local.md5) return remote.etag === local.md5 ? 'same' : 'different'
  if (parts !== undefined && parts > 0 && local.multipart) {
    const matched = [...local.multipart.values()].some((etag) => etag === remote.etag)
    if (matched) return 'same'
    // Computed for every plausible part size and none matched: other bytes.
    if (local.multipart.size > 0) return 'different'
  }
  return 'unknown'
}

/** Incremental multipart ETag for one part size. */
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
    return `${createHash('md5').update(Buffer.concat(this.digests)).digest('hex')}-${this.digests.length}`
  }
}

/**
 * Reads an open file once and computes what is needed to compare it with `remote`: the whole MD5 for a plain ETag,
 * or the multipart ETags for every plausible part size. Returns the digests and the bytes read.
 */
export async function digestForComparison(handle: FileHandle, size: number, remote: RemoteObject, preferredPartSize: number): Promise<{digests: LocalDigests; bytesRead: number}> {
  const parts = etagParts(remote.etag)
  const md5 = parts === 0 || parts === undefined ? createHash('md5') : undefined
  const multipart = parts ? partSizesFor(size, parts, preferredPartSize).map((partSize) => new MultipartEtag(partSize)) : []
  const buffer = Buffer.allocUnsafe(Math.min(Math.max(size, 1), 4 * MIB))
  let position = 0
  for (;;) {
    const {bytesRead} = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) break
    const chunk = buffer.subarray(0, bytesRead)
    md5?.update(chunk)
    for (const etag of multipart) etag.update(chunk)
    position += bytesRead
  }
  return {
    digests: {size: position, md5: md5?.digest('hex'), multipart: new Map(multipart.map((etag) => [etag.partSize, etag.finish()]))},
    bytesRead: position,
  }
}
