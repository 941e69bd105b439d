import {createHash} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {runCli} from '../helpers/cli.js'
import {createTestBucket, s3Env, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'
import {keysOf, localCopies, query, relationOf, removeTempDirs} from '../compact/fixtures.js'

const MiB = 1024 * 1024
/** S3Storage's part size: an output above it goes up as a multipart upload. */
const PART_SIZE = 8 * MiB

/** Every object under a prefix with its ETag and size: what a rerun must leave as it found it. */
async function snapshot(storage: Storage, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for await (const info of storage.list(prefix)) out.push(`${info.key} ${info.size} ${info.etag}`)
  return out
}

/** Rows per channel of the Parquet files under `prefix` (etl's layout `processed/<source>/<channel>/…`), read back. */
async function rowsByChannel(storage: Storage, prefix: string): Promise<Record<string, number>> {
  const keys = (await keysOf(storage, prefix)).filter((key) => key.endsWith('.parquet'))
  const counts: Record<string, number> = {}
  const files = await localCopies(storage, keys)
  for (const [index, key] of keys.entries()) {
    const channel = key.slice(prefix.length).split('/')[0]
    const [row] = await query<{n: string}>(`SELECT count(*) AS n FROM ${relationOf([files[index]])}`)
    counts[channel] = (counts[channel] ?? 0) + Number(row.n)
  }
  return counts
}

// Each command end to end on each S3 implementation of the suite: fauxqs answers as S3 does; s3rver checks the access
// key, answers a multipart upload with the whole object's MD5 and decodes copy sources its own way. Every output is
// read back, and a rerun must do nothing and change nothing.
describe.each(s3Servers())('commands end to end on $name', ({name, endpoint}) => {
  const env = s3Env(endpoint)
  const json = async (args: string[]) => {
    const run = await runCli([...args, '--json'], {env, timeoutMs: 240_000})
    let body: any
    try {
      body = JSON.parse(run.stdout)
    } catch {
      body = undefined
    }
    return {code: run.code, body, stderr: run.stderr}
  }
  let bucket: string
  let storage: Storage

  beforeAll(async () => {
    useS3Env(endpoint)
    bucket = await createTestBucket(`bw-e2e-${name}`, testS3Client(endpoint))
    storage = await openStorage(`s3://${bucket}/`, {endpoint})
  })

  afterAll(async () => {
    await storage.close()
    await removeTempDirs()
  })

  it('convert: S3 to S3 with a multipart-sized output, verified, read back; a rerun writes nothing', async () => {
    const generated = await json(['generate', `s3://${bucket}/wydot/`, '--source', 'wydot-bsm', '--from', '2019-03-04T00', '--to', '2019-03-04T02', '--rate', '3000', '--seed', '5'])
    expect(generated.code, generated.stderr).toBe(0)
    expect(generated.body).toMatchObject({objects: 24, records: 6000})
    const args = ['convert', `s3://${bucket}/wydot/`, `s3://${bucket}/wydot-out/`, '--source', 'wydot-bsm', '--bucket', 'day', '--compression', 'none']
    const converted = await json(args)
    expect(converted.code, converted.stderr).toBe(0)
    expect(converted.body).toMatchObject({objects: 24, records: 6000, quarantined: 0})
    expect(converted.body.buckets).toMatchObject([{output: '2019-03-04.jsonl', status: 'written', records: 6000}])
    expect(converted.body.bytesOut).toBeGreaterThan(PART_SIZE)

    const output = await storage.readBytes('wydot-out/2019-03-04.jsonl')
    expect(output.length).toBe(converted.body.bytesOut)
    expect(output.toString().trimEnd().split('\n')).toHaveLength(6000)
    const manifest = JSON.parse((await storage.readBytes('wydot-out/_manifests/2019-03-04.jsonl.json')).toString())
    const md5 = createHash('md5').update(output).digest('hex')
    expect(manifest.output).toMatchObject({key: '2019-03-04.jsonl', size: output.length, md5, sha256: createHash('sha256').update(output).digest('base64')})
    expect(manifest.inputs).toHaveLength(24)
    // The ETag the manifest recorded is the stored object's: S3's multipart form on fauxqs, the whole MD5 on s3rver.
    const head = await storage.head('wydot-out/2019-03-04.jsonl')
    expect(manifest.output.etag).toBe(head?.etag)
    expect(head?.etag).toMatch(name === 's3rver' ? new RegExp(`^${md5}$`) : /^[0-9a-f]{32}-2$/)

    const verified = await json(['verify', `s3://${bucket}/wydot-out/`, '--source', 'wydot-bsm', '--raw', `s3://${bucket}/wydot/`])
    expect(verified.code, JSON.stringify(verified.body?.checks ?? verified.stderr)).toBe(0)

    const before = await snapshot(storage)
    const again = await json(args)
    expect(again.code, again.stderr).toBe(0)
    expect(again.body.buckets).toMatchObject([{status: 'skipped', reason: 'up-to-date'}])
    expect(again.body.bytesOut).toBe(0)
    expect(await snapshot(storage)).toEqual(before)
  })

  // etl loads segments from S3 into Parquet on S3; compact then merges that lake's Hive partitions in place.
  const loaded: Record<string, number> = {}

  it('etl: segments from S3 into Parquet on S3, each segment once, read back; a rerun loads nothing', async () => {
    const generated = await json(['generate', `s3://${bucket}/coinbase/`, '--source', 'coinbase', '--from', '2025-12-03T10:00', '--to', '2025-12-03T10:20', '--seed', '3'])
    expect(generated.code, generated.stderr).toBe(0)
    const segments = await keysOf(storage, 'coinbase/raw/ready/')
    expect(segments.length).toBe(generated.body.objects)
    expect(segments.length).toBeGreaterThanOrEqual(2)

    const args = ['etl', `s3://${bucket}/coinbase/`, '--to', `s3://${bucket}/lake/`, '--source', 'coinbase']
    const run = await json(args)
    expect(run.code, run.stderr).toBe(0)
    expect(run.body.totals).toMatchObject({segments: segments.length, failed: 0, quarantined: 0})
    for (const segment of run.body.segments) for (const [channel, records] of Object.entries(segment.records as Record<string, number>)) loaded[channel] = (loaded[channel] ?? 0) + records
    expect(Object.values(loaded).reduce((a, b) => a + b, 0)).toBe(run.body.totals.records)

    // No segment is left waiting or half-claimed.
    expect(await keysOf(storage, 'coinbase/raw/ready/')).toEqual([])
    expect(await keysOf(storage, 'coinbase/raw/processing/')).toEqual([])
    // Every output has its manifest, and the rows read back are the records loaded, channel by channel.
    const outputs = (await keysOf(storage, 'lake/processed/')).filter((key) => key.endsWith('.parquet'))
    expect(outputs.length).toBe(run.body.segments.reduce((n: number, segment: {outputs: unknown[]}) => n + segment.outputs.length, 0))
    const manifests = new Set(await keysOf(storage, 'lake/_manifests/'))
    expect(outputs.filter((key) => !manifests.has(`lake/_manifests/${key.slice('lake/'.length)}.json`))).toEqual([])
    expect(await rowsByChannel(storage, 'lake/processed/coinbase/')).toEqual(loaded)

    const before = await snapshot(storage)
    const again = await json(args)
    expect(again.code, again.stderr).toBe(0)
    expect(again.body.totals).toMatchObject({segments: 0, records: 0})
    expect(await snapshot(storage)).toEqual(before)
  })

  it("compact: the lake's partitions merged in place on S3, no row lost or doubled, read back; a rerun changes nothing", async () => {
    expect(Object.keys(loaded).length).toBeGreaterThan(0)
    const partitionsBefore = new Map<string, number>()
    for (const key of await keysOf(storage, 'lake/processed/')) {
      const partition = key.slice(0, key.lastIndexOf('/') + 1)
      partitionsBefore.set(partition, (partitionsBefore.get(partition) ?? 0) + 1)
    }
    const run = await json(['compact', `s3://${bucket}/lake/`])
    expect(run.code, run.stderr).toBe(0)
    const compacted = run.body.partitions.filter((entry: {status: string}) => entry.status === 'compacted')
    expect(compacted.length).toBe([...partitionsBefore.values()].filter((files) => files >= 2).length)
    expect(compacted.length).toBeGreaterThan(0)
    for (const entry of compacted) expect(entry.deleted).toBe(partitionsBefore.get(`lake/${entry.partition}`))

    // One compacted file per merged partition, with its manifests; the rows read back are the rows etl loaded.
    for (const entry of compacted) {
      const left = await keysOf(storage, `lake/${entry.partition}`)
      expect(left).toEqual([expect.stringMatching(/part-compacted-[0-9a-f]{16}\.parquet$/)])
      expect(await storage.head(`lake/_manifests/${left[0].slice('lake/'.length)}.json`)).toBeDefined()
    }
    expect(await rowsByChannel(storage, 'lake/processed/coinbase/')).toEqual(loaded)

    const before = await snapshot(storage)
    const again = await json(['compact', `s3://${bucket}/lake/`])
    expect(again.code, again.stderr).toBe(0)
    expect(again.body.partitions.filter((entry: {status: string}) => entry.status === 'compacted')).toEqual([])
    expect(await snapshot(storage)).toEqual(before)
  })
})
