import {createWriteStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'

import {UserError} from '../errors/errors.js'
import {forEachLimit} from '../kit/concurrency.js'
import type {Storage} from '../storage/types.js'

/**
 * Gives DuckDB local file paths for objects of any storage: local files are used in place; remote objects are
 * downloaded to a temp dir under a disk budget (DuckDB's httpfs cannot be installed offline, and spooling keeps
 * credentials out of SQL). Call {@link release} when a file is done, {@link close} at the end.
 */
export class Spool {
  private used = 0
  private spooled = 0
  private dir?: Promise<string>
  private readonly sizes = new Map<string, number>()

  constructor(
    private readonly storage: Storage,
    private readonly options: {budgetBytes?: number; tempRoot?: string} = {},
  ) {}

  /** Bytes currently on disk in the spool. */
  get bytesUsed(): number {
    return this.used
  }

  /** A local path holding the object's bytes. */
  async path(key: string, size?: number): Promise<string> {
    const inPlace = this.storage.localPath?.(key)
    if (inPlace !== undefined) return inPlace
    const budget = this.options.budgetBytes ?? 2e9
    const expected = size ?? (await this.storage.head(key))?.size ?? 0
    if (this.used + expected > budget) {
      throw new UserError(`Spooling ${key} (${expected} bytes) would exceed the disk budget of ${budget} bytes.`, {
        code: 'SPOOL_BUDGET',
        nextSteps: ['Raise --disk-budget, or work on smaller partitions.'],
      })
    }
    // Reserve before any await, so that concurrent calls cannot all pass the check together.
    this.used += expected
    let dir: string
    try {
      // One directory for all: concurrent first calls share the pending mkdtemp instead of making one each.
      this.dir ??= fs.mkdtemp(path.join(this.options.tempRoot ?? os.tmpdir(), 'bw-spool-'))
      dir = await this.dir
    } catch (error) {
      this.used -= expected
      throw error
    }
    // A running number keeps names unique (two keys may share a base name); the base name keeps the extension
    // that DuckDB detects compression by.
    const file = path.join(dir, `${this.spooled++}-${path.basename(key).replace(/[^\w.-]/g, '_')}`)
    this.sizes.set(file, expected)
    try {
      await pipeline(await this.storage.read(key), createWriteStream(file))
    } catch (error) {
      await this.release(file)
      throw error
    }
    return file
  }

  /**
   * Local paths of many objects, in their order, fetching up to `concurrency` at a time (small objects are bound by
   * request latency, not bandwidth). On failure, the files already spooled by this call are released.
   */
  async paths(objects: {key: string; size?: number}[], concurrency = 16): Promise<string[]> {
    const out: string[] = new Array(objects.length)
    try {
      // Settles only once every fetch in flight has, so none of this call's files is left behind a failure.
      await forEachLimit(objects, concurrency, async (object, index) => {
        out[index] = await this.path(object.key, object.size)
      })
    } catch (error) {
      await Promise.all(out.filter(Boolean).map((file) => this.release(file)))
      throw error
    }
    return out
  }

  /** Removes a spooled file (no-op for local objects). */
  async release(file: string): Promise<void> {
    const size = this.sizes.get(file)
    if (size === undefined) return
    this.sizes.delete(file)
    this.used -= size
    await fs.rm(file, {force: true})
  }

  async close(): Promise<void> {
    if (this.dir) await fs.rm(await this.dir, {recursive: true, force: true})
    this.dir = undefined
    this.sizes.clear()
    this.used = 0
  }
}
