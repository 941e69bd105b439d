/**
 * Requests to a store that bills them (S3): the counters a storage keeps as it goes, the counts a dry run plans, and
 * their price — one price table and one rule for how many requests an upload takes, for every command.
 */

/** Counters of a store's traffic by operation (`ListObjectsV2`, `GetObject`, …); attempts include retries. */
export interface RequestStats {
  requests: Record<string, number>
  attempts: number
  retries: number
}

/** Requests by kind, as a run plans or counts them. */
export interface RequestCounts {
  list: number
  get: number
  head: number
  put: number
  copy: number
  delete: number
}

/** S3 Standard request prices (USD per 1,000), as published: LIST/PUT/COPY/POST, and GET/HEAD/other. DELETE is free. */
export const REQUEST_PRICES = {write: 0.005, read: 0.0004} as const

/** Multipart part size of uploads (the storage's default): a body up to one part goes up in a single PUT. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024

/** PUT-class requests of an upload of `bytes`: one PUT, or create + parts + complete. */
export function uploadRequests(bytes: number, partSize = DEFAULT_PART_SIZE): number {
  return bytes <= partSize ? 1 : 2 + Math.ceil(bytes / partSize)
}

/** LIST pages of one listing of `keys` keys (S3 returns up to 1,000 a page; an empty listing is one request). */
export function listRequests(keys: number): number {
  return Math.max(1, Math.ceil(keys / 1000))
}

/** Rounds USD to the millionth: request prices are fractions of a cent. */
const usd = (amount: number) => Math.round(amount * 1e6) / 1e6

/** What requests cost at {@link REQUEST_PRICES}, by class (COPY is a PUT-class request, counted with `put`). */
export function requestCost(counts: Partial<RequestCounts>): {list: number; get: number; put: number; total: number} {
  const list = ((counts.list ?? 0) / 1000) * REQUEST_PRICES.write
  const get = (((counts.get ?? 0) + (counts.head ?? 0)) / 1000) * REQUEST_PRICES.read
  const put = (((counts.put ?? 0) + (counts.copy ?? 0)) / 1000) * REQUEST_PRICES.write
  return {list: usd(list), get: usd(get), put: usd(put), total: usd(list + get + put)}
}

/** Counts requests as a run goes (or as a dry run plans them). */
export class RequestTally implements RequestCounts {
  list = 0
  get = 0
  head = 0
  put = 0
  copy = 0
  delete = 0

  /** A listing of `keys` keys. */
  listing(keys: number): void {
    this.list += listRequests(keys)
  }

  /** An upload of `bytes`. */
  upload(bytes: number, partSize?: number): void {
    this.put += uploadRequests(bytes, partSize)
  }

  add(counts: Partial<RequestCounts>): void {
    for (const kind of ['list', 'get', 'head', 'put', 'copy', 'delete'] as const) this[kind] += counts[kind] ?? 0
  }

  counts(): RequestCounts {
    return {list: this.list, get: this.get, head: this.head, put: this.put, copy: this.copy, delete: this.delete}
  }
}
