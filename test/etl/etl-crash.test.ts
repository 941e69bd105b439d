import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, ROOT, runCli} from '../helpers/cli.js'
import {startPostgres} from '../helpers/postgres.js'
import {createTestBucket, s3Env} from '../helpers/s3.js'
import {cut, download, expectedCounts, parquetCounts, putSegments, replicatedAdvancedFrames, s3Keys} from './fixtures.js'

/**
 * Starts the built CLI and SIGKILLs it once `ready()` holds (polled), i.e. while it is inside a segment. A killed
 * process cannot remove its staging and DuckDB spill folders: it gets a TMPDIR of its own, `tmp`, for the caller
 * to remove.
 */
async function killWhen(args: string[], ready: () => boolean | Promise<boolean>, tmp: string, env: Record<string, string> = {}): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT, env: {...process.env, TMPDIR: tmp, ...env}, stdio: 'ignore'})
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && child.exitCode === null && !(await ready())) await new Promise((resolve) => setTimeout(resolve, 10))
  child.kill('SIGKILL')
  await exited
}

function listDir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : []
}

// Heavy suites (several CLI runs, real Postgres): generous timeouts for a shared, loaded machine.
describe('etl survives a crash mid-segment and runs side by side with another etl', {timeout: 240_000}, () => {
  let server: {url: string; stop: () => Promise<void>}
  let client: pg.Client
  const temp: string[] = []
  const mkdtemp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-crash-'))
    temp.push(dir)
    return dir
  }
  // Four segments of about 3 MB of real frames each.
  const lines = replicatedAdvancedFrames(16)
  const bodies = Object.fromEntries(cut(lines, 4).map((body, i) => [`segment_20260809T21_${i}.ndjson`, body]))
  const expected = expectedCounts(lines)

  async function tableCounts(schema: string): Promise<Record<string, {rows: number; distinct: number}>> {
    const out: Record<string, {rows: number; distinct: number}> = {}
    const keys = {ticker: 'product_id, sequence, time', level2: 'product_id, sequence, time, side, price_level', market_trades: 'product_id, trade_id'}
    for (const [channel, key] of Object.entries(keys)) {
      const {rows} = await client.query(`SELECT count(*)::int AS rows, count(DISTINCT (${key}))::int AS distinct FROM "${schema}"."coinbase_${channel}"`)
      out[channel] = rows[0]
    }
    return out
  }
  const exactly = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).map(([channel, n]) => [channel, {rows: n, distinct: n}]))

  beforeAll(async () => {
    server = await startPostgres()
    client = new pg.Client({connectionString: server.url})
    await client.connect()
  })
  afterAll(async () => {
    await client?.end()
    await server?.stop()
    for (const dir of temp) fs.rmSync(dir, {recursive: true, force: true})
  })

  it('Parquet: SIGKILL while writing a segment, then a rerun completes it with no loss and no duplicate', async () => {
    const root = mkdtemp()
    await putSegments({dir: root}, bodies)
    const processing = path.join(root, 'raw/processing/coinbase')
    // Killed once the second segment's first outputs (ticker) are written and the rest are not: mid-segment.
    const tickerDir = path.join(root, 'processed/coinbase/ticker')
    const written = () => fs.existsSync(tickerDir) && (fs.readdirSync(tickerDir, {recursive: true}) as string[]).some((name) => path.basename(name) === 'part_segment_20260809T21_1.parquet')
    await killWhen(['etl', root, '--source', 'coinbase', '--to', root], written, mkdtemp())
    expect(
      listDir(path.join(root, 'processed/coinbase/market_trades')).length > 0 &&
        (fs.readdirSync(path.join(root, 'processed/coinbase/market_trades'), {recursive: true}) as string[]).some((name) => name.endsWith('part_segment_20260809T21_1.parquet')),
    ).toBe(false)
    // Segment 1 was in hand; segments 2 and 3 may have been claimed already (decoded while 1 is written).
    expect(listDir(processing)).toContain('segment_20260809T21_1.ndjson')
    expect(listDir(processing).every((name) => ['segment_20260809T21_1.ndjson', 'segment_20260809T21_2.ndjson', 'segment_20260809T21_3.ndjson'].includes(name))).toBe(true)
    const rerun = await runCli(['etl', root, '--source', 'coinbase', '--to', root, '--stale-after', '0s', '--json'])
    expect(rerun.code).toBe(0)
    expect(JSON.parse(rerun.stdout).segments.map((segment: {segment: string}) => segment.segment)).toEqual(Object.keys(bodies).slice(1))
    expect(listDir(processing)).toEqual([])
    expect(await parquetCounts(root)).toEqual(exactly(expected))
  })

  it('Postgres: SIGKILL during a load rolls that segment back; the rerun loads it once', async () => {
    const root = mkdtemp()
    await putSegments({dir: root}, bodies)
    const url = server.url
    const args = ['etl', root, '--source', 'coinbase', '--to', url, '--pg-schema', 'crash']
    // Killed while a COPY of the segment is running (seen in pg_stat_activity).
    await killWhen(args, async () => (await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY %FROM STDIN%' AND state = 'active'")).rows[0].n > 0, mkdtemp())
    expect(listDir(path.join(root, 'raw/processing/coinbase')).length).toBeGreaterThanOrEqual(1)
    const rerun = await runCli([...args, '--stale-after', '0s', '--json'])
    expect(rerun.code).toBe(0)
    expect(await tableCounts('crash')).toEqual(exactly(expected))
    const ledger = await client.query('SELECT segment FROM crash.bucketwright_etl_ledger ORDER BY segment')
    expect(ledger.rows.map((row) => row.segment)).toEqual(Object.keys(bodies))
  })

  it('a live claim is not taken by another run before it is stale', async () => {
    const root = mkdtemp()
    await putSegments({dir: root}, {'segment_20260809T21_0.ndjson': bodies['segment_20260809T21_0.ndjson']})
    fs.mkdirSync(path.join(root, 'raw/processing/coinbase'), {recursive: true})
    fs.renameSync(path.join(root, 'raw/ready/coinbase/segment_20260809T21_0.ndjson'), path.join(root, 'raw/processing/coinbase/segment_20260809T21_0.ndjson'))
    const run = await runCli(['etl', root, '--source', 'coinbase', '--to', root, '--stale-after', '10m', '--json'])
    expect(JSON.parse(run.stdout).segments).toEqual([])
    expect(listDir(path.join(root, 'raw/processing/coinbase'))).toEqual(['segment_20260809T21_0.ndjson'])
  })

  describe.each(['local', 's3'] as const)('two etl processes on one %s ready/ prefix', (kind) => {
    it("write every segment's rows exactly once to Parquet and to Postgres", async () => {
      const root = mkdtemp()
      let raw = root
      let env: Record<string, string> = {}
      let bucket = ''
      const many = Object.fromEntries(cut(replicatedAdvancedFrames(8, 100), 8).map((body, i) => [`segment_20260810T0${i}_0.ndjson`, body]))
      const manyExpected = expectedCounts(Object.values(many).flatMap((body) => body.split('\n').filter(Boolean)))
      if (kind === 's3') {
        bucket = await createTestBucket('bw-etl-two')
        raw = `s3://${bucket}/`
        env = s3Env()
      }
      // Parquet: both processes on the same ready/ prefix, writing to the same output.
      await putSegments(kind === 's3' ? {bucket} : {dir: root}, many)
      const parquet = await Promise.all([0, 1].map(() => runCli(['etl', raw, '--source', 'coinbase', '--to', raw, '--json'], {env})))
      for (const run of parquet) expect(run.code, run.stderr).toBe(0)
      const done = parquet.flatMap((run) =>
        JSON.parse(run.stdout)
          .segments.filter((segment: {status: string}) => segment.status === 'done')
          .map((segment: {segment: string}) => segment.segment),
      )
      expect(new Set(done)).toEqual(new Set(Object.keys(many)))
      const outDir = kind === 's3' ? mkdtemp() : root
      if (kind === 's3') {
        await download(bucket, 'processed/', outDir)
        expect(await s3Keys(bucket, 'raw/ready/')).toEqual([])
        expect(await s3Keys(bucket, 'raw/processing/')).toEqual([])
      }
      expect(await parquetCounts(outDir)).toEqual(exactly(manyExpected))
      // Postgres: the same segments again, both processes loading into one schema.
      await putSegments(kind === 's3' ? {bucket} : {dir: root}, many)
      const schema = `two_${kind}`
      const loads = await Promise.all([0, 1].map(() => runCli(['etl', raw, '--source', 'coinbase', '--to', server.url, '--pg-schema', schema, '--json'], {env})))
      for (const run of loads) expect(run.code, run.stderr).toBe(0)
      expect(await tableCounts(schema)).toEqual(exactly(manyExpected))
      const ledger = await client.query(`SELECT segment, count(*)::int AS n FROM ${schema}.bucketwright_etl_ledger GROUP BY segment ORDER BY segment`)
      expect(ledger.rows).toEqual(Object.keys(many).map((segment) => ({segment, n: 1})))
    })
  })
})
