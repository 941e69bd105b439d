import type {DuckDBConnection, DuckDBInstance} from '@duckdb/node-api'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {willEndWithCommand} from '../kit/process-end.js'

/** Options of {@link openDuckDB}. */
export interface DuckDBOptions {
  /** DuckDB's memory limit, e.g. `1GB` (default 512MB): large inputs spill to `tempDir` instead of exhausting RAM. */
  memoryLimit?: string
  /** Threads (default: the machine's cores). */
  threads?: number
  /** Where DuckDB spills (default: a fresh dir under the OS temp dir, removed on close). */
  tempDir?: string
}

/** An in-memory DuckDB with bounded memory; `close()` frees it and its spill directory. */
export interface DuckDB {
  instance: DuckDBInstance
  connection: DuckDBConnection
  /** Runs SQL and returns the rows as JSON-safe objects (BIGINT as number when safe, else string). */
  query<T = Record<string, unknown>>(sql: string, values?: Record<string, unknown> | unknown[]): Promise<T[]>
  /** Runs SQL for its effect. */
  run(sql: string): Promise<void>
  close(): Promise<void>
}

/** Quotes a string as an SQL literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

/** Quotes an identifier. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** A list of file paths as an SQL list literal, for `read_parquet([...])`. */
export function sqlList(paths: string[]): string {
  return `[${paths.map(sqlString).join(', ')}]`
}

/**
 * Closed instances whose memory is left to the process's exit (see {@link willEndWithCommand}); the next open frees
 * them first, so no more instances hold memory at once than when each close freed its own.
 */
const leftToExit: DuckDBInstance[] = []

/** Opens DuckDB (loaded lazily: it is heavy) with a memory limit and its own spill directory. */
export async function openDuckDB(options: DuckDBOptions = {}): Promise<DuckDB> {
  for (const instance of leftToExit.splice(0)) instance.closeSync()
  const {DuckDBInstance} = await import('@duckdb/node-api')
  const ownTemp = options.tempDir === undefined
  const tempDir = options.tempDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'bw-duckdb-')))
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit ?? '512MB',
    threads: String(options.threads ?? os.availableParallelism()),
    temp_directory: tempDir,
    preserve_insertion_order: 'false',
  })
  const connection = await instance.connect()
  return {
    instance,
    connection,
    async query<T>(sql: string, values?: Record<string, unknown> | unknown[]) {
      const reader = await connection.runAndReadAll(sql, values as never)
      return reader.getRowObjectsJson() as T[]
    },
    async run(sql: string) {
      await connection.run(sql)
    },
    async close() {
      connection.closeSync()
      if (willEndWithCommand()) leftToExit.push(instance)
      else instance.closeSync()
      if (ownTemp) await fs.rm(tempDir, {recursive: true, force: true})
    },
  }
}
