/**
 * `verify --adopt`: weeks the original converter wrote (no manifest) are checked against their raw objects —
 * records per bucket, gzip integrity, schema — and get a manifest, so later convert runs treat them as their own;
 * when a check fails, nothing is written and the exit code is 3.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import type {OutputManifest} from '../../src/plugins/core/manifest/manifest.js'
import type {VerifyResult} from '../../src/plugins/core/verify/result.js'
import {hasPython, makeBustimesArchive, oldConverterWeeks} from '../convert/archive.js'
import {tempDir} from '../convert/helpers.js'
import {runCli} from '../helpers/cli.js'

const WEEKS = ['2021-W44.jsonl.gz', '2021-W45.jsonl.gz']
let work: string
let archive: string
let old: string

beforeAll(async () => {
  work = await tempDir('bw-verify-adopt-')
  archive = path.join(work, 'archive')
  await makeBustimesArchive(archive, {count: 40, every: 7200})
  old = path.join(work, 'old')
  if (hasPython) oldConverterWeeks(archive, old)
}, 120_000)

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

let copies = 0
/** A copy of the old converter's output, with `change` applied to the W45 week's lines. */
async function oldOutput(change?: (lines: string[]) => string[] | Buffer): Promise<string> {
  const out = path.join(work, `out-${copies++}`)
  await fs.cp(old, out, {recursive: true})
  if (change) {
    const file = path.join(out, WEEKS[1])
    const changed = change(
      zlib
        .gunzipSync(await fs.readFile(file))
        .toString('utf8')
        .split('\n'),
    )
    await fs.writeFile(file, Buffer.isBuffer(changed) ? changed : zlib.gzipSync(changed.join('\n')))
  }
  return out
}

const adopt = async (out: string) => {
  const run = await runCli(['verify', out, '--raw', archive, '--source', 'bustimes', '--adopt', '--json'])
  return {...run, result: JSON.parse(run.stdout) as VerifyResult}
}

describe.skipIf(!hasPython)('verify --adopt', {timeout: 240_000}, () => {
  it('adopts weeks made by the original converter: manifests written, and convert then skips them as up to date', async () => {
    const out = await oldOutput()
    const before = await Promise.all(WEEKS.map((week) => fs.readFile(path.join(out, week))))
    const run = await adopt(out)
    expect(run.code).toBe(0)
    expect(run.result.adoption).toEqual({adopted: WEEKS, refused: []})
    expect(run.result.checks.find((check) => check.name === 'raw-counts')!.status).toBe('pass')
    // The outputs themselves are untouched; each has a manifest with the raw objects as inputs.
    for (const [i, week] of WEEKS.entries()) expect((await fs.readFile(path.join(out, week))).equals(before[i]!)).toBe(true)
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', `${WEEKS[0]}.json`), 'utf8')) as OutputManifest
    const lines = zlib.gunzipSync(before[0]!).toString('utf8').trim().split('\n')
    expect(manifest.counts.records).toBe(lines.length)
    expect(manifest.inputs.length).toBe(manifest.counts.objects)
    expect(manifest.output.size).toBe(before[0]!.length)
    // Later runs treat them as their own: convert skips both (no GET of a raw object), verify checks the manifests.
    const convert = await runCli(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(convert.code).toBe(0)
    expect((JSON.parse(convert.stdout) as ConvertResult).buckets.map((bucket) => [bucket.key, bucket.status, bucket.reason])).toEqual([
      ['2021-W44', 'skipped', 'up-to-date'],
      ['2021-W45', 'skipped', 'up-to-date'],
    ])
    const verify = await runCli(['verify', out, '--source', 'bustimes', '--json'])
    expect(verify.code).toBe(0)
    expect((JSON.parse(verify.stdout) as VerifyResult).checks.find((check) => check.name === 'manifest-counts')!.status).toBe('pass')
  })

  it.each([
    ['a record missing', (lines: string[]) => lines.filter((_, i) => i !== 5), 'raw-counts'],
    ['a truncated gzip stream', (lines: string[]) => zlib.gzipSync(lines.join('\n')).subarray(0, 2000), 'integrity'],
    ['a record that breaks the schema', (lines: string[]) => lines.map((line, i) => (i === 3 ? line.replace(/"latitude":[-\d.]+/, '"latitude":"north"') : line)), 'schema'],
  ] as const)('refuses with exit 3 and writes no manifest at all when a week has %s', async (_name, change, check) => {
    const out = await oldOutput(change)
    const run = await adopt(out)
    expect(run.code).toBe(3)
    expect(run.result.checks.find((candidate) => candidate.name === check)!.status).toBe('fail')
    expect(run.result.adoption!.adopted).toEqual([])
    expect(run.result.adoption!.failedChecks).toContain(check)
    // Not even the sound week is adopted.
    await expect(fs.stat(path.join(out, '_manifests'))).rejects.toThrow()
  })

  it('needs --raw (usage error, nothing read)', async () => {
    const out = await oldOutput()
    const run = await runCli(['verify', out, '--source', 'bustimes', '--adopt'])
    expect(run.code).toBe(2)
    await expect(fs.stat(path.join(out, '_manifests'))).rejects.toThrow()
  })
})
