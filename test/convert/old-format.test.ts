import {spawnSync} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import {ROOT, runInProcess} from '../helpers/cli.js'
import {makeBustimesArchive} from './archive.js'
import {tempDir} from './helpers.js'

const hasPython = spawnSync('python3', ['--version']).status === 0
let work: string

beforeAll(async () => {
  work = await tempDir('bw-convert-old-format-')
})

afterAll(async () => {
  await fs.rm(work, {recursive: true, force: true})
})

describe.skipIf(!hasPython)('convert bustimes writes the weeks the original converter wrote', {timeout: 240_000}, () => {
  it('byte for byte (uncompressed): same lines, same order, snapshot_time as Python isoformat() (+00:00)', async () => {
    // Two ISO weeks across the repr→JSON cutoff, root-level keys and API envelopes.
    const archive = path.join(work, 'archive')
    await makeBustimesArchive(archive, {count: 64, every: 3600, start: '2021-11-07T20:00:00'})
    const expected = path.join(work, 'old')
    const oracle = spawnSync('python3', [path.join(ROOT, 'test', 'convert', 'fixtures', 'old_converter.py'), archive, expected], {encoding: 'utf8'})
    expect(oracle.stderr).toBe('')
    expect(oracle.status).toBe(0)
    const out = path.join(work, 'new')
    const run = await runInProcess<ConvertResult>(['convert', archive, out, '--source', 'bustimes', '--json'])
    expect(run.error).toBeUndefined()
    const weeks = (await fs.readdir(expected)).sort()
    expect(weeks).toEqual(['2021-W44.jsonl', '2021-W45.jsonl'])
    expect(run.result!.buckets.map((bucket) => bucket.output).sort()).toEqual(weeks.map((week) => `${week}.gz`))
    for (const week of weeks) {
      const old = await fs.readFile(path.join(expected, week))
      const ours = zlib.gunzipSync(await fs.readFile(path.join(out, `${week}.gz`)))
      expect(old.length).toBeGreaterThan(10_000)
      // The first differing line, not a megabyte diff, when they differ.
      const oldLines = old.toString('utf8').split('\n')
      const ourLines = ours.toString('utf8').split('\n')
      const first = oldLines.findIndex((line, i) => line !== ourLines[i])
      expect(first === -1 ? undefined : {line: first, old: oldLines[first], ours: ourLines[first]}).toBeUndefined()
      expect(ours.equals(old)).toBe(true)
    }
    // The last object is a JSON one (after the 2021-11-10 07:15:05 cutoff): both grammars were compared.
    const lastLine = (await fs.readFile(path.join(expected, weeks[1]), 'utf8')).trim().split('\n').at(-1)!
    expect(lastLine).toMatch(/"snapshot_time":"2021-11-10T11:00:00\+00:00"}$/)
  })
})
