import type {RequestPlan} from './types.js'

/** S3 Standard request prices (USD per 1,000), as published: LIST/PUT/COPY/POST, and GET/HEAD/other. */
export const S3_PRICES = {listPut: 0.005, get: 0.0004} as const

/** Multipart part size of uploads (the storage layer's default). */
const PART_SIZE = 8 * 1024 * 1024

/** Counts S3 requests as a run goes (or as a dry run plans them), then prices them. */
export class RequestCounter {
  list = 0
  get = 0
  head = 0
  put = 0
  estimated = false

  /** LIST pages of one listing of `keys` keys (S3 returns up to 1,000 a page; an empty listing is one request). */
  listing(keys: number): void {
    this.list += Math.max(1, Math.ceil(keys / 1000))
  }

  /** PUT-class requests of an upload of `bytes`: one PUT, or create + parts + complete. */
  upload(bytes: number): void {
    this.put += bytes <= PART_SIZE ? 1 : 2 + Math.ceil(bytes / PART_SIZE)
  }

  plan(): RequestPlan {
    const round = (usd: number) => Math.round(usd * 1e6) / 1e6
    const list = round((this.list / 1000) * S3_PRICES.listPut)
    const get = round(((this.get + this.head) / 1000) * S3_PRICES.get)
    const put = round((this.put / 1000) * S3_PRICES.listPut)
    return {list: this.list, get: this.get, head: this.head, put: this.put, cost: {list, get, put, total: round(list + get + put)}, estimated: this.estimated}
  }
}
