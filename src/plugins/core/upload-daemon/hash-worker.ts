import type {Worker} from 'node:worker_threads'

/** Digests of a body computed off the JS thread. */
export interface BodyDigests {
  md5: Buffer
  /** Base64 big-endian CRC32. */
  crc32: string
}

// An eval'd CommonJS worker: no separate file to locate, in dist/ or under the test runner alike.
const WORKER_SOURCE = `
const {parentPort} = require('node:worker_threads')
const {createHash} = require('node:crypto')
const {crc32} = require('node:zlib')
parentPort.on('message', ({id, buffer, offset, length}) => {
  const view = new Uint8Array(buffer, offset, length)
  const md5 = createHash('md5').update(view).digest()
  const crc = Buffer.allocUnsafe(4)
  crc.writeUInt32BE(crc32(view) >>> 0)
  parentPort.postMessage({id, md5, crc32: crc.toString('base64')})
})
`

/**
 * Hashes large bodies (MD5 for Content-MD5 and the ETag check, CRC32) on a worker thread. Hashing 16 MiB takes
 * tens of milliseconds; on the JS thread that would stall every socket the daemon is writing to meanwhile. Bodies
 * live in SharedArrayBuffers (see {@link sharedBuffer}), so nothing is copied.
 */
export class HashWorker {
  private worker?: Worker
  private nextId = 0
  private readonly pending = new Map<number, {resolve: (digests: BodyDigests) => void; reject: (error: Error) => void}>()

  private async start(): Promise<Worker> {
    if (this.worker) return this.worker
    const {Worker} = await import('node:worker_threads')
    if (this.worker) return this.worker
    const worker = new Worker(WORKER_SOURCE, {eval: true})
    worker.unref()
    worker.on('message', ({id, md5, crc32}: {id: number; md5: Uint8Array; crc32: string}) => {
      const waiter = this.pending.get(id)
      this.pending.delete(id)
      waiter?.resolve({md5: Buffer.from(md5), crc32})
    })
    worker.on('error', (error) => {
      for (const waiter of this.pending.values()) waiter.reject(error)
      this.pending.clear()
      this.worker = undefined
    })
    this.worker = worker
    return worker
  }

  /** MD5 and CRC32 of a buffer allocated with {@link sharedBuffer}. */
  async digest(body: Buffer): Promise<BodyDigests> {
    if (!(body.buffer instanceof SharedArrayBuffer)) throw new TypeError('HashWorker.digest needs a buffer from sharedBuffer()')
    const worker = await this.start()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject})
      worker.postMessage({id, buffer: body.buffer, offset: body.byteOffset, length: body.length})
    })
  }

  async close(): Promise<void> {
    await this.worker?.terminate()
    this.worker = undefined
  }
}

/** A Buffer over shared memory, so a worker can read it without a copy. */
export function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size))
}
