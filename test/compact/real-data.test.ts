import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type CompactResult} from '../../src/plugins/core/compact/result.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {advancedTradeFrames, wydotBsmV1, wydotBsmV3, wydotBsmV6Pretty} from '../fixtures/generated.js'
import {runInProcess} from '../helpers/cli.js'
import {columnTypes, daysAgo, keysOf, query, removeTempDirs, rowDifference, tempDir} from './fixtures.js'

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

/** Records in the shapes of the real samples (generated where those may not be vendored; see test/fixtures/README.md). */
describe('compact on records shaped like the real ones', () => {
  it('WYDOT BSM records of three schema versions (deeply nested, UUIDs, empty objects) merge losslessly', async () => {
    const dir = `wydot/BSM/date=${daysAgo(4)}/`
    const samples = {'wydot-filtered-bsm-v1.json': await wydotBsmV1(), 'wydot-filtered-bsm-v3.json': await wydotBsmV3(), 'wydot-filtered-bsm-v6.json': await wydotBsmV6Pretty()}
    const originals: string[] = []
    for (const [name, text] of Object.entries(samples)) {
      // Each record on one line: NDJSON segments as the ingester writes them.
      const record = JSON.stringify(JSON.parse(text))
      for (let copy = 0; copy < 3; copy++) {
        await storage.write(`${dir}${name.replace('.json', `-${copy}.ndjson`)}`, `${record}\n${record}\n`)
        originals.push(path.join(root, `${dir}${name.replace('.json', `-${copy}.ndjson`)}`))
      }
    }
    const snapshot = await tempDir('bw-real-snap-')
    const copies = await Promise.all(
      originals.map(async (file) => {
        const to = path.join(snapshot, path.basename(file))
        await fs.copyFile(file, to)
        return to
      }),
    )
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
    const lines = await advancedTradeFrames()
    const segments: string[] = []
    for (let start = 0, index = 0; start < lines.length; start += 150, index++) {
      const key = `${dir}segment_${index}.ndjson`
      await storage.write(key, lines.slice(start, start + 150).join('\n') + '\n')
      segments.push(storage.pathOf(key))
    }
    const snapshot = await tempDir('bw-real-snap-')
    const copies = await Promise.all(
      segments.map(async (file) => {
        const to = path.join(snapshot, path.basename(file))
        await fs.copyFile(file, to)
        return to
      }),
    )
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
