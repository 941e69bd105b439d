import {VerificationError} from '../errors/errors.js'
import {etagParts} from '../storage/s3/etag.js'
import type {S3Storage} from '../storage/s3/storage.js'
import {compareContent, DigestBuilder, type LocalDigests, type RemoteObject, type Sameness, wantedDigests, type WantedDigests} from './same-content.js'

/**
 * How a write was verified: `etag` — the ETag S3 gives exactly these bytes; `store-digest` — another digest of the
 * whole object the store attests (a whole-object MD5 ETag for a multipart upload, a full-object checksum);
 * `read-back` — the object read back and hashed.
 */
export type VerifiedBy = 'etag' | 'store-digest' | 'read-back'

/** What {@link verifyWrite} needs to know about one write. */
export interface WriteCheck {
  /** The storage of the bucket's whole key space (keys are its keys). */
  storage: S3Storage
  bucket: string
  key: string
  /** The store's answer to the PUT or CompleteMultipartUpload. */
  answer: {etag?: string; serverSideEncryption?: string}
  /** Bytes sent. */
  size: number
  /** The ETag S3 gives these bytes: their MD5 (one PUT) or the multipart ETag of the parts sent. */
  expectedEtag: string
  /** The multipart part size used (a hint for multipart ETags); the single-PUT limit otherwise. */
  partSize: number
  /** Digests of the bytes sent, as far as already known. */
  local: LocalDigests
  /** Computes more digests of the bytes sent (from memory, or by reading the file again). */
  digest: (wanted: WantedDigests) => Promise<LocalDigests>
  signal?: AbortSignal
}

/**
 * Verifies that the store holds exactly the bytes sent. The expected ETag settles it at no cost; a store that answers
 * with another ETag form (s3rver gives a multipart upload the whole object's MD5; some stores give no digest at all)
 * is asked what it can attest — that ETag, a HEAD's full-object checksums — and, when nothing there decides, the
 * object is read back and hashed. Only a proven difference is a {@link VerificationError}: a correct object is
 * never called corrupted.
 */
export async function verifyWrite(check: WriteCheck): Promise<VerifiedBy> {
  if (check.answer.etag === check.expectedEtag) return 'etag'
  // Under SSE-KMS the ETag is no digest: the full-object SHA-256 the PUT asked the store to keep decides (see
  // transport.ts putChecksum), else the object read back — never Content-MD5 alone, which says nothing of what was kept.
  let local = check.local
  const judge = async (stored: RemoteObject): Promise<Sameness> => {
    // A multipart ETag other than the one expected has no other layout to try: the parts sent are known.
    const remote = etagParts(stored.etag) === 0 ? stored : {...stored, etag: undefined}
    const wanted = wantedDigests(remote, check.size, check.partSize)
    const missing: WantedDigests = {md5: wanted.md5 && !local.md5, sha256: wanted.sha256 && !local.sha256, sha1: wanted.sha1 && !local.sha1, partSizes: wanted.partSizes}
    if (missing.md5 || missing.sha256 || missing.sha1 || missing.partSizes.length > 0) local = merge(local, await check.digest(missing))
    return compareContent(remote, local)
  }
  const corrupted = (how: string, remote: Partial<RemoteObject>) =>
    new VerificationError(`s3://${check.bucket}/${check.key} does not hold the bytes sent (${how}); the local file is kept.`, {
      code: 'UPLOAD_CORRUPTED',
      nextSteps: ['It is uploaded again on the next scan. If this repeats, the S3-compatible server mishandles uploads (e.g. stores aws-chunked framing).'],
      details: {bucket: check.bucket, key: check.key, expectedEtag: check.expectedEtag, stored: remote},
    })

  const answer: RemoteObject = {size: check.size, etag: check.answer.etag, serverSideEncryption: check.answer.serverSideEncryption}
  if ((await judge(answer)) === 'same') return 'store-digest'

  const head = await headObject(check)
  if (!head) throw corrupted('it is not there after the write', {})
  const verdict = await judge(head)
  if (verdict === 'same') return 'store-digest'
  if (verdict === 'different') throw corrupted(head.size === check.size ? 'a full-object checksum differs' : `${head.size} bytes stored, ${check.size} sent`, head)

  const stored = await readBack(check)
  if (!local.md5) local = merge(local, await check.digest({md5: true, sha256: false, sha1: false, partSizes: []}))
  if (stored.size === check.size && stored.md5 === local.md5) return 'read-back'
  throw corrupted(`read back: ${stored.size} bytes with MD5 ${stored.md5}, sent ${check.size} bytes with MD5 ${local.md5}`, {size: stored.size, etag: head.etag})
}

function merge(known: LocalDigests, more: LocalDigests): LocalDigests {
  return {
    ...known,
    md5: known.md5 ?? more.md5,
    sha256: known.sha256 ?? more.sha256,
    sha1: known.sha1 ?? more.sha1,
    multipart: new Map([...(known.multipart ?? []), ...(more.multipart ?? [])]),
  }
}

/** HEAD with checksum mode (lean, then the SDK: see requests.ts); `undefined` when there is no such object. */
async function headObject(check: WriteCheck): Promise<RemoteObject | undefined> {
  const head = await check.storage.headObject(check.key, {checksum: true, signal: check.signal})
  return head && {size: head.size, etag: head.etag, checksums: head.checksums, checksumType: head.checksumType, serverSideEncryption: head.serverSideEncryption}
}

/** The MD5 and size of the object as stored, read back whole (streamed, never held in memory). */
async function readBack(check: WriteCheck): Promise<{size: number; md5: string}> {
  const builder = new DigestBuilder({md5: true, sha256: false, sha1: false, partSizes: []})
  for await (const chunk of await check.storage.read(check.key, {signal: check.signal})) builder.update(chunk as Uint8Array)
  const digests = builder.digests()
  return {size: digests.size, md5: digests.md5!}
}

/** What an SDK HeadObject answer says about the object. */
export function remoteFromSdk(out: {ContentLength?: number; ETag?: string; ChecksumCRC32?: string; ChecksumSHA1?: string; ChecksumSHA256?: string; ChecksumType?: string; ServerSideEncryption?: string}): RemoteObject {
  const checksums: Record<string, string> = {}
  if (out.ChecksumCRC32) checksums.crc32 = out.ChecksumCRC32
  if (out.ChecksumSHA1) checksums.sha1 = out.ChecksumSHA1
  if (out.ChecksumSHA256) checksums.sha256 = out.ChecksumSHA256
  return {size: out.ContentLength ?? 0, etag: out.ETag?.replaceAll('"', ''), checksums, checksumType: out.ChecksumType, serverSideEncryption: out.ServerSideEncryption}
}
