import {RemoteError} from '../../errors/errors.js'
import {etagParts, type SentBody} from './etag.js'
import {compareContent, DigestBuilder, type LocalDigests, type RemoteObject, type Sameness, wantedDigests, type WantedDigests} from './same-content.js'

/**
 * How a write was verified: `etag` — the ETag S3 gives exactly these bytes (their MD5, or the multipart ETag of the
 * parts sent); `store-digest` — another digest of the whole object the store attests (a whole-object MD5 ETag for a
 * multipart upload, a full-object SHA-256 under SSE-KMS); `read-back` — the object read back and hashed.
 */
export type VerifiedBy = 'etag' | 'store-digest' | 'read-back'

/** What the store holds under the key, as far as the check learnt it, when it is not the bytes sent. */
export interface HeldObject {
  size: number
  etag?: string
  /** Hex MD5 and base64 SHA-256 of the bytes read back. */
  md5?: string
  sha256?: string
}

/** The verdict of {@link checkWrite}: the bytes sent are what the store holds, or it is proven not to hold them. */
export type WriteVerdict = {same: true; verifiedBy: VerifiedBy} | {same: false; how: string; held?: HeldObject}

/** What {@link checkWrite} needs to know about one write. */
export interface WriteCheck {
  bucket: string
  /** The object's whole key in the bucket. */
  key: string
  /** The store's answer to the PUT or CompleteMultipartUpload. */
  answer: {etag?: string; serverSideEncryption?: string}
  /** What was sent (Upload's `sent`). */
  sent: SentBody
  /** The part size to try for a multipart ETag (the one used; the single-PUT limit when there were no parts). */
  partSize: number
  /** Computes more digests of the bytes sent (e.g. by reading a file again); without it only `sent`'s are known. */
  digest?: (wanted: WantedDigests) => Promise<LocalDigests>
  /** HEAD in checksum mode; `undefined` when there is no object. */
  head: () => Promise<RemoteObject | undefined>
  /** The object's bytes, streamed. */
  read: () => Promise<AsyncIterable<Uint8Array>>
}

/**
 * Whether the store's answer is the ETag S3 gives exactly the bytes sent (their MD5 for one PUT, the multipart ETag
 * of the parts sent): the common case, which settles a write at no cost. {@link checkWrite}'s first rule, on its own
 * so that a writer can take it before building a check (no closures, no promise per write: small files go by
 * thousands).
 */
export function etagVouches(answer: {etag?: string}, sent: SentBody): boolean {
  return answer.etag !== undefined && (answer.etag === sent.md5 || answer.etag === sent.multipartEtag)
}

/** The verdict of a write its ETag vouches for (one object for every such write). */
export const ETAG_VERDICT: WriteVerdict = Object.freeze({same: true, verifiedBy: 'etag'})

/**
 * The one place that decides whether a write left exactly the bytes sent under the key — S3Storage's writes and the
 * upload daemon's alike; what to do about a difference (remove the object, keep the local file) is the caller's. The
 * ETag S3 gives these bytes settles it at no cost. Any other answer proves nothing by itself (s3rver gives a
 * multipart upload the whole object's MD5; under SSE-KMS the ETag is no digest; some stores give none), so the store
 * is asked what it can attest, through the same-content rules (same-content.ts): the answer's ETag as a whole-object
 * MD5, then a HEAD's size and full-object SHA-256/SHA-1; when nothing there decides, the object is read back and
 * hashed. A CRC can prove a difference, never sameness. An object that cannot be checked (the HEAD or the read
 * fails) is a `WRITE_UNVERIFIED` RemoteError — never called corrupted, never called good.
 */
export async function checkWrite(check: WriteCheck): Promise<WriteVerdict> {
  const {sent} = check
  if (etagVouches(check.answer, sent)) return ETAG_VERDICT
  let local: LocalDigests = {size: sent.size, md5: sent.md5, sha256: sent.sha256, multipart: sent.multipartEtag ? new Map([[sent.partSize ?? check.partSize, sent.multipartEtag]]) : undefined}
  const more = async (wanted: WantedDigests) => {
    const missing: WantedDigests = {md5: wanted.md5 && !local.md5, sha256: wanted.sha256 && !local.sha256, sha1: wanted.sha1 && !local.sha1, partSizes: wanted.partSizes.filter((size) => !local.multipart?.has(size))}
    if (check.digest && (missing.md5 || missing.sha256 || missing.sha1 || missing.partSizes.length > 0)) local = merge(local, await check.digest(missing))
  }
  const judge = async (stored: RemoteObject): Promise<Sameness> => {
    // The multipart ETag of the parts sent vouches for them; another has no other layout to try (the parts are known).
    if (stored.etag !== undefined && stored.etag === sent.multipartEtag && stored.size === sent.size) return 'same'
    const remote = etagParts(stored.etag) === 0 ? stored : {...stored, etag: undefined}
    await more(wantedDigests(remote, sent.size, check.partSize))
    return compareContent(remote, local)
  }
  const unverified = (error: unknown): never => {
    if ((error as Error).name === 'AbortError') throw error
    throw new RemoteError(
      `S3 answered the write of s3://${check.bucket}/${check.key} with ETag ${check.answer.etag ?? '(none)'}, which does not vouch for the bytes sent, and the object could not be read back to check them.`,
      {
        code: 'WRITE_UNVERIFIED',
        nextSteps: ['Run again. The object was left as it is: it may be complete.'],
        details: {bucket: check.bucket, key: check.key, etag: check.answer.etag, md5: sent.md5, multipartEtag: sent.multipartEtag},
        cause: error,
      },
    )
  }

  if ((await judge({size: sent.size, etag: check.answer.etag, serverSideEncryption: check.answer.serverSideEncryption})) === 'same') return {same: true, verifiedBy: 'store-digest'}
  const head = await check.head().catch(unverified)
  if (!head) return {same: false, how: 'it is not there after the write'}
  const verdict = await judge(head)
  if (verdict === 'same') return {same: true, verifiedBy: 'store-digest'}
  if (verdict === 'different') {
    return {same: false, how: head.size === sent.size ? 'a full-object checksum differs' : `${head.size} bytes stored, ${sent.size} sent`, held: {size: head.size, etag: head.etag, sha256: head.checksums?.sha256}}
  }

  // Nothing the store attests decides: read the object back, hashing it as the bytes sent are known (SHA-256 when
  // the writer has it, else MD5 — computed from the bytes sent when not known yet).
  if (!local.sha256) await more({md5: true, sha256: false, sha1: false, partSizes: []})
  const bySha256 = local.sha256 !== undefined
  if (!bySha256 && !local.md5) {
    throw new RemoteError(`Cannot check the write of s3://${check.bucket}/${check.key}: no digest of the bytes sent is known.`, {code: 'WRITE_UNVERIFIED', details: {bucket: check.bucket, key: check.key}})
  }
  let stored: LocalDigests
  try {
    const builder = new DigestBuilder({md5: true, sha256: bySha256, sha1: false, partSizes: []})
    for await (const chunk of await check.read()) builder.update(chunk)
    stored = builder.digests()
  } catch (error) {
    return unverified(error)
  }
  const same = stored.size === sent.size && (bySha256 ? stored.sha256 === local.sha256 : stored.md5 === local.md5)
  if (same) return {same: true, verifiedBy: 'read-back'}
  const digest = bySha256 ? `SHA-256 ${stored.sha256}, sent ${sent.size} bytes with SHA-256 ${local.sha256}` : `MD5 ${stored.md5}, sent ${sent.size} bytes with MD5 ${local.md5}`
  return {same: false, how: `read back: ${stored.size} bytes with ${digest}`, held: {size: stored.size, etag: head.etag, md5: stored.md5, sha256: stored.sha256}}
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
