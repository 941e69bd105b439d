import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {Worker} from 'node:worker_threads'

import {BugError} from '../errors/errors.js'
import type {SchemaViolation} from '../schema/validator.js'
import type {JsonSchema} from '../sources/types.js'
import type {FileScan, ScanOptions} from './scan.js'

/** One file to scan on a worker thread. The schema is sent with each job (workers compile it once). */
export interface ScanJob {
  id: number
  filePath: string
  options: Omit<ScanOptions, 'validator'>
  schema?: JsonSchema
}

/** A file's schema findings, as {@link RecordValidator.merge} takes them. */
export interface SchemaTally {
  recordsChecked: number
  recordsInvalid: number
  violations: SchemaViolation[]
}

/** A worker's answer: the scan and the file's schema tally, or why it failed. */
export interface ScanReply {
  id: number
  scan?: FileScan
  tally?: SchemaTally
  error?: string
}

/** The compiled worker: beside this module in dist/, or in dist/ when this module runs from src/ (tests). */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'scan-worker.js')
  return path.join(path.resolve(path.dirname(here), '..', '..', '..', '..'), 'dist', 'plugins', 'core', 'verify', 'scan-worker.js')
}

/**
 * Scans JSONL outputs on worker threads, one file per worker at a time: parsing and validating every record is the
 * CPU-heavy part of verify, and on the main thread it would use one core while DuckDB's checks wait for the other.
 */
export class ScanPool {
  private readonly workers: Worker[] = []
  private readonly idle: Worker[] = []
  private readonly waiting: ((worker: Worker) => void)[] = []
  private nextId = 0

  private constructor(readonly size: number) {}

  /** A pool of `size` threads (default: the cores, at most 4). */
  static async start(size = Math.min(4, os.availableParallelism())): Promise<ScanPool> {
    const {Worker} = await import('node:worker_threads')
    const pool = new ScanPool(size)
    for (let i = 0; i < size; i++) {
      const worker = new Worker(workerScript())
      worker.unref()
      pool.workers.push(worker)
      pool.idle.push(worker)
    }
    return pool
  }

  /** Scans one file on the next idle worker. */
  async scan(filePath: string, options: Omit<ScanOptions, 'validator'>, schema?: JsonSchema): Promise<{scan: FileScan; tally?: SchemaTally}> {
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)))
    try {
      const id = this.nextId++
      const reply = await new Promise<ScanReply>((resolve, reject) => {
        const onMessage = (message: ScanReply) => {
          if (message.id !== id) return
          worker.off('message', onMessage)
          worker.off('error', reject)
          resolve(message)
        }
        worker.on('message', onMessage)
        worker.once('error', reject)
        worker.postMessage({id, filePath, options, schema} satisfies ScanJob)
      })
      if (reply.error || !reply.scan) throw new BugError(`Scanning ${options.label} failed on a worker thread: ${reply.error ?? 'no result'}`, {code: 'SCAN_WORKER'})
      return {scan: reply.scan, tally: reply.tally}
    } finally {
      const next = this.waiting.shift()
      if (next) next(worker)
      else this.idle.push(worker)
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }
}
