import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {type DuckDB, openDuckDB} from '../../src/plugins/core/duckdb/duckdb.js'
import {Spool} from '../../src/plugins/core/duckdb/spool.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {inspectParquet, mergeToParquet, type MergeSource, sameChecksum} from '../../src/plugins/core/compact/merge.js'
import {createTestBucket, s3Endpoint, useS3Env} from '../helpers/s3.js'
import {putNdjson, putParquet, query, relationOf, removeTempDirs, tempDir} from './fixtures.js'

let dir: string
let storage: LocalStorage
let db: DuckDB
const sources: MergeSource[] = []

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-merge-'))
  storage = new LocalStorage(dir)
  for (let index = 0; index < 12; index++) {
    const key = `in/p${index}.parquet`
    await putParquet(storage, key, index * 300, 300, index % 3 === 0 ? 'drifted' : 'nested')
    sources.push({path: storage.pathOf(key), format: 'parquet'})
  }
  await putNdjson(storage, 'in/j.ndjson.gz', 90_000, 200)
  sources.push({path: storage.pathOf('in/j.ndjson.gz'), format: 'json'})
  db = await openDuckDB({memoryLimit: '256MB', threads: 2})
})
afterAll(async () => {
  await removeTempDirs()
  await db.close()
  await fs.rm(dir, {recursive: true, force: true})
})

/** The same checksum, computed by the test's own DuckDB straight from the input files. */
async function independentChecksum(files: string[]): Promise<{rows: number; sum: string; xor: string}> {
  const [row] = await query<{rows: string; sum: string; xor: string}>(`SELECT count(*) AS rows, sum(h)::VARCHAR AS sum, bit_xor(h)::VARCHAR AS xor FROM (SELECT hash(*COLUMNS(*)) AS h FROM ${relationOf(files)})`)
  return {rows: Number(row.rows), sum: row.sum, xor: row.xor}
}

describe('mergeToParquet', () => {
  it('single-pass (row tap) and two-pass checksums agree with each other, with the inputs and with the output', async () => {
    const expected = await independentChecksum(sources.map((source) => source.path))
    expect(expected.rows).toBe(3800)
    for (const strategy of ['single-pass', 'two-pass'] as const) {
      const merged = await mergeToParquet(db, sources, path.join(dir, `out-${strategy}`), {targetSizeBytes: 128e6, strategy})
      expect(merged.inputs, strategy).toEqual(expected)
      expect(merged.footerRows).toBeUndefined()
      expect(merged.files).toHaveLength(1)
      const written = await inspectParquet(db, merged.files[0])
      expect(sameChecksum(written.checksum, merged.inputs)).toBe(true)
    }
  })

  it('the checksum is order-independent but sees a changed value, a lost row and a doubled row', async () => {
    const files = sources.slice(0, 4).map((source) => source.path)
    const base = await independentChecksum(files)
    expect(await independentChecksum([...files].reverse())).toEqual(base)
    const merged = await mergeToParquet(db, sources.slice(0, 4), path.join(dir, 'out-check'), {targetSizeBytes: 128e6, strategy: 'single-pass'})
    // All-Parquet inputs also get a row count from their footers, independent of the scan.
    expect(merged.footerRows).toBe(1200)
    expect(merged.inputs.rows).toBe(1200)
    const file = merged.files[0]
    const variant = async (sql: string) => {
      const target = path.join(dir, `variant-${Math.random()}.parquet`)
      await db.run(`COPY (${sql}) TO '${target}' (FORMAT parquet)`)
      return (await inspectParquet(db, target)).checksum
    }
    const changed = await variant(`SELECT * REPLACE (CASE WHEN id = 5 THEN 'other' ELSE vehicle END AS vehicle) FROM read_parquet('${file}')`)
    expect(changed.rows).toBe(base.rows)
    expect(sameChecksum(changed, merged.inputs)).toBe(false)
    expect(sameChecksum(await variant(`SELECT * FROM read_parquet('${file}') WHERE id <> 7`), merged.inputs)).toBe(false)
    const doubled = await variant(`SELECT * FROM read_parquet('${file}') WHERE id <> 7 UNION ALL SELECT * FROM read_parquet('${file}') WHERE id = 8`)
    expect(doubled.rows).toBe(base.rows)
    expect(sameChecksum(doubled, merged.inputs)).toBe(false)
  })

  it('splits the output at about --target-size, every file verified', async () => {
    const merged = await mergeToParquet(db, sources, path.join(dir, 'out-split'), {targetSizeBytes: 20_000, strategy: 'single-pass', rowGroupSize: 500})
    expect(merged.files.length).toBeGreaterThan(1)
    const parts = await Promise.all(merged.files.map((file) => inspectParquet(db, file)))
    expect(parts.reduce((sum, part) => sum + part.checksum.rows, 0)).toBe(3800)
  })
})

describe('Spool (S3 objects → local files for DuckDB)', () => {
  let s3: Storage
  beforeAll(async () => {
    useS3Env()
    const bucket = await createTestBucket('bw-spool')
    s3 = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint(), retryBaseMs: 5})
    for (let index = 0; index < 20; index++) await s3.write(`same/${index}/data.ndjson`, `{"i":${index}}\n`)
  })
  afterAll(async () => s3.close())

  it('fetches many objects concurrently into one directory, keeps files of equal base names apart, and cleans up', async () => {
    const tempRoot = await tempDir('bw-spool-root-')
    const spool = new Spool(s3, {tempRoot, budgetBytes: 10_000})
    const objects = Array.from({length: 20}, (_, index) => ({key: `same/${index}/data.ndjson`}))
    const files = await spool.paths(objects, 8)
    expect(new Set(files).size).toBe(20)
    expect(new Set(files.map((file) => path.dirname(file))).size).toBe(1)
    expect(await Promise.all(files.map((file) => fs.readFile(file, 'utf8')))).toEqual(objects.map((_, index) => `{"i":${index}}\n`))
    expect(spool.bytesUsed).toBeGreaterThan(0)
    await spool.close()
    expect(await fs.readdir(tempRoot)).toEqual([])
  })

  it('holds its disk budget under concurrent fetches', async () => {
    const spool = new Spool(s3, {budgetBytes: 50})
    const objects = Array.from({length: 20}, (_, index) => ({key: `same/${index}/data.ndjson`, size: 9}))
    await expect(spool.paths(objects, 20)).rejects.toMatchObject({code: 'SPOOL_BUDGET'})
    expect(spool.bytesUsed).toBeLessThanOrEqual(50)
    await spool.close()
  })
})
