import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type CompactResult, LocalStorage} from '../../src/plugins/core/index.js'
import {ROOT, runInProcess} from '../helpers/cli.js'
import {columnTypes, daysAgo, keysOf, query, removeTempDirs, rowDifference, tempDir} from './fixtures.js'

/** The real sample data, read in place (never copied into the repository). */
const REAL = path.resolve(ROOT, '..', 'shared', 'real-data')

let root: string
let storage: LocalStorage

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-compact-real-'))
  storage = new LocalStorage(root)
})
afterAll(async () => {
  await removeTempDirs()
  await fs.rm(root, {recursive: true, force: true})
})

describe('compact on real records', () => {
  it('WYDOT BSM records of three schema versions (deeply nested, UUIDs, empty objects) merge losslessly', async () => {
    const dir = `wydot/BSM/date=${daysAgo(4)}/`
    const names = ['wydot-filtered-bsm-1502840971677.json', 'wydot-filtered-bsm-1511788035889.json', 'wydot-filtered-bsm-schemaVersion6.json']
    const originals: string[] = []
    for (const name of names) {
      // Each real record on one line: NDJSON segments as the ingester writes them.
      const record = JSON.stringify(JSON.parse(await fs.readFile(path.join(REAL, 'wydot', name), 'utf8')))
      for (let copy = 0; copy < 3; copy++) {
        await storage.write(`${dir}${name.replace('.json', `-${copy}.ndjson`)}`, `${record}\n${record}\n`)
        originals.push(path.join(root, `${dir}${name.replace('.json', `-${copy}.ndjson`)}`))
      }
    }
    const snapshot = await tempDir('bw-real-snap-')
    const copies = await Promise.all(originals.map(async (file) => {
      const to = path.join(snapshot, path.basename(file))
      await fs.copyFile(file, to)
      return to
    }))
    const run = await runInProcess<CompactResult>(['compact', root, '--json'])
    expect(run.result!.partitions[0]).toMatchObject({status: 'compacted', rows: 18, deleted: 9})
    const output = (await keysOf(storage, dir)).map((key) => storage.pathOf(key))
    expect(output).toHaveLength(1)
    expect(await rowDifference(copies, output)).toBe(0)
    const types = await columnTypes(output)
    expect(types.payload).toMatch(/^STRUCT\(dataType VARCHAR, "data" STRUCT\(coreData STRUCT\(msgCnt BIGINT, id VARCHAR, secMark BIGINT, "position" STRUCT\(latitude DOUBLE, longitude DOUBLE, elevation DOUBLE\)/)
    // Timestamps stay the strings that were written, "[UTC]" suffix and all.
    const [row] = await query<{at: string}>(`SELECT metadata.recordGeneratedAt AS at FROM read_parquet('${output[0]}') WHERE metadata.recordGeneratedAt LIKE '%[UTC]' LIMIT 1`)
    expect(row.at).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z\[UTC\]$/)
  })

  it('Coinbase Advanced Trade frames (every channel in one stream, drifting event shapes) merge losslessly', async () => {
    const dir = `coinbase/raw/date=${daysAgo(5)}/`
    const lines = (await fs.readFile(path.join(REAL, 'coinbase', 'derived', 'COINBASE.advanced-trade.recv-frames.no-l2-snapshots.ndjson'), 'utf8')).trimEnd().split('\n')
    const segments: string[] = []
    for (let start = 0, index = 0; start < lines.length; start += 150, index++) {
      const key = `${dir}segment_${index}.ndjson`
      await storage.write(key, lines.slice(start, start + 150).join('\n') + '\n')
      segments.push(storage.pathOf(key))
    }
    const snapshot = await tempDir('bw-real-snap-')
    const copies = await Promise.all(segments.map(async (file) => {
      const to = path.join(snapshot, path.basename(file))
      await fs.copyFile(file, to)
      return to
    }))
    const run = await runInProcess<CompactResult>(['compact', root, '--json'])
    const partition = run.result!.partitions.find((entry) => entry.partition === dir)!
    expect(partition).toMatchObject({status: 'compacted', rows: lines.length})
    const output = (await keysOf(storage, dir)).map((key) => storage.pathOf(key))
    expect(await rowDifference(copies, output)).toBe(0)
    const types = await columnTypes(output)
    expect(types.events).toMatch(/^STRUCT\(.*trades STRUCT\(product_id VARCHAR, trade_id VARCHAR, price VARCHAR, size VARCHAR, "time" VARCHAR, side VARCHAR\)\[\]/)
    // Nanosecond timestamps keep exactly the digits they had (their count varies in the real feed).
    const written = await query<{ts: string}>(`SELECT "timestamp" AS ts FROM read_parquet('${output[0]}') ORDER BY ts`)
    const original = lines.map((line) => (JSON.parse(line) as {timestamp: string}).timestamp).sort()
    expect(written.map((row) => row.ts)).toEqual(original)
    expect(original.some((ts) => /\.\d{9}Z$/.test(ts)) && original.some((ts) => /\.\d{8}Z$/.test(ts))).toBe(true)
  })
})
