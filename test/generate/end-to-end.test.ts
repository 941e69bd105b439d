import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

/** Generated data is only useful if the rest of the toolkit takes it as it takes real data: convert, verify, etl. */
describe('generate output goes through convert, verify and etl cleanly', () => {
  let tmp: string
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-gen-e2e-'))
  })
  afterAll(async () => {
    await rm(tmp, {recursive: true, force: true})
  })
  const json = async (args: string[]) => {
    const run = await runCli([...args, '--json'])
    return {code: run.code, body: JSON.parse(run.stdout), stderr: run.stderr}
  }

  it('wydot-bsm: converts with --validate (no violations, nothing quarantined) and verifies against the raw objects', async () => {
    const raw = path.join(tmp, 'wydot')
    const out = path.join(tmp, 'wydot-out')
    const generated = await json(['generate', raw, '--source', 'wydot-bsm', '--from', '2019-03-04T00', '--to', '2019-03-04T06', '--rate', '600', '--seed', '11'])
    expect(generated.code).toBe(0)
    const converted = await json(['convert', raw, out, '--source', 'wydot-bsm', '--bucket', 'hour', '--validate'])
    expect(converted.code, converted.stderr).toBe(0)
    expect(converted.body).toMatchObject({records: generated.body.records, objects: generated.body.objects, quarantined: 0, validation: {recordsInvalid: 0}})
    expect(converted.body.buckets).toHaveLength(6)
    const verified = await json(['verify', out, '--source', 'wydot-bsm', '--raw', raw])
    expect(verified.code, JSON.stringify(verified.body.checks)).toBe(0)
    expect(verified.body.ok).toBe(true)
    expect(verified.body.checks.find((check: {name: string}) => check.name === 'duplicates').status).toBe('pass')
  })

  it('bustimes: Python repr before the 2021-11-10 07:15:05 cutoff and JSON after, both convert with nothing quarantined', async () => {
    const raw = path.join(tmp, 'bustimes')
    const out = path.join(tmp, 'bustimes-out')
    expect((await json(['generate', raw, '--source', 'bustimes', '--from', '2021-11-10T06:00', '--to', '2021-11-10T09:00', '--rate', '6', '--seed', '3'])).code).toBe(0)
    const names = (await readdir(path.join(raw, 'raw'))).sort()
    expect(await readFile(path.join(raw, 'raw', names[0]), 'utf8')).toMatch(/u'vehicleID'/)
    expect(await readFile(path.join(raw, 'raw', names.at(-1)!), 'utf8')).toMatch(/"vehicleID"/)
    const converted = await json(['convert', raw, out, '--source', 'bustimes', '--bucket', 'hour', '--validate'])
    expect(converted.code, converted.stderr).toBe(0)
    expect(converted.body).toMatchObject({objects: 18, quarantined: 0, validation: {recordsInvalid: 0}})
    expect(converted.body.records).toBeGreaterThan(1000)
    const verified = await json(['verify', out, '--source', 'bustimes', '--raw', raw])
    expect(verified.body.ok, JSON.stringify(verified.body.checks)).toBe(true)
  })

  it('coinbase: generated segments load through etl into Parquet with nothing quarantined', async () => {
    const raw = path.join(tmp, 'coinbase')
    const generated = await json(['generate', raw, '--source', 'coinbase', '--from', '2025-12-03T10:00', '--to', '2025-12-03T10:20', '--seed', '3'])
    expect(generated.code).toBe(0)
    const loaded = await json(['etl', raw, '--to', path.join(tmp, 'coinbase-parquet'), '--source', 'coinbase'])
    expect(loaded.code, loaded.stderr).toBe(0)
    expect(loaded.body.totals).toMatchObject({segments: generated.body.objects, failed: 0, quarantined: 0})
    expect(loaded.body.totals.records).toBeGreaterThan(0)
  })
})
