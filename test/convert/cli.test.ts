import {HeadObjectCommand, PutObjectCommand} from '@aws-sdk/client-s3'
import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, ROOT, runCli, runInProcess} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, s3Env, testS3Client, useS3Env} from '../helpers/s3.js'
import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import type {OutputManifest} from '../../src/plugins/core/manifest/manifest.js'
import {type BustimesArchive, downloadOutputs, filesUnder, listKeys, makeBustimesArchive, outputRecords, pythonReading, readJsonObject, uploadDir} from './archive.js'
import {tempDir} from './helpers.js'

const client = testS3Client()
const hasPython = spawnSync('python3', ['--version']).status === 0
let work: string
let archive: string
let made: BustimesArchive

beforeAll(async () => {
  useS3Env()
  work = await tempDir('bw-convert-cli-')
  archive = path.join(work, 'archive')
  made = await makeBustimesArchive(archive)
}, 180_000)

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

async function s3Archive(prefix = 'data/'): Promise<string> {
  const bucket = await createTestBucket('bw-convert')
  await uploadDir(client, archive, bucket, prefix)
  return bucket
}

let local: Promise<{result: ConvertResult; exitCode: number; out: string}> | undefined
/** The archive converted local → local once, for the tests that check or compare with that output. */
function convertLocally(): Promise<{result: ConvertResult; exitCode: number; out: string}> {
  local ??= (async () => {
    const out = path.join(work, 'local-out')
    const run = await runInProcess<ConvertResult>(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(run.error).toBeUndefined()
    return {result: run.result!, exitCode: run.exitCode, out}
  })()
  return local
}

/** How many of two sorted record lists differ, position by position (a diff of 40,000 records is no message). */
function differing(a: string[], b: string[]): number {
  let count = Math.abs(a.length - b.length)
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) count++
  return count
}

describe('convert bustimes: every record, as Python reads it', {timeout: 240_000}, () => {
  it('local → local: two ISO weeks across the repr→JSON cutoff, root-level keys and API envelopes; the --json contract and manifests', async () => {
    const {result, exitCode, out} = await convertLocally()
    expect(exitCode).toBe(0)
    expect(result.buckets.map((bucket) => [bucket.key, bucket.status, bucket.objects])).toEqual([
      ['2021-W44', 'written', 4],
      ['2021-W45', 'written', 122],
    ])
    expect(result.objects).toBe(126)
    expect(result.records).toBe(made.records)
    expect(result.bytesIn).toBe(made.bytes)
    // The --json contract.
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['buckets', 'objects', 'records', 'bytesIn', 'bytesOut', 'seconds']))
    expect(Object.keys(result.buckets[0])).toEqual(expect.arrayContaining(['key', 'status', 'objects', 'records', 'quarantined']))
    expect(result.bytesOut).toBe((await fs.stat(path.join(out, '2021-W44.jsonl.gz'))).size + (await fs.stat(path.join(out, '2021-W45.jsonl.gz'))).size)
    expect((await outputRecords(out)).length).toBe(made.records)
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W45.jsonl.gz.json'), 'utf8')) as OutputManifest
    expect(manifest.tool).toEqual({name: 'bucketwright', version: expect.any(String)})
    expect(manifest.inputs[0]).toEqual({key: 'bustimes__2021-11-08__00-00-00.json', size: expect.any(Number), etag: expect.any(String)})
    expect(manifest.output).toMatchObject({key: '2021-W45.jsonl.gz', md5: expect.stringMatching(/^[0-9a-f]{32}$/), sha256: expect.any(String)})
  })

  it.skipIf(!hasPython)(`local → local: record for record what Python's ast.literal_eval / json.loads read${hasPython ? '' : ' — SKIPPED: no python3 on this machine'}`, async () => {
    const {out} = await convertLocally()
    const [ours, python] = await Promise.all([outputRecords(out), pythonReading(archive, made.keys)])
    expect(python.length).toBe(made.records)
    expect(differing(ours, python)).toBe(0)
    // A record that differs is seen: one changed latitude.
    const changed = [...ours]
    changed[7] = changed[7].replace(/"latitude":(\d)/, (_, digit) => `"latitude":${(Number(digit) + 1) % 10}`)
    expect(differing(changed.sort(), python)).toBeGreaterThan(0)
  })

  it('S3 → S3: the same records as local → local', async () => {
    // At the bucket root, as the real bucket: the legacy keys at its top level.
    const bucket = await s3Archive('')
    const outBucket = await createTestBucket('bw-convert-out')
    const run = await runInProcess<ConvertResult>(['convert', `s3://${bucket}/`, `s3://${outBucket}/v2/`, '--source', 'bustimes', '--json'])
    expect(run.error).toBeUndefined()
    expect(run.result!.records).toBe(made.records)
    expect(run.result!.requests!.get).toBeGreaterThanOrEqual(126)
    const outputs = path.join(work, 's3-out')
    expect(await downloadOutputs(client, outBucket, 'v2/', outputs)).toEqual(['v2/2021-W44.jsonl.gz', 'v2/2021-W45.jsonl.gz'])
    expect(differing(await outputRecords(outputs), await outputRecords((await convertLocally()).out))).toBe(0)
  })
})

describe('convert over S3: resume, crash, shards, dry run', {timeout: 240_000}, () => {
  it('a late object rebuilds its week only; the next run skips everything', async () => {
    const bucket = await s3Archive()
    const args = ['convert', `s3://${bucket}/data/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--json']
    expect((await runInProcess<ConvertResult>(args)).result!.buckets.map((bucket) => bucket.status)).toEqual(['written', 'written'])
    // A late object for Sunday 2021-11-07 (W44), in the repr format of its time.
    const body = await fs.readFile(path.join(archive, 'bustimes__2021-11-07__22-00-00.json'))
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'data/raw/bustimes__2021-11-07__23-59-00.json', Body: body}))
    const second = (await runInProcess<ConvertResult>(args)).result!
    expect(second.buckets.map((bucket) => [bucket.key, bucket.status, bucket.objects])).toEqual([
      ['2021-W44', 'rebuilt', 5],
      ['2021-W45', 'skipped', 122],
    ])
    const manifest = await readJsonObject<OutputManifest>(client, bucket, 'v2/_manifests/2021-W44.jsonl.gz.json')
    expect(manifest.inputs.map((input) => input.key)).toContain('raw/bustimes__2021-11-07__23-59-00.json')
    expect(manifest.counts.records).toBe(second.buckets[0].records)
    const third = (await runInProcess<ConvertResult>(args)).result!
    expect(third.buckets.map((bucket) => bucket.status)).toEqual(['skipped', 'skipped'])
    expect(third.bytesOut).toBe(0)
  })

  it('killed mid-bucket (SIGKILL), a rerun completes with outputs identical to an uninterrupted run', async () => {
    const bucket = await s3Archive()
    const clean = (await runInProcess<ConvertResult>(['convert', `s3://${bucket}/data/`, `s3://${bucket}/clean/`, '--source', 'bustimes', '--json'])).result!
    expect(clean.buckets).toHaveLength(2)
    // Slow the server down so that the big week is surely in flight when the small one is done.
    const proxy = await new FaultProxy(s3Endpoint()).start()
    proxy.latencyMs = 40
    try {
      const args = [BIN, 'convert', `s3://${bucket}/data/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--concurrency', '2', '--json']
      const child = spawn(process.execPath, args, {cwd: ROOT, env: {...process.env, ...s3Env(proxy.endpoint)}, stdio: 'ignore'})
      const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        const done = await client.send(new HeadObjectCommand({Bucket: bucket, Key: 'v2/_manifests/2021-W44.jsonl.gz.json'})).then(
          () => true,
          () => false,
        )
        if (done) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      // W45's GETs are under way: wait until some have gone through the proxy, then kill.
      const before = proxy.count((request) => request.method === 'GET' && request.url.includes('2021-11-09'))
      while (proxy.count((request) => request.method === 'GET' && request.url.includes('2021-11-09')) < before + 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      child.kill('SIGKILL')
      expect(await exited).toBe('SIGKILL')
    } finally {
      await proxy.stop()
    }
    const afterKill = await listKeys(client, bucket, 'v2/')
    expect(afterKill).toContain('v2/2021-W44.jsonl.gz')
    expect(afterKill).not.toContain('v2/2021-W45.jsonl.gz')
    // No manifest for W45: at most the pending marker written before its output (not a manifest).
    if (afterKill.includes('v2/_manifests/2021-W45.jsonl.gz.json')) expect(await readJsonObject(client, bucket, 'v2/_manifests/2021-W45.jsonl.gz.json')).toMatchObject({state: 'pending'})

    const rerun = (await runInProcess<ConvertResult>(['convert', `s3://${bucket}/data/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--json'])).result!
    expect(rerun.buckets.map((bucket) => [bucket.key, bucket.status])).toEqual([
      ['2021-W44', 'skipped'],
      ['2021-W45', 'written'],
    ])
    for (const week of ['2021-W44', '2021-W45']) {
      const a = await readJsonObject<OutputManifest>(client, bucket, `clean/_manifests/${week}.jsonl.gz.json`)
      const b = await readJsonObject<OutputManifest>(client, bucket, `v2/_manifests/${week}.jsonl.gz.json`)
      expect(b.output.sha256).toBe(a.output.sha256)
      expect(b.output.size).toBe(a.output.size)
      expect(b.inputsDigest).toBe(a.inputsDigest)
    }
  })

  it('3 shards run concurrently: every bucket written exactly once', async () => {
    const bucket = await s3Archive()
    const runs = await Promise.all(
      [0, 1, 2].map((index) =>
        runCli(['convert', `s3://${bucket}/data/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--bucket', 'hour', '--shards', '3', '--threads', '1', '--json'], {
          env: {...s3Env(), JOB_COMPLETION_INDEX: String(index)},
        }),
      ),
    )
    const results = runs.map((run) => {
      expect(run.code).toBe(0)
      return JSON.parse(run.stdout) as ConvertResult
    })
    const written = results.flatMap((result) => result.buckets.filter((bucket) => bucket.status === 'written').map((bucket) => bucket.key))
    expect(results.every((result) => result.buckets.length > 0)).toBe(true)
    expect(new Set(written).size).toBe(written.length)
    expect(written).toHaveLength(63) // 126 objects, two an hour
    const outputs = (await listKeys(client, bucket, 'v2/')).filter((key) => !key.includes('_manifests/'))
    expect(outputs.sort()).toEqual(written.map((key) => `v2/${key}.jsonl.gz`).sort())
    expect(results.reduce((sum, result) => sum + result.records, 0)).toBe(results[0].records + results[1].records + results[2].records)
  })

  it('with an endpoint and credentials in the environment, never loads the AWS SDK (its start-up is ~150 ms of CPU); its encoder threads start before oclif loads', async () => {
    const bucket = await s3Archive()
    const hook = path.join(work, 'record-modules.mjs')
    const record = path.join(work, 'modules.json')
    const threads = path.join(work, 'threads.txt')
    await fs.writeFile(
      hook,
      `import {registerHooks} from 'node:module'
      import {isMainThread, threadId} from 'node:worker_threads'
      import fs from 'node:fs'
      if (isMainThread) {
        const loaded = []
        registerHooks({resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r }})
        process.on('exit', () => fs.writeFileSync(process.env.BW_MODULES_FILE, JSON.stringify(loaded)))
      } else {
        fs.appendFileSync(process.env.BW_THREADS_FILE, threadId + '\\n')
      }`,
    )
    const run = await runCli(['convert', `s3://${bucket}/data/`, `s3://${bucket}/lean/`, '--source', 'bustimes', '--json'], {
      env: {...s3Env(), NODE_OPTIONS: `--import ${pathToFileURL(hook).href}`, BW_MODULES_FILE: record, BW_THREADS_FILE: threads},
    })
    expect(run.code).toBe(0)
    expect((JSON.parse(run.stdout) as ConvertResult).buckets.map((b) => b.status)).toEqual(['written', 'written'])
    const loaded = JSON.parse(await fs.readFile(record, 'utf8')) as string[]
    expect(loaded.some((url) => url.endsWith('/storage/s3/fast-s3.js'))).toBe(true)
    expect(loaded.filter((url) => /@aws-sdk\/(client-s3|lib-storage|credential-providers)\//.test(url))).toEqual([])
    // bin/run.js started the threads before loading oclif, and the command took them over: one per core, no more.
    const early = loaded.findIndex((url) => url.endsWith('/convert/encoder-threads.js'))
    expect(early).toBeGreaterThanOrEqual(0)
    expect(early).toBeLessThan(loaded.findIndex((url) => url.includes('/@oclif/core/')))
    expect((await fs.readFile(threads, 'utf8')).trim().split('\n')).toHaveLength(os.availableParallelism())
  })

  it('--dry-run plans buckets, bytes, requests and cost, and writes nothing', async () => {
    const bucket = await s3Archive()
    const run = await runCli(['convert', `s3://${bucket}/data/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--dry-run', '--json'], {env: s3Env()})
    expect(run.code).toBe(0)
    const plan = JSON.parse(run.stdout) as ConvertResult
    expect(plan.dryRun).toBe(true)
    expect(plan.buckets.map((bucket) => [bucket.key, bucket.action, bucket.objects])).toEqual([
      ['2021-W44', 'write', 4],
      ['2021-W45', 'write', 122],
    ])
    expect(plan.bytesIn).toBe(made.bytes)
    expect(plan.requests).toMatchObject({get: 126, put: 6, estimated: true}) // per bucket: the output, its pending marker, its manifest
    expect(plan.requests!.list).toBeGreaterThan(0)
    const r = plan.requests!
    expect(r.cost.total).toBeCloseTo((r.list + r.put) * 0.000005 + (r.get + r.head) * 0.0000004, 6)
    expect(await listKeys(client, bucket, 'v2/')).toEqual([])
    // Each bucket's repr/JSON split, by the cutoff the old converter used (repr up to 2021-11-10 07:15:05).
    const cutoff = Date.UTC(2021, 10, 10, 7, 15, 5)
    const snapshot = (key: string) => {
      const [, day, h, m, s] = /bustimes__(\d{4}-\d{2}-\d{2})__(\d{2})-(\d{2})-(\d{2})/.exec(key)!
      return Date.parse(`${day}T${h}:${m}:${s}Z`)
    }
    const reprKeys = made.keys.filter((key) => snapshot(key) <= cutoff).length
    expect(reprKeys).toBeGreaterThan(4)
    expect(reprKeys).toBeLessThan(made.keys.length)
    const [w44, w45] = plan.buckets
    expect(w44.formats).toEqual({repr: {objects: 4, bytes: w44.bytesIn}})
    expect(w45.formats!.repr.objects).toBe(reprKeys - 4)
    expect(w45.formats!.JSON.objects).toBe(made.keys.length - reprKeys)
    expect(w45.formats!.repr.bytes + w45.formats!.JSON.bytes).toBe(w45.bytesIn)
  })

  it('Parquet by day to S3: DuckDB reads every record back', async () => {
    const bucket = await s3Archive()
    const run = await runInProcess<ConvertResult>([
      'convert',
      `s3://${bucket}/data/`,
      `s3://${bucket}/daily/`,
      '--source',
      'bustimes',
      '--bucket',
      'day',
      '--format',
      'parquet',
      '--from',
      '2021-11-09',
      '--to',
      '2021-11-10',
      '--json',
    ])
    expect(run.result!.buckets.map((bucket) => bucket.output)).toEqual(['2021-11-09.parquet'])
    const dir = path.join(work, 'parquet')
    await downloadOutputs(client, bucket, 'daily/', dir)
    const {openDuckDB} = await import('../../src/plugins/core/duckdb/duckdb.js')
    const db = await openDuckDB({threads: 1})
    try {
      const [row] = await db.query<{n: number; snapshots: number}>(`SELECT count(*)::INTEGER AS n, count(DISTINCT snapshot_time)::INTEGER AS snapshots FROM read_parquet('${path.join(dir, '2021-11-09.parquet')}')`)
      expect(row).toEqual({n: run.result!.records, snapshots: 48})
    } finally {
      await db.close()
    }
  })
})

describe('convert exit codes and output streams (spawned CLI)', {timeout: 240_000}, () => {
  it('quarantines bad objects with exit code 4; --max-bad fails with exit 1', async () => {
    const raw = path.join(work, 'bad')
    await fs.cp(archive, raw, {recursive: true})
    await fs.writeFile(path.join(raw, 'raw', 'bustimes__2021-11-09__12-00-00.json'), '')
    const body = await fs.readFile(path.join(raw, 'raw', 'bustimes__2021-11-09__13-00-00.json'))
    await fs.writeFile(path.join(raw, 'raw', 'bustimes__2021-11-09__13-00-00.json'), body.subarray(0, body.length / 2))
    await fs.writeFile(path.join(raw, 'raw', 'bustimes__2021-11-09__14-00-00.json'), '<html>Service Unavailable</html>')
    const run = await runCli(['convert', raw, path.join(work, 'bad-out'), '--source', 'bustimes', '--json'])
    expect(run.code).toBe(4)
    const result = JSON.parse(run.stdout) as ConvertResult
    expect(result.quarantined).toBe(3)
    const quarantined = result.buckets[1].quarantined
    expect(quarantined.map((entry) => entry.key)).toEqual(['raw/bustimes__2021-11-09__12-00-00.json', 'raw/bustimes__2021-11-09__13-00-00.json', 'raw/bustimes__2021-11-09__14-00-00.json'])
    expect(quarantined[0].reason).toMatch(/^empty/)
    expect(quarantined[1].reason).toMatch(/^truncated/)
    expect(quarantined[2].reason).toMatch(/^undecodable/)
    const manifest = JSON.parse(await fs.readFile(path.join(work, 'bad-out', '_manifests', '2021-W45.jsonl.gz.json'), 'utf8')) as OutputManifest
    expect(manifest.quarantined).toEqual(quarantined)

    const strict = await runCli(['convert', raw, path.join(work, 'bad-strict'), '--source', 'bustimes', '--max-bad', '2', '--json'])
    expect(strict.code).toBe(1)
    expect(JSON.parse(strict.stdout).error).toMatchObject({code: 'TOO_MANY_BAD'})
    // W44 was complete before the failure; W45 was not written.
    expect(await filesUnder(path.join(work, 'bad-strict'))).toEqual(['2021-W44.jsonl.gz', '_manifests/2021-W44.jsonl.gz.json'])
  })

  it('without --json: the summary on stdout, timestamped progress lines on stderr', async () => {
    const run = await runCli(['convert', archive, path.join(work, 'plain-out'), '--source', 'bustimes', '--from', '2021-11-07', '--to', '2021-11-08'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^2021-W44\.jsonl\.gz\s+written: 4 objects, \d+ records/m)
    expect(run.stdout).toMatch(/^Total: 1 bucket \(1 written\), 4 objects, \d+ records, .* s \(\d+ records\/s encoded\)$/m)
    expect(run.stderr).toMatch(/\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] .*2021-W44/)
    expect(run.stderr).toMatch(/Listing: 4 keys found so far/)
    // Nothing encoded on the rerun: no rate made of the skipped bucket's records.
    const rerun = await runCli(['convert', archive, path.join(work, 'plain-out'), '--source', 'bustimes', '--from', '2021-11-07', '--to', '2021-11-08'])
    expect(rerun.stdout).toMatch(/^2021-W44\.jsonl\.gz\s+skipped \(up-to-date\)/m)
    expect(rerun.stdout).toMatch(/^Total: 1 bucket \(1 skipped\), 4 objects, \d+ records, .* quarantined, [\d.]+ s$/m)
  })
})
