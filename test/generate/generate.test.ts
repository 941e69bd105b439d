import {ListObjectsV2Command} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RecordValidator} from '../../src/plugins/core/schema/validator.js'
import {wydotBsmSource} from '../../src/plugins/wydot-bsm/index.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {createTestBucket, testS3Client, useS3Env} from '../helpers/s3.js'

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, {recursive: true, withFileTypes: true})
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort()
}

async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256')
  for (const file of await files(dir))
    hash
      .update(file)
      .update('\0')
      .update(await readFile(path.join(dir, file)))
  return hash.digest('hex')
}

describe('bucketwright generate', () => {
  let tmp: string
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-generate-'))
    useS3Env()
  })
  afterAll(async () => {
    await rm(tmp, {recursive: true, force: true})
  })

  const generate = (dir: string, seed: number) =>
    runInProcess<{objects: number; records: number; bytes: number}>(['generate', dir, '--source', 'wydot-bsm', '--from', '2019-03-01T10', '--to', '2019-03-01T12', '--rate', '6000', '--seed', String(seed), '--json'])

  it('writes the same bytes for the same seed, different bytes for another seed', async () => {
    const a = await generate(path.join(tmp, 'a'), 42)
    await generate(path.join(tmp, 'b'), 42)
    await generate(path.join(tmp, 'c'), 43)
    expect(a.exitCode).toBe(0)
    expect(a.result).toMatchObject({objects: 24, records: 12_000})
    expect(await files(path.join(tmp, 'a'))).toHaveLength(24)
    expect(await treeDigest(path.join(tmp, 'a'))).toBe(await treeDigest(path.join(tmp, 'b')))
    expect(await treeDigest(path.join(tmp, 'a'))).not.toBe(await treeDigest(path.join(tmp, 'c')))
  })

  it('writes wydot-bsm records that validate against the source schema, under wydot/BSM/YYYY/MM/DD/HH/', async () => {
    const dir = path.join(tmp, 'a')
    const source = wydotBsmSource()
    const validator = await RecordValidator.create(source.schema!)
    const names = await files(dir)
    expect(names.every((name) => /^wydot\/BSM\/2019\/03\/01\/1[01]\/wydot-filtered-bsm-\d{13}\.json$/.test(name))).toBe(true)
    for (const name of names) {
      for (const line of (await readFile(path.join(dir, name), 'utf8')).trimEnd().split('\n')) validator.validate(JSON.parse(line), name)
    }
    expect(validator.recordsChecked).toBe(12_000)
    expect(validator.violations()).toEqual([])
  })

  // The count reported must be the records actually written, for every source with a generator (not "unknown").
  it.each([
    {source: 'bustimes', count: (body: string) => (body.match(/vehicleID/g) ?? []).length},
    {source: 'coinbase', count: (body: string) => body.split('\n').filter(Boolean).length},
    {source: 'wydot-bsm', count: (body: string) => body.split('\n').filter(Boolean).length},
  ])('reports the records it wrote for $source', async ({source, count}) => {
    const dir = path.join(tmp, `count-${source}`)
    const run = await runInProcess<{records: number | null}>(['generate', dir, '--source', source, '--from', '2019-03-01T10:00', '--to', '2019-03-01T10:20', '--rate', '600', '--json'])
    expect(run.exitCode).toBe(0)
    let written = 0
    for (const file of await files(dir)) written += count(await readFile(path.join(dir, file), 'utf8'))
    expect(written).toBeGreaterThan(0)
    expect(run.result?.records).toBe(written)
  })

  it('writes to S3 with concurrent writes', async () => {
    const bucket = await createTestBucket('bw-generate')
    const run = await runInProcess<{objects: number; bytes: number}>([
      'generate',
      `s3://${bucket}/synthetic/`,
      '--source',
      'wydot-bsm',
      '--from',
      '2019-03-01T10',
      '--to',
      '2019-03-01T11',
      '--rate',
      '3000',
      '--concurrency',
      '4',
      '--json',
    ])
    expect(run.exitCode).toBe(0)
    const listed = await testS3Client().send(new ListObjectsV2Command({Bucket: bucket, Prefix: 'synthetic/'}))
    expect(listed.Contents?.length).toBe(run.result!.objects)
    expect(listed.Contents!.reduce((sum, item) => sum + (item.Size ?? 0), 0)).toBe(run.result!.bytes)
    expect(listed.Contents!.every((item) => item.Key!.startsWith('synthetic/wydot/BSM/2019/03/01/10/'))).toBe(true)
  })

  it('fails as a usage error for a bad range, with a clean JSON error on stdout', async () => {
    const run = await runCli(['generate', path.join(tmp, 'x'), '--source', 'wydot-bsm', '--from', '2019-03-02', '--to', '2019-03-01', '--json'])
    expect(run.code).toBe(2)
    expect(JSON.parse(run.stdout).error.code).toBe('BAD_RANGE')
    const bad = await runCli(['generate', path.join(tmp, 'x'), '--source', 'wydot-bsm', '--from', 'yesterday', '--to', '2019-03-01', '--json'])
    expect(bad.code).toBe(2)
    const error = JSON.parse(bad.stdout).error
    expect(error.code).toBe('BAD_TIME')
    expect(error.message).toContain('--from "yesterday" is not a date')
  })
})
