/**
 * A crash between convert's output and its manifest must not make our own output look made by another tool: the
 * rerun finishes the job (rebuilds it, ends with exit 0 and a manifest), while a true foreign output (no manifest, no
 * pending marker) is still left alone. The crash is a SIGKILL from the test hook (compact/faults.ts) on the real binary.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import type {VerifyResult} from '../../src/plugins/core/verify/result.js'
import {runCli} from '../helpers/cli.js'
import {createTestBucket, s3Env, s3Servers, testS3Client} from '../helpers/s3.js'
import {listKeys, makeBustimesArchive, readJsonObject, uploadDir} from './archive.js'
import {tempDir} from './helpers.js'

const CRASH = {BUCKETWRIGHT_TEST_CRASH_AT: 'convert-after-output'}
let work: string
let archive: string
/** A clean run's outputs, to compare the rebuilt ones with. */
let clean: string

beforeAll(async () => {
  work = await tempDir('bw-convert-crash-')
  archive = path.join(work, 'archive')
  // 2021-W44 and 2021-W45: two buckets, so the crash lands after the first one's output.
  await makeBustimesArchive(archive, {count: 40, every: 7200})
  clean = path.join(work, 'clean')
  const run = await runCli(['convert', archive, clean, '--source', 'bustimes'])
  if (run.code !== 0) throw new Error(run.stderr)
}, 120_000)

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

const gunzip = async (file: string) => zlib.gunzipSync(await fs.readFile(file)).toString('utf8')
const readLocal = async (out: string, key: string) => JSON.parse(await fs.readFile(path.join(out, '_manifests', `${key}.json`), 'utf8')) as {state?: string; output: {key: string; size?: number}}
const statuses = (result: ConvertResult) => result.buckets.map((bucket) => [bucket.key, bucket.status, bucket.reason])

describe('convert: a crash between an output and its manifest (local)', {timeout: 180_000}, () => {
  it('the rerun rebuilds the interrupted output and ends with exit 0, every manifest, no marker left', async () => {
    const out = path.join(work, 'crashed')
    const crashed = await runCli(['convert', archive, out, '--source', 'bustimes', '--json'], {env: CRASH})
    expect(crashed.code).not.toBe(0)
    // The state the hole was about: the output is there, its manifest is not — only our pending marker in its place.
    expect((await fs.readdir(out)).sort()).toEqual(['2021-W44.jsonl.gz', '_manifests'])
    expect(await fs.readdir(path.join(out, '_manifests'))).toEqual(['2021-W44.jsonl.gz.json'])
    expect(await readLocal(out, '2021-W44.jsonl.gz')).toMatchObject({state: 'pending', output: {key: '2021-W44.jsonl.gz'}})

    // verify tells it from another tool's output, and --adopt leaves it to convert.
    const verify = await runCli(['verify', out, '--raw', archive, '--source', 'bustimes', '--adopt', '--json'])
    const verified = JSON.parse(verify.stdout) as VerifyResult
    expect(verified.warnings.find((warning) => warning.key === '2021-W44.jsonl.gz')?.message).toMatch(/stopped before its manifest.*run convert again/)
    expect(verified.adoption!.adopted).toEqual([])
    expect(verified.adoption!.refused).toEqual([{output: '2021-W44.jsonl.gz', reason: expect.stringMatching(/run convert again/)}])
    expect(await readLocal(out, '2021-W44.jsonl.gz')).toMatchObject({state: 'pending'})

    const rerun = await runCli(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(rerun.code).toBe(0)
    expect(statuses(JSON.parse(rerun.stdout) as ConvertResult)).toEqual([
      ['2021-W44', 'rebuilt', 'interrupted'],
      ['2021-W45', 'written', undefined],
    ])
    expect((await fs.readdir(path.join(out, '_manifests'))).sort()).toEqual(['2021-W44.jsonl.gz.json', '2021-W45.jsonl.gz.json'])
    const rebuilt = await readLocal(out, '2021-W44.jsonl.gz')
    expect(rebuilt.state).toBeUndefined()
    expect(rebuilt.output).toMatchObject({key: '2021-W44.jsonl.gz', size: (await fs.stat(path.join(out, '2021-W44.jsonl.gz'))).size})
    for (const week of ['2021-W44', '2021-W45']) expect(await gunzip(path.join(out, `${week}.jsonl.gz`))).toBe(await gunzip(path.join(clean, `${week}.jsonl.gz`)))
    // Finished: the next run has nothing to do, and verify finds every manifest matching.
    const again = await runCli(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(statuses(JSON.parse(again.stdout) as ConvertResult)).toEqual([
      ['2021-W44', 'skipped', 'up-to-date'],
      ['2021-W45', 'skipped', 'up-to-date'],
    ])
    const after = JSON.parse((await runCli(['verify', out, '--source', 'bustimes', '--json'])).stdout) as VerifyResult
    expect(after.warnings).toEqual([])
    expect(after.checks.find((check) => check.name === 'manifest-counts')?.status).toBe('pass')
  })

  it('a true foreign output (no manifest, no marker) is still left alone, byte for byte', async () => {
    const out = path.join(work, 'foreign')
    await fs.mkdir(out, {recursive: true})
    // Another tool's week: same name, different bytes, and nothing of ours beside it.
    const foreignBytes = zlib.gzipSync('{"made":"by another tool"}\n')
    await fs.writeFile(path.join(out, '2021-W44.jsonl.gz'), foreignBytes)
    const run = await runCli(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(run.code).toBe(0)
    expect(statuses(JSON.parse(run.stdout) as ConvertResult)).toEqual([
      ['2021-W44', 'skipped', 'foreign'],
      ['2021-W45', 'written', undefined],
    ])
    expect((await fs.readFile(path.join(out, '2021-W44.jsonl.gz'))).equals(foreignBytes)).toBe(true)
    expect(await fs.readdir(path.join(out, '_manifests'))).toEqual(['2021-W45.jsonl.gz.json'])
  })
})

describe.each(s3Servers())('convert: a crash between an output and its manifest on $name', {timeout: 180_000}, ({endpoint}) => {
  it('the rerun rebuilds the interrupted output; a foreign one beside it is left alone', async () => {
    const client = testS3Client(endpoint)
    const bucket = await createTestBucket('bw-crash', client)
    await uploadDir(client, archive, bucket, 'raw/')
    const args = ['convert', `s3://${bucket}/raw/`, `s3://${bucket}/v2/`, '--source', 'bustimes', '--json']
    const crashed = await runCli(args, {env: {...s3Env(endpoint), ...CRASH}})
    expect(crashed.code).not.toBe(0)
    expect((await listKeys(client, bucket, 'v2/')).sort()).toEqual(['v2/2021-W44.jsonl.gz', 'v2/_manifests/2021-W44.jsonl.gz.json'])
    expect(await readJsonObject(client, bucket, 'v2/_manifests/2021-W44.jsonl.gz.json')).toMatchObject({state: 'pending'})

    const rerun = await runCli(args, {env: s3Env(endpoint)})
    expect(rerun.stderr).not.toMatch(/ERROR/)
    expect(rerun.code).toBe(0)
    expect(statuses(JSON.parse(rerun.stdout) as ConvertResult)).toEqual([
      ['2021-W44', 'rebuilt', 'interrupted'],
      ['2021-W45', 'written', undefined],
    ])
    expect((await listKeys(client, bucket, 'v2/')).sort()).toEqual(['v2/2021-W44.jsonl.gz', 'v2/2021-W45.jsonl.gz', 'v2/_manifests/2021-W44.jsonl.gz.json', 'v2/_manifests/2021-W45.jsonl.gz.json'])
    const manifest = await readJsonObject<{state?: string; output: {key: string; size: number}}>(client, bucket, 'v2/_manifests/2021-W44.jsonl.gz.json')
    expect(manifest.state).toBeUndefined()
    expect(manifest.output).toMatchObject({key: '2021-W44.jsonl.gz', size: (await fs.stat(path.join(clean, '2021-W44.jsonl.gz'))).size})

    // The same crash where another tool's week already lies: that one keeps its bytes and gets no manifest.
    const other = await createTestBucket('bw-crash-foreign', client)
    await uploadDir(client, archive, other, 'raw/')
    const foreignDir = path.join(work, `foreign-${other}`)
    await fs.mkdir(foreignDir, {recursive: true})
    await fs.writeFile(path.join(foreignDir, '2021-W44.jsonl.gz'), zlib.gzipSync('{"made":"by another tool"}\n'))
    await uploadDir(client, foreignDir, other, 'v2/')
    const otherArgs = ['convert', `s3://${other}/raw/`, `s3://${other}/v2/`, '--source', 'bustimes', '--json']
    expect((await runCli(otherArgs, {env: {...s3Env(endpoint), ...CRASH}})).code).not.toBe(0)
    const second = await runCli(otherArgs, {env: s3Env(endpoint)})
    expect(second.code).toBe(0)
    expect(statuses(JSON.parse(second.stdout) as ConvertResult)).toEqual([
      ['2021-W44', 'skipped', 'foreign'],
      ['2021-W45', 'rebuilt', 'interrupted'],
    ])
    expect((await listKeys(client, other, 'v2/')).sort()).toEqual(['v2/2021-W44.jsonl.gz', 'v2/2021-W45.jsonl.gz', 'v2/_manifests/2021-W45.jsonl.gz.json'])
  })
})
