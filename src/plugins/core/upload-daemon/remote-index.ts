import type {S3Storage} from '../storage/s3/storage.js'
import type {RemoteObject} from '../storage/s3/same-content.js'

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
export async function listKeyRange(storage: S3Storage, sortedKeys: string[], signal?: AbortSignal): Promise<Map<string, RemoteObject | null>> {
  const first = sortedKeys[0]
  const last = sortedKeys.at(-1)!
  const prefix = commonPrefix(first, last)
  // StartAfter is exclusive: start just before the first key (its own prefix sorts before it).
  const startAfter = first.length > prefix.length ? first.slice(0, -1) : undefined
  const budget = Math.max(1000, 4 * sortedKeys.length)
  const seen = new Map<string, RemoteObject>()
  let listed = 0
  let reached = ''
  let complete = true
  pages: for await (const page of storage.listPages(prefix, {startAfter: startAfter || undefined, signal})) {
    for (const item of page) {
      listed++
      reached = item.key
      if (item.key > last) break pages
      seen.set(item.key, {size: item.size, etag: item.etag})
    }
    // The range holds far more objects than files to ship: the rest get a HEAD each.
    if (listed >= budget) {
      complete = false
      break
    }
  }
  const result = new Map<string, RemoteObject | null>()
  for (const key of sortedKeys) {
    if (complete || key <= reached) result.set(key, seen.get(key) ?? null)
  }
  return result
}
