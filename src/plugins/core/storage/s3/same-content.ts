import {createHash, type Hash} from 'node:crypto'
import {crc32} from 'node:zlib'

import {etagParts, MultipartEtag} from './etag.js'
import type {FastHead} from './fast-s3.js'

/** What the store says about an object (from a listing, a HEAD, or the answer to a write). */
export interface RemoteObject {
  size: number
  etag?: string
  /** Base64 `x-amz-checksum-<algorithm>` values the store reported, by lowercase algorithm (crc32, sha256, …). */
  checksums?: Record<string, string>
  /** `FULL_OBJECT` or `COMPOSITE` (a checksum of part checksums); absent means full object. */
  checksumType?: string
  /** `x-amz-server-side-encryption`, when the store said (a listing does not). */
  serverSideEncryption?: string
}

/** Digests of the local file, as far as they are known. */
export interface LocalDigests {
  size: number
  /** Hex MD5 of the whole file. */
  md5?: string
  /** Base64 SHA-256 of the whole file. */
  sha256?: string
  /** Base64 SHA-1 of the whole file. */
  sha1?: string
  /** Base64 big-endian CRC32 of the whole file (can prove a difference, never sameness). */
  crc32?: string
  /** Multipart ETags (`md5-of-md5s-N`) by part size. */
  multipart?: Map<number, string>
}

/** `same`: proven identical; `different`: proven not; `unknown`: nothing strong enough to tell (then upload). */
export type Sameness = 'same' | 'different' | 'unknown'

/** What must be computed locally to compare with a remote object. */
export interface WantedDigests {
  md5: boolean
  sha256: boolean
  sha1: boolean
  /** Part sizes whose multipart ETag could match. */
  partSizes: number[]
}

const MIB = 1024 * 1024
/** Part sizes that common uploaders use (the SDKs, the AWS CLI, rclone, bucketwright's own 8 MiB). */
const COMMON_PART_SIZES = [5 * MIB, 8 * MIB, 10 * MIB, 15 * MIB, 16 * MIB, 32 * MIB, 64 * MIB, 100 * MIB, 128 * MIB]
/** Digests strong enough to prove two byte sequences equal. A 32-bit CRC is not: collisions are easy to make. */
const STRONG_CHECKSUMS = ['sha256', 'sha1'] as const
/** Checksums that can only prove a difference. */
const WEAK_CHECKSUMS = ['crc32'] as const

/** Base64 of a CRC32 in the big-endian byte order S3 uses. */
export function crc32Base64(data: Uint8Array): string {
  const out = Buffer.allocUnsafe(4)
  out.writeUInt32BE(crc32(data) >>> 0)
  return out.toString('base64')
}

/** Part sizes that split `size` bytes into exactly `parts` parts, most likely first. */
export function partSizesFor(size: number, parts: number, preferred: number): number[] {
  const even = Math.ceil(size / parts)
  const candidates = [preferred, ...COMMON_PART_SIZES, Math.ceil(even / MIB) * MIB, even]
  return [...new Set(candidates)].filter((partSize) => partSize > 0 && Math.ceil(size / partSize) === parts).slice(0, 4)
}

/** Under SSE-KMS (and DSSE-KMS) S3's ETag is not an MD5 of the bytes. */
function etagIsNoDigest(remote: RemoteObject): boolean {
  return remote.serverSideEncryption?.startsWith('aws:kms') ?? false
}

/** A checksum of the whole object, or undefined when the store gave none (or only a composite of parts). */
function fullObjectChecksum(remote: RemoteObject, algorithm: string): string | undefined {
  if ((remote.checksumType ?? 'FULL_OBJECT') !== 'FULL_OBJECT') return undefined
  const value = remote.checksums?.[algorithm]
  // A composite checksum reads `…-N`: of the parts, not of the bytes.
  return value && !value.includes('-') ? value : undefined
}

/** The local digests that could decide a comparison with `remote`, strongest first; nothing when sizes differ. */
export function wantedDigests(remote: RemoteObject, size: number, preferredPartSize: number): WantedDigests {
  const wanted: WantedDigests = {md5: false, sha256: false, sha1: false, partSizes: []}
  if (remote.size !== size) return wanted
  for (const algorithm of STRONG_CHECKSUMS) {
    if (fullObjectChecksum(remote, algorithm)) {
      wanted[algorithm] = true
      return wanted
    }
  }
  if (etagIsNoDigest(remote)) return wanted
  const parts = etagParts(remote.etag)
  if (parts === 0) wanted.md5 = true
  else if (parts) wanted.partSizes = partSizesFor(size, parts, preferredPartSize)
  return wanted
}

/**
 * The one place that decides whether a stored object holds exactly the local bytes — before an upload (to skip it
 * and delete the local file) and after one (to verify the write). Only a digest of the whole bytes that neither an
 * accident nor a crafted file matches by chance proves sameness: a full-object SHA-256 or SHA-1 the store reports,
 * the MD5 ETag of an object not encrypted with KMS (a single PUT, or a store that gives a multipart upload the
 * whole object's MD5), or a multipart ETag recomputed locally with the same part layout. A size or CRC32 mismatch
 * proves a difference; a size or CRC32 match proves nothing. Anything else is `unknown`, and the file is uploaded
 * again (a PUT is idempotent).
 */
export function compareContent(remote: RemoteObject, local: LocalDigests): Sameness {
  if (remote.size !== local.size) return 'different'
  for (const algorithm of [...STRONG_CHECKSUMS, ...WEAK_CHECKSUMS]) {
    const theirs = fullObjectChecksum(remote, algorithm)
    const ours = local[algorithm]
    if (theirs && ours && theirs !== ours) return 'different'
  }
  for (const algorithm of STRONG_CHECKSUMS) {
    const theirs = fullObjectChecksum(remote, algorithm)
    if (theirs && local[algorithm] === theirs) return 'same'
  }
  if (etagIsNoDigest(remote)) return 'unknown'
  const parts = etagParts(remote.etag)
  if (parts === 0 && local.md5 === remote.etag) return 'same'
  if (parts && local.multipart && [...local.multipart.values()].includes(remote.etag!)) return 'same'
  return 'unknown'
}

/** Computes, in one pass over the bytes, the digests {@link wantedDigests} asked for. */
export class DigestBuilder {
  private readonly md5?: Hash
  private readonly sha256?: Hash
  private readonly sha1?: Hash
  private readonly multipart: MultipartEtag[]
  private size = 0

  constructor(wanted: WantedDigests) {
    if (wanted.md5) this.md5 = createHash('md5')
    if (wanted.sha256) this.sha256 = createHash('sha256')
    if (wanted.sha1) this.sha1 = createHash('sha1')
    this.multipart = wanted.partSizes.map((partSize) => new MultipartEtag(partSize))
  }

  update(chunk: Uint8Array): void {
    this.size += chunk.length
    this.md5?.update(chunk)
    this.sha256?.update(chunk)
    this.sha1?.update(chunk)
    for (const etag of this.multipart) etag.update(chunk)
  }

  digests(): LocalDigests {
    return {
      size: this.size,
      md5: this.md5?.digest('hex'),
      sha256: this.sha256?.digest('base64'),
      sha1: this.sha1?.digest('base64'),
      multipart: new Map(this.multipart.map((etag) => [etag.partSize, etag.finish()])),
    }
  }
}

/** Digests of a body in memory, as {@link wantedDigests} asks, added to those already known. */
export function digestBody(body: Uint8Array, wanted: WantedDigests, known: LocalDigests): LocalDigests {
  const missing: WantedDigests = {md5: wanted.md5 && !known.md5, sha256: wanted.sha256 && !known.sha256, sha1: wanted.sha1 && !known.sha1, partSizes: wanted.partSizes}
  if (!missing.md5 && !missing.sha256 && !missing.sha1 && missing.partSizes.length === 0) return known
  const builder = new DigestBuilder(missing)
  builder.update(body)
  const computed = builder.digests()
  return {...known, md5: known.md5 ?? computed.md5, sha256: known.sha256 ?? computed.sha256, sha1: known.sha1 ?? computed.sha1, multipart: computed.multipart}
}

/** What a HEAD (either transport's) says about the object, for the same-content rules; `undefined` when there is none. */
export function remoteFromHead(head: FastHead | undefined): RemoteObject | undefined {
  return head && {size: head.size, etag: head.etag, checksums: head.checksums, checksumType: head.checksumType, serverSideEncryption: head.serverSideEncryption}
}

/** What an SDK HeadObject answer says about the object. */
export function remoteFromSdk(out: {ContentLength?: number; ETag?: string; ChecksumCRC32?: string; ChecksumSHA1?: string; ChecksumSHA256?: string; ChecksumType?: string; ServerSideEncryption?: string}): RemoteObject {
  const checksums: Record<string, string> = {}
  if (out.ChecksumCRC32) checksums.crc32 = out.ChecksumCRC32
  if (out.ChecksumSHA1) checksums.sha1 = out.ChecksumSHA1
  if (out.ChecksumSHA256) checksums.sha256 = out.ChecksumSHA256
  return {size: out.ContentLength ?? 0, etag: out.ETag?.replaceAll('"', ''), checksums, checksumType: out.ChecksumType, serverSideEncryption: out.ServerSideEncryption}
}
