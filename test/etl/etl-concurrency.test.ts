import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import type {EtlResult} from '../../src/commands/etl.js'
import {coinbaseSource} from '../../src/plugins/coinbase/index.js'
import {type DataSource, type RawObjectRef, type Storage} from '../../src/plugins/core/index.js'
import {openDuckDB} from '../../src/plugins/core/duckdb/duckdb.js'
import {type ChannelTable} from '../../src/plugins/core/etl/columns.js'
import {type DecodedSegment} from '../../src/plugins/core/etl/decode-segment.js'
import {runEtlPass} from '../../src/plugins/core/etl/etl.js'
import {ParquetSink} from '../../src/plugins/core/etl/parquet-sink.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {advancedTradeFrames, cut, exchangeFrames, expectedCounts, parquetCounts, putSegments, replicatedAdvancedFrames} from './fixtures.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-conc-'))
afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

/**
 * Nine segments: six of Advanced Trade frames (DuckDB decodes them), two of the Exchange feed and one Advanced
 * Trade segment with a line that is not JSON (both go through the line decoder) — so segments of both paths are in
 * work at the same time.
 */
function segments(): Record<string, string> {
  const advanced = cut(replicatedAdvancedFrames(6, 300), 6)
  const [e0, e1] = cut(exchangeFrames(), 2)
  const bad = advancedTradeFrames().slice(0, 200)
  bad.splice(50, 0, '{"channel":"l2_data",')
  return {
    ...Object.fromEntries(advanced.map((body, i) => [`segment_20260811T0${i}_0.ndjson`, body])),
    'segment_20210417T16_0.ndjson': e0,
    'segment_20210417T16_1.ndjson': e1,
    'segment_20260811T09_0.ndjson': bad.join('\n') + '\n',
  }
}

/** SQL for every Parquet row under `dir` with the file it is in, for comparing two runs' outputs row for row. */
function rowsByFile(dir: string, channel: string): string {
  const glob = path.join(dir, 'processed', 'coinbase', channel, '**', '*.parquet')
  return `SELECT * EXCLUDE (filename), substr(filename, ${dir.length + 1}) AS file FROM read_parquet('${glob}', hive_partitioning = true, filename = true)`
}

describe('etl --concurrency', {timeout: 240_000}, () => {
  const bodies = segments()
  const names = Object.keys(bodies).sort((a, b) => a.localeCompare(b))
  const good = Object.values(bodies).flatMap((body) => body.split('\n').filter(Boolean))

  it('processes every segment once and writes the same files and rows with 1 or 4 segments in work', async () => {
    const runs: Record<number, {dir: string; result: EtlResult}> = {}
    for (const concurrency of [1, 4]) {
      const dir = path.join(root, `c${concurrency}`)
      await putSegments({dir}, bodies)
      const run = await runInProcess<EtlResult>(['etl', dir, '--source', 'coinbase', '--to', dir, '--concurrency', String(concurrency), '--json'])
      expect(run.exitCode, run.stderr).toBe(4)
      runs[concurrency] = {dir, result: run.result!}
      // Each segment once, in order, done; nothing left to claim.
      expect(run.result!.segments.map((segment) => [segment.segment, segment.status])).toEqual(names.map((name) => [name, 'done']))
      expect(fs.readdirSync(path.join(dir, 'raw/ready/coinbase'))).toEqual([])
      expect(fs.readdirSync(path.join(dir, 'raw/processing/coinbase'))).toEqual([])
      expect(run.result!.totals.quarantined).toBe(1)
    }
    const outputs = (result: EtlResult) => result.segments.flatMap((segment) => segment.outputs!.map(({key, rows}) => ({key, rows}))).sort((a, b) => a.key.localeCompare(b.key))
    expect(outputs(runs[4].result)).toEqual(outputs(runs[1].result))
    expect(runs[4].result.segments.map((segment) => segment.records)).toEqual(runs[1].result.segments.map((segment) => segment.records))

    const expected = expectedCounts(good)
    const counts = await parquetCounts(runs[4].dir)
    expect(Object.fromEntries(Object.entries(counts).map(([channel, {rows, distinct}]) => [channel, [rows, distinct]]))).toEqual(Object.fromEntries(Object.entries(expected).map(([channel, n]) => [channel, [n, n]])))

    const db = await openDuckDB({threads: 1})
    try {
      for (const channel of ['ticker', 'level2', 'market_trades']) {
        const [a, b] = [rowsByFile(runs[1].dir, channel), rowsByFile(runs[4].dir, channel)]
        const [diff] = await db.query<{only1: number; only4: number}>(`SELECT (SELECT count(*) FROM (${a} EXCEPT ALL ${b}))::INT AS only1, (SELECT count(*) FROM (${b} EXCEPT ALL ${a}))::INT AS only4`)
        expect({channel, ...diff}).toEqual({channel, only1: 0, only4: 0})
      }
    } finally {
      await db.close()
    }
  })

  it('keeps at most --concurrency segments in work, and more than one when allowed', async () => {
    /** A ParquetSink that records how many segments DuckDB decodes at once. */
    class CountingSink extends ParquetSink {
      inFlight = 0
      maxInFlight = 0
      override async decodeFast(raw: Storage, key: string, source: DataSource, tables: ChannelTable[], tempRoot: string, object: Omit<RawObjectRef, 'key'>): Promise<DecodedSegment | undefined> {
        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight)
        try {
          return await super.decodeFast(raw, key, source, tables, tempRoot, object)
        } finally {
          this.inFlight--
        }
      }
    }
    const many = Object.fromEntries(cut(replicatedAdvancedFrames(8, 400), 8).map((body, i) => [`segment_20260812T0${i}_0.ndjson`, body]))
    for (const concurrency of [1, 3]) {
      const dir = path.join(root, `bound${concurrency}`)
      await putSegments({dir}, many)
      const sink = new CountingSink({output: new LocalStorage(dir), source: 'coinbase', toolVersion: 'test', tempRoot: root, concurrency})
      expect(sink.decodeAhead).toBe(concurrency)
      const results = await runEtlPass({raw: new LocalStorage(dir), source: coinbaseSource(), sink, staleAfterMs: 600_000})
      await sink.close()
      expect(results.map((result) => result.status)).toEqual(Object.keys(many).map(() => 'done'))
      if (concurrency === 1) expect(sink.maxInFlight).toBe(1)
      else {
        expect(sink.maxInFlight).toBeGreaterThan(1)
        expect(sink.maxInFlight).toBeLessThanOrEqual(concurrency)
      }
    }
  })

  it('leaves no DuckDB spill or staging directory behind, though segments start at once', async () => {
    // The segments in work all ask for the sink's DuckDB at the start; it must be opened (and closed) once.
    const dir = path.join(root, 'temp-check')
    const tmp = path.join(root, 'tmp-of-run')
    fs.mkdirSync(tmp, {recursive: true})
    await putSegments({dir}, Object.fromEntries(cut(replicatedAdvancedFrames(4, 500), 4).map((body, i) => [`segment_20260813T0${i}_0.ndjson`, body])))
    const run = await runCli(['etl', dir, '--source', 'coinbase', '--to', dir, '--concurrency', '4', '--json'], {env: {TMPDIR: tmp}})
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout).totals.segments).toBe(4)
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('bw-'))).toEqual([])
  })

  it('refuses --concurrency 0 as a usage error before claiming anything', async () => {
    const dir = path.join(root, 'usage')
    await putSegments({dir}, {'segment_20260814T00_0.ndjson': advancedTradeFrames().slice(0, 20).join('\n') + '\n'})
    const run = await runInProcess<EtlResult>(['etl', dir, '--source', 'coinbase', '--to', dir, '--concurrency', '0'])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toMatch(/concurrency/)
    expect(fs.readdirSync(path.join(dir, 'raw/ready/coinbase'))).toEqual(['segment_20260814T00_0.ndjson'])
  })
})
