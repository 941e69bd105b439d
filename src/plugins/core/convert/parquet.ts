import {createReadStream, createWriteStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {openDuckDB, sqlString} from '../duckdb/duckdb.js'
import type {Storage, WriteResult} from '../storage/types.js'
import type {OutputCompression} from './buckets.js'

/**
 * Writes a bucket as Parquet: the gzip JSONL members are spooled to a temp file, DuckDB (bounded memory, spilling
 * to disk) turns them into one Parquet file in input order, which is streamed to the output and removed.
 */
export async function writeParquet(jsonlGzip: AsyncIterable<Uint8Array>, output: Storage, key: string, compression: OutputCompression, records: () => number): Promise<WriteResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-convert-'))
  try {
    const spooled = path.join(dir, 'records.jsonl.gz')
    await pipeline(Readable.from(jsonlGzip), createWriteStream(spooled))
    const parquet = path.join(dir, 'out.parquet')
    const db = await openDuckDB({memoryLimit: '512MB', tempDir: path.join(dir, 'spill')})
    try {
      await db.run('SET preserve_insertion_order = true')
      const codec = compression === 'none' ? 'uncompressed' : compression
      const select = records() === 0 ? 'SELECT NULL::VARCHAR AS empty WHERE false' : `SELECT * FROM read_json(${sqlString(spooled)}, format = 'newline_delimited', sample_size = -1, maximum_object_size = 67108864)`
      await db.run(`COPY (${select}) TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION ${codec})`)
    } finally {
      await db.close()
    }
    return await output.write(key, createReadStream(parquet), {contentType: 'application/vnd.apache.parquet'})
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}
