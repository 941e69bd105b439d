import type {S3Client} from '@aws-sdk/client-s3'

import {type S3ErrorContext, translateS3Error} from '../storage/s3/s3-errors.js'
import type {RemoteObject} from './same-content.js'

/** Below this many files in one directory, a HEAD per file is as cheap as listing. */
export const LIST_THRESHOLD = 8

function commonPrefix(a: string, b: string): string {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return a.slice(0, i)
}

/**
 * What the bucket holds under a sorted run of keys, from ListObjectsV2 of just that key range (one request per
 * 1,000 keys instead of one HEAD per file). Keys the listing covered map to the object or `null` (absent); keys it
 * did not reach (the range held far more objects than files to ship) are left out, for a HEAD each.
 */
export async function listKeyRange(client: S3Client, bucket: string, sortedKeys: string[], context: Omit<S3ErrorContext, 'operation' | 'bucket'>, signal?: AbortSignal): Promise<Map<string, RemoteObject | null>> {
  const {ListObjectsV2Command} = await import('@aws-sdk/client-s3')
  const first = sortedKeys[0]
  const last = sortedKeys.at(-1)!
  const prefix = commonPrefix(first, last)
  // StartAfter is exclusive: start just before the first key (its own prefix sorts before it).
  const startAfter = first.length > prefix.length ? first.slice(0, -1) : undefined
  const budget = Math.max(1000, 4 * sortedKeys.length)
  const seen = new Map<string, RemoteObject>()
  let listed = 0
  let reached = ''
  let complete = false
  let token: string | undefined
  do {
    let page
    try {
      page = await client.send(
        new ListObjectsV2Command({Bucket: bucket, Prefix: prefix || undefined, StartAfter: token ? undefined : startAfter || undefined, ContinuationToken: token}),
        {abortSignal: signal},
      )
    } catch (error) {
      throw translateS3Error(error, {...context, operation: 'ListObjectsV2', bucket})
    }
    for (const item of page.Contents ?? []) {
      if (!item.Key) continue
      listed++
      reached = item.Key
      if (item.Key > last) {
        complete = true
        break
      }
      seen.set(item.Key, {size: item.Size ?? 0, etag: item.ETag?.replaceAll('"', '')})
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
    if (!token) complete = true
  } while (!complete && listed < budget)
  const result = new Map<string, RemoteObject | null>()
  for (const key of sortedKeys) {
    if (complete || key <= reached) result.set(key, seen.get(key) ?? null)
  }
  return result
}
