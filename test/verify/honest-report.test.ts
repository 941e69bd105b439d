import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {readManifest} from '../../src/plugins/core/manifest/manifest.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {type CheckResult, type VerifyResult} from '../../src/plugins/core/verify/result.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {buildDataset, type Dataset, linkTinybusPlugin, removeTempDirs, tempDir, writeOutput} from './helpers.js'

afterAll(removeTempDirs)

const check = (result: VerifyResult, name: string): CheckResult => result.checks.find((candidate) => candidate.name === name)!
const statusOf = (result: VerifyResult, key: string) => result.buckets.find((bucket) => bucket.key === key)?.status

describe('verify reports what it found, no more and no less', () => {
  let root: string
  let raw: LocalStorage
  let output: LocalStorage
  let pluginEnv: Record<string, string>

  beforeAll(async () => {
    pluginEnv = await linkTinybusPlugin()
  })
  beforeEach(async () => {
    root = await tempDir()
    raw = new LocalStorage(path.join(root, 'archive'))
    output = new LocalStorage(path.join(root, 'v2'))
  })
  afterEach(async () => {
    await fs.rm(root, {recursive: true, force: true})
  })

  /** verify over the local outputs, with `--json`. */
  const verify = async (extra: string[]) => {
    const run = await runInProcess<VerifyResult>(['verify', output.pathOf(''), '--source', 'tinybus', '--json', ...extra])
    if (!run.result) throw new Error(`verify gave no result (exit ${run.exitCode}): ${run.stdout}${run.stderr}${run.error?.message ?? ''}`)
    return run
  }
  /** verify's text output, from the built binary (what a terminal gets). */
  const verifyText = (extra: string[]) => runCli(['verify', output.pathOf(''), '--source', 'tinybus', ...extra], {env: pluginEnv})
  /**
   * Deletes a week's output and manifest, and with `raw` its raw objects too (the inputs its manifest lists);
   * returns the keys of those raw objects.
   */
  const dropWeek = async (dataset: Dataset, week: string, options: {raw: boolean}) => {
    const key = dataset.outputKey(week)
    const inputs = (await readManifest(output, key))!.inputs.map((input) => input.key)
    await output.delete([key, `_manifests/${key}.json`])
    if (options.raw) await raw.delete(inputs)
    return inputs
  }

  describe('with --raw, a bucket without raw objects is "no data", not missing', () => {
    it('tells a gap with raw objects (missing) from one without (no data)', async () => {
      const dataset = await buildDataset(raw, output, {weeks: 6})
      const [w0, w1, w2, w3, w4, w5] = dataset.weeks as [string, string, string, string, string, string]
      await dropWeek(dataset, w2, {raw: true})
      const w3Raw = await dropWeek(dataset, w3, {raw: false})
      const {result, exitCode} = await verify(['--raw', raw.pathOf('')])
      expect(exitCode).toBe(3)
      expect(statusOf(result!, w2)).toBe('no-data')
      expect(result!.buckets.find((bucket) => bucket.key === w2)).toMatchObject({rawObjects: 0, problems: []})
      expect(statusOf(result!, w3)).toBe('missing')
      expect(check(result!, 'missing-buckets')).toMatchObject({
        status: 'fail',
        summary: `1 week missing: ${w3} (no output between ${w1} and ${w4}, 6 raw object(s)); 1 week without data (no output, no raw objects): ${w2}`,
        details: {missing: [{bucket: w3, expectedKey: `${w3}.jsonl.gz`, reason: `no output between ${w1} and ${w4}, 6 raw object(s)`}], noData: [w2], unlisted: 0},
      })
      expect(result!.totals).toMatchObject({missing: 1, noData: 1, buckets: 6})

      // Once the other week's raw objects are gone too, nothing is missing: the run passes and says why.
      await raw.delete(w3Raw)
      const again = await verifyText(['--raw', raw.pathOf(''), '--all-buckets'])
      expect(again.code).toBe(0)
      expect(again.stdout).toMatch(new RegExp(`PASS\\s+missing-buckets\\s+no week missing between ${w0} and ${w5}; 2 weeks without data \\(no output, no raw objects\\): ${w2} to ${w3} \\(2\\)`))
      expect(again.stdout).toMatch(new RegExp(`^${w2}\\s+no-data\\s+-\\s+-\\s+0\\s+${w2}\\.jsonl\\.gz$`, 'm'))
      expect(again.stdout).toMatch(/^PASSED: 4 outputs, 480 records in 4 weeks, 2 without data \(/m)
    })

    it('still calls a gap missing without --raw, and when --raw holds no objects at all (a wrong location)', async () => {
      const dataset = await buildDataset(raw, output, {weeks: 4})
      const gone = dataset.weeks[1]!
      await dropWeek(dataset, gone, {raw: true})
      const withoutRaw = await verify([])
      expect(withoutRaw.exitCode).toBe(3)
      expect(statusOf(withoutRaw.result!, gone)).toBe('missing')
      const empty = path.join(root, 'empty')
      await fs.mkdir(empty)
      const wrongRaw = await verify(['--raw', empty])
      expect(wrongRaw.exitCode).toBe(3)
      expect(statusOf(wrongRaw.result!, gone)).toBe('missing')
      expect(check(wrongRaw.result!, 'raw-counts').status).toBe('fail')
    })
  })

  describe('each missing bucket on its own line', () => {
    it('lists 38 missing weeks one per line, with a one-line summary', async () => {
      await buildDataset(undefined, output, {weeks: 1, start: new Date('2024-01-01T00:00:00Z')})
      await buildDataset(undefined, output, {weeks: 1, start: new Date('2024-09-30T00:00:00Z')})
      const run = await verifyText([])
      expect(run.code).toBe(3)
      const rows = run.stdout.split('\n').filter((line) => /^2024-W\d{2}\s+missing\s/.test(line))
      expect(rows).toHaveLength(38)
      expect(rows[0]).toMatch(/^2024-W02\s+missing\s+-\s+-\s+-\s+2024-W02\.jsonl\.gz$/)
      expect(rows.at(-1)).toMatch(/^2024-W39\s+missing/)
      const summary = run.stdout.split('\n').find((line) => /^FAIL\s+missing-buckets/.test(line))!
      expect(summary).toMatch(/FAIL\s+missing-buckets\s+38 weeks missing: 2024-W02 to 2024-W39 \(38\)$/)
      // The problem of each bucket, once, on its own line; the ERROR line on stderr is as short as the summary.
      expect(run.stdout.split('\n').filter((line) => line === '  2024-W17: missing, no output between 2024-W01 and 2024-W40')).toHaveLength(1)
      const error = run.stderr.split('\n').find((line) => line.includes('ERROR Check missing-buckets failed'))!
      expect(error).toMatch(/ERROR Check missing-buckets failed: 38 weeks missing: 2024-W02 to 2024-W39 \(38\)$/)
      expect(run.stdout).toMatch(/^FAILED: 2 outputs, 240 records in 2 weeks, 38 missing \(/m)
      const json = await verify([])
      expect((check(json.result!, 'missing-buckets').details.missing as unknown[]).length).toBe(38)
    })

    it('counts every bucket of a gap too long to list, and names scattered ones briefly', async () => {
      const hour = async (label: string) => {
        const from = new Date(`${label}:00:00Z`)
        const line = JSON.stringify({vehicleID: 1, latitude: 45.5, longitude: -122.6, routeNumber: 1, signMessage: 'x', offRoute: false, time: from.getTime(), snapshot_time: from.toISOString()})
        await writeOutput(output, `${label}.jsonl.gz`, [line], {bucket: {key: label, from: from.toISOString(), to: new Date(from.getTime() + 3_600_000).toISOString()}, inputs: []})
      }
      for (const label of ['2024-01-01T00', '2024-01-01T02', '2024-01-01T04', '2024-01-01T06', '2024-01-01T08', '2024-01-01T10', '2024-01-01T12', '2024-03-01T00']) await hour(label)
      const {result, exitCode} = await verify([])
      expect(exitCode).toBe(3)
      // 6 single hours, then January 1st 13:00 to February 29th 23:00: 1427 hours, 1000 listed.
      expect(result!.totals.missing).toBe(6 + 1427)
      expect(result!.buckets.filter((bucket) => bucket.status === 'missing')).toHaveLength(6 + 1000)
      expect(check(result!, 'missing-buckets').summary).toBe(
        '1,433 hours missing: 2024-01-01T01 (no output between 2024-01-01T00 and 2024-01-01T02), 2024-01-01T03 (no output between 2024-01-01T02 and 2024-01-01T04), 2024-01-01T05 (no output between 2024-01-01T04 and 2024-01-01T06), 2024-01-01T07 (no output between 2024-01-01T06 and 2024-01-01T08), 2024-01-01T09 (no output between 2024-01-01T08 and 2024-01-01T10), and 1001 more (427 of them in gaps too long to list)',
      )
      expect(check(result!, 'missing-buckets').details.unlisted).toBe(427)
    })
  })

  describe('an output without a manifest is a counted warning', () => {
    it('counts it in the text, --json and the HTML report, and still passes', async () => {
      const dataset = await buildDataset(raw, output, {weeks: 3})
      const bare = dataset.outputKey(dataset.weeks[1]!)
      await output.delete([`_manifests/${bare}.json`])
      await output.write('notes/extra.jsonl', '{"a": 1}\n')
      const text = await verifyText(['--raw', raw.pathOf('')])
      expect(text.code).toBe(0)
      expect(text.stdout).toContain(
        [
          'WARNINGS (2): not checked, not failed',
          `  NO_MANIFEST  ${bare} has no manifest (_manifests/${bare}.json): its record count and checksums were not checked`,
          '  NOT_A_BUCKET  notes/extra.jsonl names no time bucket (such as 2024-W03 or 2024-01-15): not verified',
        ].join('\n'),
      )
      expect(text.stdout).toMatch(/^PASSED with 2 warnings: 3 outputs, 360 records in 3 weeks \(/m)
      expect(text.stderr).toMatch(new RegExp(`WARN 2 warning\\(s\\), not checked: ${bare} has no manifest`))

      const report = path.join(root, 'report.html')
      const json = await verify(['--raw', raw.pathOf(''), '--report', report])
      expect(json.exitCode).toBe(0)
      expect(json.result!.ok).toBe(true)
      expect(json.result!.totals.warnings).toBe(2)
      expect(json.result!.warnings).toEqual([
        {code: 'NO_MANIFEST', key: bare, message: expect.stringContaining(`${bare} has no manifest`)},
        {code: 'NOT_A_BUCKET', key: 'notes/extra.jsonl', message: expect.stringContaining('names no time bucket')},
      ])
      expect(check(json.result!, 'manifest-counts')).toMatchObject({status: 'pass', summary: '2 outputs match their manifests', details: {withoutManifest: [bare]}})
      const html = await fs.readFile(report, 'utf8')
      expect(html).toContain('<span class="verdict pass" id="verdict">PASSED, 2 warning(s)</span>')
      expect(html.match(/<li class="warning" data-code="(\w+)">/g)).toEqual(['<li class="warning" data-code="NO_MANIFEST">', '<li class="warning" data-code="NOT_A_BUCKET">'])
      expect(html).toContain(`${bare} has no manifest`)
    })

    it('warns of a stray manifest beside a present output, and fails on a lost output whose bucket is unknown', async () => {
      const dataset = await buildDataset(undefined, output, {weeks: 2})
      const first = dataset.outputKey(dataset.weeks[0]!)
      await fs.copyFile(output.pathOf(`_manifests/${first}.json`), output.pathOf(`_manifests/${dataset.weeks[0]}-old.jsonl.gz.json`))
      const stray = await verify([])
      expect(stray.exitCode).toBe(0)
      expect(stray.result!.warnings).toEqual([
        {
          code: 'ORPHAN_MANIFEST',
          key: `_manifests/${dataset.weeks[0]}-old.jsonl.gz.json`,
          message: `${dataset.weeks[0]}-old.jsonl.gz: its manifest _manifests/${dataset.weeks[0]}-old.jsonl.gz.json exists but the output ${dataset.weeks[0]}-old.jsonl.gz is gone; bucket ${dataset.weeks[0]} has other outputs`,
        },
      ])
      await output.write('_manifests/lost.jsonl.gz.json', 'not a manifest')
      const lost = await verify([])
      expect(lost.exitCode).toBe(3)
      expect(check(lost.result!, 'missing-buckets')).toMatchObject({
        status: 'fail',
        summary: '1 week missing: lost.jsonl.gz (its manifest _manifests/lost.jsonl.gz.json exists (not readable) but the output lost.jsonl.gz is gone)',
        details: {missing: [{output: 'lost.jsonl.gz', expectedKey: 'lost.jsonl.gz', reason: expect.stringContaining('is gone')}]},
      })
      expect(lost.result!.totals.missing).toBe(1)
    })
  })
})
