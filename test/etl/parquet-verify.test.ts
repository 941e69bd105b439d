import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {coinbaseSource} from '../../src/plugins/coinbase/index.js'
import {channelTables} from '../../src/plugins/core/etl/columns.js'
import {type DecodedSegment, discardStaged} from '../../src/plugins/core/etl/decode-segment.js'
import {ParquetSink} from '../../src/plugins/core/etl/parquet-sink.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {advancedTradeFrames, putSegments} from './fixtures.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-verify-'))
afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

/**
 * The Parquet sink reads every staged file's footer back before anything is uploaded: a row count that does not add
 * up, or a file that is not whole Parquet, fails the segment and uploads nothing.
 */
describe('Parquet sink: outputs counted back before upload', {timeout: 120_000}, () => {
  const source = coinbaseSource()
  const tables = channelTables(source)
  const raw = new LocalStorage(root)

  async function decoded(name: string, sink: ParquetSink): Promise<DecodedSegment> {
    await putSegments({dir: root}, {[name]: advancedTradeFrames().join('\n') + '\n'})
    const segment = await sink.decodeFast(raw, `raw/ready/coinbase/${name}`, source, tables, root, {})
    expect(segment).toBeDefined()
    return segment!
  }

  function parquetFiles(dir: string): string[] {
    return fs
      .readdirSync(dir, {recursive: true, withFileTypes: true})
      .filter((entry) => entry.name.endsWith('.parquet'))
      .map((entry) => path.join(entry.parentPath, entry.name))
  }

  it('uploads every file with the footer row counts when they add up', async () => {
    const out = path.join(root, 'ok')
    const sink = new ParquetSink({output: new LocalStorage(out), source: 'coinbase', toolVersion: 'test', tempRoot: root})
    const segment = await decoded('segment_20260809T21_0.ndjson', sink)
    const result = await sink.load(segment)
    await discardStaged(segment)
    await sink.close()
    for (const channel of segment.channels) expect(result.outputs!.filter((output) => output.channel === channel.table.channel).reduce((sum, output) => sum + output.rows, 0)).toBe(channel.rows)
    expect(parquetFiles(out).length).toBe(result.outputs!.length)
  })

  it('refuses a segment whose files hold fewer rows than were decoded, uploading nothing', async () => {
    const out = path.join(root, 'short')
    const sink = new ParquetSink({output: new LocalStorage(out), source: 'coinbase', toolVersion: 'test', tempRoot: root})
    const segment = await decoded('segment_20260809T21_1.ndjson', sink)
    const level2 = segment.channels.find((channel) => channel.table.channel === 'level2')!
    level2.rows += 1
    await expect(sink.load(segment)).rejects.toMatchObject({code: 'ETL_COUNT_MISMATCH', details: {channel: 'level2', expected: level2.rows, written: level2.rows - 1}})
    await discardStaged(segment)
    await sink.close()
    expect(fs.existsSync(out) ? parquetFiles(out) : []).toEqual([])
  })

  it('refuses a segment with a staged file that is not whole Parquet', async () => {
    const out = path.join(root, 'torn')
    const sink = new ParquetSink({output: new LocalStorage(out), source: 'coinbase', toolVersion: 'test', tempRoot: root})
    const segment = await decoded('segment_20260809T21_2.ndjson', sink)
    const [file] = parquetFiles(segment.channels.find((channel) => channel.table.channel === 'ticker')!.parquetDir!)
    fs.truncateSync(file, fs.statSync(file).size - 10)
    await expect(sink.load(segment)).rejects.toThrow()
    await discardStaged(segment)
    await sink.close()
    expect(fs.existsSync(out) ? parquetFiles(out) : []).toEqual([])
  })
})
