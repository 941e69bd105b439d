import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import type {CheckResult, VerifyResult} from '../../src/plugins/core/verify/result.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {runCli, runInProcess} from '../helpers/cli.js'
import {buildDataset, type Dataset, linkTinybusPlugin, readOutputLines, removeTempDirs, rewriteOutput, tempDir, truncateOutput} from './helpers.js'

afterAll(removeTempDirs)

const check = (result: VerifyResult, name: string): CheckResult => {
  const found = result.checks.find((candidate) => candidate.name === name)
  if (!found) throw new Error(`no check ${name} in ${result.checks.map((c) => c.name).join(', ')}`)
  return found
}
const failing = (result: VerifyResult) => result.checks.filter((candidate) => candidate.status === 'fail').map((candidate) => candidate.name)

describe('verify (local)', () => {
  let root: string
  let raw: LocalStorage
  let output: LocalStorage
  let dataset: Dataset
  let pluginEnv: Record<string, string>

  beforeAll(async () => {
    pluginEnv = await linkTinybusPlugin()
  })

  beforeEach(async () => {
    root = await tempDir()
    raw = new LocalStorage(path.join(root, 'archive'))
    output = new LocalStorage(path.join(root, 'v2'))
    dataset = await buildDataset(raw, output, {weeks: 5})
  })

  const verify = async (...extra: string[]) => {
    const run = await runInProcess<VerifyResult>(['verify', output.pathOf(''), '--raw', raw.pathOf(''), '--source', 'tinybus', '--json', ...extra])
    if (!run.result) throw new Error(`verify gave no result (exit ${run.exitCode}): ${run.stdout}${run.stderr}${run.error?.message ?? ''}`)
    return {...run, result: run.result}
  }

  it('passes a clean dataset: every check, exit 0', async () => {
    const {result, exitCode} = await verify('--check', 'SELECT * FROM records WHERE latitude NOT BETWEEN 45 AND 46')
    expect(failing(result)).toEqual([])
    expect(exitCode).toBe(0)
    expect(result.ok).toBe(true)
    expect(result.checks.map((c) => [c.name, c.status])).toEqual([
      ['integrity', 'pass'],
      ['manifest-counts', 'pass'],
      ['raw-counts', 'pass'],
      ['missing-buckets', 'pass'],
      ['drops', 'pass'],
      ['duplicates', 'pass'],
      ['schema', 'pass'],
      ['sql:check-1', 'pass'],
    ])
    expect(result.buckets.map((bucket) => bucket.key)).toEqual(dataset.weeks)
    for (const bucket of result.buckets) {
      expect(bucket.records).toBe(dataset.recordsPerWeek.get(bucket.key))
      expect(bucket.rawRecords).toBe(bucket.records)
      expect(bucket.manifestRecords).toBe(bucket.records)
    }
    expect(result.totals.records).toBe([...dataset.recordsPerWeek.values()].reduce((a, b) => a + b))
    expect(result.schema.recordsChecked).toBe(result.totals.records)
  })

  it('catches a deleted week between two present ones', async () => {
    const week = dataset.weeks[2]!
    await output.delete([dataset.outputKey(week), `_manifests/${dataset.outputKey(week)}.json`])
    const {result, exitCode, stderr} = await verify()
    expect(exitCode).toBe(3)
    expect(failing(result)).toEqual(['missing-buckets'])
    const missing = check(result, 'missing-buckets')
    // --raw lists 6 raw objects for the week: missing, not "no data".
    expect(missing.summary).toBe(`1 week missing: ${week} (no output between ${dataset.weeks[1]} and ${dataset.weeks[3]}, 6 raw object(s))`)
    expect(missing.details.missing).toEqual([{bucket: week, expectedKey: `${week}.jsonl.gz`, reason: `no output between ${dataset.weeks[1]} and ${dataset.weeks[3]}, 6 raw object(s)`}])
    expect(result.buckets.find((bucket) => bucket.key === week)).toMatchObject({status: 'missing', output: `${week}.jsonl.gz`})
    expect(stderr).toContain(`Check missing-buckets failed`)
  })

  it('catches a deleted last week from its orphaned manifest and from the raw objects', async () => {
    const week = dataset.weeks.at(-1)!
    await output.delete([dataset.outputKey(week)])
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    expect(check(result, 'missing-buckets').summary).toMatch(new RegExp(`${week} \\(its manifest _manifests/${week}.jsonl.gz.json exists but the output ${week}.jsonl.gz is gone`))
    await output.delete([`_manifests/${dataset.outputKey(week)}.json`])
    const again = await verify()
    expect(again.exitCode).toBe(3)
    expect(check(again.result, 'missing-buckets').summary).toContain(`${week} (6 raw object(s) but no output)`)
  })

  it('names a truncated .gz', async () => {
    const week = dataset.weeks[1]!
    await truncateOutput(output, dataset.outputKey(week))
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    const integrity = check(result, 'integrity')
    expect(integrity.status).toBe('fail')
    expect(integrity.summary).toContain(`${week}.jsonl.gz (the gzip stream ends early: the file is truncated)`)
    expect(result.buckets.find((bucket) => bucket.key === week)!.status).toBe('failed')
    // The other weeks are still fully checked.
    expect(check(result, 'duplicates').status).toBe('pass')
    expect(result.buckets.filter((bucket) => bucket.status === 'ok')).toHaveLength(dataset.weeks.length - 1)
  })

  it('catches an output with records removed: below its manifest and below the raw objects', async () => {
    const week = dataset.weeks[3]!
    await rewriteOutput(output, dataset.outputKey(week), (lines) => lines.slice(0, -15), {updateManifest: false})
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    const expected = dataset.recordsPerWeek.get(week)!
    expect(failing(result)).toEqual(expect.arrayContaining(['manifest-counts', 'raw-counts']))
    expect(check(result, 'manifest-counts').summary).toContain(`${week}.jsonl.gz holds ${expected - 15} records, its manifest says ${expected}`)
    expect(check(result, 'raw-counts').summary).toContain(`${week}: ${expected - 15} records in the output, ${expected} decoded from 6 raw objects`)
    expect(check(result, 'integrity').status).toBe('pass')
  })

  it('fails an output whose manifest is unreadable', async () => {
    const week = dataset.weeks[1]!
    await output.write(`_manifests/${week}.jsonl.gz.json`, '{"manifestVersion": 1, "outp')
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    expect(check(result, 'manifest-counts').summary).toBe(`${week}.jsonl.gz: its manifest _manifests/${week}.jsonl.gz.json is not a readable manifest`)
  })

  it('catches duplicated records on the record key', async () => {
    const week = dataset.weeks[0]!
    await rewriteOutput(output, dataset.outputKey(week), (lines) => [...lines, ...lines.slice(0, 3)], {updateManifest: true})
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    const duplicates = check(result, 'duplicates')
    expect(duplicates.status).toBe('fail')
    expect(duplicates.summary).toBe(`3 duplicate record(s) on vehicleID + snapshot_time in ${week}.jsonl.gz`)
    const first = JSON.parse((await readOutputLines(output, dataset.outputKey(week)))[0]!)
    expect(duplicates.details.examples).toContainEqual(expect.objectContaining({vehicleID: first.vehicleID, snapshot_time: first.snapshot_time, copies: 2, files: [`${week}.jsonl.gz`]}))
    expect(result.buckets.find((bucket) => bucket.key === week)!.duplicates).toBe(3)
  })

  it('counts schema violations per field path with an example', async () => {
    const week = dataset.weeks[2]!
    await rewriteOutput(
      output,
      dataset.outputKey(week),
      (lines) =>
        lines.map((line, i) => {
          const record = JSON.parse(line)
          if (i % 10 === 1) record.latitude = 'north'
          if (i === 4) delete record.vehicleID
          return JSON.stringify(record)
        }),
      {updateManifest: true},
    )
    const {result, exitCode} = await verify()
    expect(exitCode).toBe(3)
    expect(failing(result)).toEqual(['schema'])
    const byPath = Object.fromEntries(result.schema.violations.map((violation) => [violation.path, violation]))
    expect(byPath.latitude).toMatchObject({keyword: 'type', count: Math.ceil((dataset.recordsPerWeek.get(week)! - 1) / 10), example: {value: 'north', where: `${week}.jsonl.gz:2`}})
    expect(byPath.vehicleID).toMatchObject({keyword: 'required', count: 1, example: {where: `${week}.jsonl.gz:5`}})
    expect(check(result, 'schema').summary).toContain('latitude must be number')
    // Read on worker threads (default) or on the main thread: the same findings, the same examples.
    const here = await verify('--scan-threads', '0')
    expect(here.result.schema).toEqual(result.schema)
    expect(here.result.buckets).toEqual(result.buckets)
  })

  it('fails a user SQL check that returns rows, from --check and from --check-file', async () => {
    const week = dataset.weeks[4]!
    await rewriteOutput(output, dataset.outputKey(week), (lines) => lines.map((line, i) => (i === 7 ? JSON.stringify({...JSON.parse(line), latitude: 10.5}) : line)), {updateManifest: true})
    const file = path.join(root, 'checks.sql')
    await fs.writeFile(file, '-- name: in-portland\nSELECT vehicleID, latitude FROM records WHERE latitude NOT BETWEEN 45 AND 46;\n-- name: has-records\nSELECT 1 WHERE (SELECT count(*) FROM records) = 0;\n')
    const {result, exitCode} = await verify('--check', '-- name: lat-range\nSELECT * FROM records WHERE latitude < 40', '--check-file', file)
    expect(exitCode).toBe(3)
    expect(failing(result)).toEqual(['sql:lat-range', 'sql:in-portland'])
    expect(check(result, 'sql:in-portland').details).toMatchObject({rows: 1, examples: [{latitude: 10.5}]})
    expect(check(result, 'sql:in-portland').summary).toContain('returned 1 row(s)')
    expect(check(result, 'sql:has-records').status).toBe('pass')
  })

  it("reports a user check that does not run as failed, with DuckDB's message", async () => {
    const {result, exitCode} = await verify('--check', 'SELECT * FROM records WHERE no_such_column = 1')
    expect(exitCode).toBe(3)
    expect(check(result, 'sql:check-1').summary).toMatch(/the query failed: .*no_such_column/)
  })

  it('flags a sudden drop below the threshold, and re-reads only the sampled buckets', async () => {
    const week = dataset.weeks[2]!
    await rewriteOutput(output, dataset.outputKey(week), (lines) => lines.slice(0, 20), {updateManifest: true})
    const {result} = await verify('--sample', '40%', '--seed', 's1')
    expect(check(result, 'drops').summary).toContain(`${week} has 20 records vs a median of 120`)
    const reRead = check(result, 'raw-counts').details.bucketsReRead as string[]
    const again = await verify('--sample', '40%', '--seed', 's1')
    expect(check(again.result, 'raw-counts').details.bucketsReRead).toEqual(reRead)
    expect(reRead.length).toBeGreaterThan(0)
    expect(reRead.length).toBeLessThan(dataset.weeks.length)
    expect(result.buckets.filter((bucket) => bucket.rawChecked).map((bucket) => bucket.key)).toEqual(reRead)
    const relaxed = await verify('--drop-threshold', '0.1', '--sample', '40%', '--seed', 's1')
    expect(check(relaxed.result, 'drops').status).toBe('pass')
  })

  it('rejects a share that is not one, as a usage error', async () => {
    const run = await runInProcess(['verify', output.pathOf(''), '--source', 'tinybus', '--sample', '150%'])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toMatch(/"150%" is not a share: use a percentage such as 10%/)
  })

  it('fails with a next step when the location holds no outputs', async () => {
    const empty = await tempDir()
    const run = await runInProcess(['verify', empty, '--source', 'tinybus'])
    expect(run.exitCode).toBe(1)
    expect(run.error).toMatchObject({code: 'NO_OUTPUTS', message: expect.stringMatching(/^No outputs found under file:\/\//)})
    expect((run.error as unknown as {nextSteps: string[]}).nextSteps[0]).toMatch(/output location/)
  })

  it('prints a table naming the defect, and exits 3 from the built binary', async () => {
    await truncateOutput(output, dataset.outputKey(dataset.weeks[1]!))
    const run = await runCli(['verify', output.pathOf(''), '--source', 'tinybus'], {env: pluginEnv})
    expect(run.code).toBe(3)
    expect(run.stdout).toMatch(/FAIL\s+integrity\s+1 output\(s\) unreadable: 2024-W02\.jsonl\.gz/)
    expect(run.stdout).toMatch(/PASS\s+duplicates/)
    expect(run.stdout).toMatch(/SKIP\s+raw-counts\s+no --raw location given/)
    expect(run.stdout).toContain('FAILED: 5 outputs')
    // Not a terminal: progress as timestamped lines on stderr, only the table on stdout.
    expect(run.stderr).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] INFO Verifying 5 outputs under file:\/\//m)
    expect(run.stderr).toMatch(/INFO Read 2024-W03\.jsonl\.gz: 120/)
    expect(run.stdout).not.toMatch(/INFO/)
    expect(run.stderr).toMatch(/ERROR Check integrity failed: 1 output\(s\) unreadable: 2024-W02\.jsonl\.gz \(the gzip stream ends early/)
    const json = await runCli(['verify', output.pathOf(''), '--source', 'tinybus', '--json'], {env: pluginEnv})
    expect(json.code).toBe(3)
    const result = JSON.parse(json.stdout) as VerifyResult
    expect(result.ok).toBe(false)
    // The cut file is also smaller than its manifest says.
    expect(failing(result)).toEqual(['integrity', 'manifest-counts'])
    expect(result.checks[1]!.summary).toMatch(/2024-W02\.jsonl\.gz is \d+ bytes, its manifest says \d+/)
  })
})
