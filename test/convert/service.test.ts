import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {LocalStorage} from '../../src/plugins/core/index.js'
import {runConvert} from '../../src/plugins/core/convert/service.js'
import type {ConvertOptions} from '../../src/plugins/core/convert/types.js'
import {linesSource, readJsonl, tempDir, writeEvents} from './helpers.js'

const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map((dir) => fs.rm(dir, {recursive: true, force: true}))))

async function setup() {
  const root = await tempDir()
  dirs.push(root)
  const raw = path.join(root, 'raw')
  const out = path.join(root, 'out')
  const {source, loader} = await linesSource()
  const base: ConvertOptions = {
    input: new LocalStorage(raw),
    output: new LocalStorage(out),
    source,
    loader,
    bucket: 'week',
    format: 'jsonl',
    compression: 'gzip',
    keyTemplate: '{YYYY}-W{WW}.jsonl.gz',
    toolVersion: 'test',
    workers: 2,
  }
  return {root, raw, out, base}
}

describe('convert service (test NDJSON source)', () => {
  it('writes one gzip JSONL per ISO week, records in key order, with a manifest', async () => {
    const {raw, out, base} = await setup()
    // 2021-11-14 is a Sunday (W45), 2021-11-15 a Monday (W46): objects every 6 h from Saturday to Tuesday.
    await writeEvents(raw, '2021-11-13T00:00:00Z', 16, 360, 3)
    const result = await runConvert(base)
    expect(result.buckets.map((bucket) => [bucket.key, bucket.status, bucket.objects, bucket.records])).toEqual([
      ['2021-W45', 'written', 8, 24],
      ['2021-W46', 'written', 8, 24],
    ])
    const w45 = await readJsonl(path.join(out, '2021-W45.jsonl.gz'))
    expect(w45.map((record) => record.id)).toEqual([0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302, 400, 401, 402, 500, 501, 502, 600, 601, 602, 700, 701, 702])
    expect(w45[0]).toEqual({id: 0, speed: 0, ts: '2021-11-13T00:00:00Z'})
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W46.jsonl.gz.json'), 'utf8'))
    expect(manifest.counts).toMatchObject({objects: 8, records: 24, quarantined: 0})
    expect(manifest.inputs).toHaveLength(8)
    expect(manifest.inputs[0]).toMatchObject({key: 'events/2021-11-15/00-00-00.ndjson'})
    expect(manifest.output.size).toBe((await fs.stat(path.join(out, '2021-W46.jsonl.gz'))).size)
  })

  it('gives byte-identical output with 0, 1 or 2 encoder threads and small chunks', async () => {
    const {raw, out, base} = await setup()
    await writeEvents(raw, '2021-11-15T00:00:00Z', 40, 30, 50)
    const digests: string[] = []
    for (const workers of [0, 1, 2]) {
      await fs.rm(out, {recursive: true, force: true})
      const result = await runConvert({...base, workers})
      expect(result.records).toBe(2000)
      const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifests', '2021-W46.jsonl.gz.json'), 'utf8'))
      digests.push(manifest.output.sha256)
    }
    expect(new Set(digests).size).toBe(1)
  })
})
