import {Worker} from 'node:worker_threads'

import {BugError} from '../errors/errors.js'
import {RecordValidator} from '../schema/validator.js'
import type {DataSource} from '../sources/types.js'
import {type ChunkJob, type ChunkResult, encodeChunk} from './chunk-encoder.js'
import {settleDetachProtector, takePrestarted, workerScript} from './encoder-threads.js'
import type {SourceLoader} from './source-handle.js'

/**
 * Encodes chunks on worker threads (or on the main thread with `workers: 0`). Jobs go to the first idle worker;
 * callers bound how many are outstanding and put results back in order themselves.
 */
export class EncoderPool {
  private readonly idle: Worker[] = []
  private readonly queue: {job: ChunkJob; resolve: (result: ChunkResult) => void; reject: (error: Error) => void}[] = []
  private readonly pending = new Map<Worker, {resolve: (result: ChunkResult) => void; reject: (error: Error) => void}>()
  private readonly workers: Worker[] = []
  private failure?: Error

  private constructor(
    private readonly source: DataSource,
    readonly size: number,
  ) {}

  /**
   * Starts `workers` threads that load the source with `loader`, or takes over as many started early
   * ({@link prestartEncoders}) and sends them the loader.
   */
  static async start(source: DataSource, loader: SourceLoader, workers: number): Promise<EncoderPool> {
    const pool = new EncoderPool(source, workers)
    if (workers <= 0) return pool
    settleDetachProtector()
    const early = takePrestarted(workers)
    for (let i = 0; i < workers; i++) {
      const worker = early?.[i] ?? new Worker(workerScript(), {workerData: {loader}})
      if (early) worker.postMessage({loader})
      worker.on('message', (message: {ok: boolean; result?: ChunkResult; message?: string; stack?: string}) => {
        const waiter = pool.pending.get(worker)
        pool.pending.delete(worker)
        if (message.ok) waiter?.resolve(message.result!)
        else waiter?.reject(new BugError(`Encoding a chunk failed: ${message.message}`, {code: 'ENCODER_FAILED', details: {stack: message.stack}}))
        pool.idle.push(worker)
        pool.pump()
      })
      worker.on('error', (error) => pool.fail(error))
      worker.on('exit', (code) => {
        if (code !== 0) pool.fail(new BugError(`An encoder thread exited with code ${code}.`, {code: 'ENCODER_EXITED'}))
      })
      pool.workers.push(worker)
      pool.idle.push(worker)
    }
    return pool
  }

  /** Encodes one chunk; its object bodies are transferred to the worker (unusable here afterwards). */
  encode(job: ChunkJob): Promise<ChunkResult> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.size <= 0) return this.encodeHere(job)
    return new Promise((resolve, reject) => {
      this.queue.push({job, resolve, reject})
      this.pump()
    })
  }

  private async encodeHere(job: ChunkJob): Promise<ChunkResult> {
    const validator = job.validate && this.source.schema ? await RecordValidator.create(this.source.schema) : undefined
    return encodeChunk(job, this.source, validator)
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.shift()!
      const {job, resolve, reject} = this.queue.shift()!
      this.pending.set(worker, {resolve, reject})
      // Only bodies that own their whole ArrayBuffer move; a view into a shared pool is copied instead.
      const transfer = job.objects.filter(({body}) => body.byteLength > 0 && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength).map(({body}) => body.buffer as ArrayBuffer)
      worker.postMessage(job, transfer)
    }
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
    for (const queued of this.queue.splice(0)) queued.reject(error)
  }

  /** The threads' ids (a thread taken over from {@link prestartEncoders} keeps its id). */
  get threadIds(): number[] {
    return this.workers.map((worker) => worker.threadId)
  }

  async close(): Promise<void> {
    this.failure ??= new BugError('The encoder pool is closed.', {code: 'ENCODER_CLOSED'})
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }
}
