import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {s3Env, s3Servers} from '../helpers/s3.js'
import {linkTinybusPlugin, removeTempDirs, tempDir} from '../verify/helpers.js'

/** The byte figures of a summary line as shown (formatBytes: SI units): `1.5 MB in, ~147 KB out` → {in: 1.5e6, out: 147e3}. */
const UNIT = {B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12} as const
function megabytes(line: string): {in: number; out: number} {
  const figure = (word: string) => {
    const [, value, unit] = new RegExp(`~?([\\d.]+) (B|KB|MB|GB|TB) ${word}`).exec(line)!
    return Number(value) * UNIT[unit as keyof typeof UNIT]
  }
  return {in: figure('in'), out: figure('out')}
}
const SIZE = String.raw`[\d.]+ (?:B|KB|MB|GB|TB)`
const quarantinedIn = (line: string) => Number(/(\d+) quarantined/.exec(line)?.[1] ?? 0)

describe('summaries: the numbers agree with each other and with what was there', () => {
  let root: string
  let raw: string
  let env: Record<string, string>

  beforeAll(async () => {
    env = await linkTinybusPlugin()
    root = await tempDir('bw-summary-numbers-')
    raw = path.join(root, 'raw')
    await fs.mkdir(path.join(raw, 'raw'), {recursive: true})
    // One day: big enough objects that every size shows in tenths of a MB, and one empty object to quarantine.
    for (let minute = 0; minute < 3; minute++) {
      const vehicles = Array.from({length: 3000}, (_, id) => ({
        vehicleID: id,
        latitude: 45 + id / 1e4,
        longitude: -122,
        routeNumber: id % 50,
        signMessage: `route ${id % 50} via ${'Main Street '.repeat(2)}`,
        offRoute: false,
        time: Date.UTC(2024, 0, 2, 0, minute) + id,
      }))
      await fs.writeFile(path.join(raw, 'raw', `tinybus__2024-01-02__00-0${minute}-00.json`), JSON.stringify(vehicles))
    }
    await fs.writeFile(path.join(raw, 'raw', 'tinybus__2024-01-02__00-09-00.json'), '')
  })
  afterAll(removeTempDirs)

  const bucketLines = (stdout: string) => stdout.split('\n').filter((line) => /^\S+\.jsonl\.gz\s/.test(line))
  const totalLine = (stdout: string, word: 'Plan' | 'Total') => stdout.split('\n').find((line) => line.startsWith(`${word}: `))!

  it('convert --dry-run: the plan adds up the estimates its bucket lines show (not 0.0 MB out), and says they are estimates', async () => {
    const run = await runCli(['convert', raw, path.join(root, 'planned'), '--source', 'tinybus', '--bucket', 'day', '--dry-run'], {env})
    expect(run.code, run.stderr).toBe(0)
    const [bucket] = bucketLines(run.stdout)
    const plan = totalLine(run.stdout, 'Plan')
    expect(bucket).toMatch(new RegExp(`would write: 4 objects, ${SIZE} in, ~${SIZE} out \\(estimated\\)$`))
    // Records are not counted before converting: no "0 records" that reads as an empty bucket.
    expect(bucket).not.toMatch(/\b0 records/)
    expect(megabytes(bucket).out).toBeGreaterThan(0)
    expect(plan).toMatch(new RegExp(`^Plan: 1 bucket \\(1 to write\\), 4 objects, ${SIZE} in, ~${SIZE} out \\(estimated\\), [\\d.]+ s$`))
    expect(megabytes(plan)).toEqual(megabytes(bucket))
  })

  it('convert, then a rerun that skips the bucket: the totals count what the bucket lines show, quarantine included', async () => {
    const out = path.join(root, 'converted')
    const first = await runCli(['convert', raw, out, '--source', 'tinybus', '--bucket', 'day'], {env})
    expect(first.code, first.stderr).toBe(4)
    expect(totalLine(first.stdout, 'Total')).toMatch(/^Total: 1 bucket \(1 written\), 4 objects, 9000 records, .* 1 quarantined, /)
    const rerun = await runCli(['convert', raw, out, '--source', 'tinybus', '--bucket', 'day'], {env})
    expect(rerun.code, rerun.stderr).toBe(0)
    const [bucket] = bucketLines(rerun.stdout)
    const total = totalLine(rerun.stdout, 'Total')
    expect(bucket).toMatch(/skipped \(up-to-date\): 4 objects, 9000 records, .*, 1 quarantined$/)
    expect(total).toMatch(/^Total: 1 bucket \(1 skipped\), 4 objects, 9000 records, /)
    expect(quarantinedIn(total)).toBe(quarantinedIn(bucket))
    expect(total).toContain('1 quarantined (0 this run)')
    expect(megabytes(total)).toEqual(megabytes(bucket))
  })

  it('verify: the raw listing reports every object it found; one day is "1 day"; a failed query\'s error sits under the table, not in its cell', async () => {
    const run = await runCli(['verify', path.join(root, 'converted'), '--raw', raw, '--source', 'tinybus', '--check', 'select * from recordz'], {env})
    expect(run.code).toBe(3)
    // 4 raw objects (the empty one included): a count, not a round ten thousand that was never reached.
    expect(run.stderr).toMatch(/INFO Listed 4 raw objects\n/)
    const lines = run.stdout.split('\n')
    expect(lines.find((line) => line.startsWith('FAILED'))).toMatch(/ in 1 day \(/)
    expect(lines.find((line) => line.startsWith('PASS    raw-counts'))).toMatch(/1 day re-read from raw match/)
    const cell = lines.find((line) => line.startsWith('FAIL    sql:check-1'))!
    expect(cell).toMatch(/the query failed \(error below\)$/)
    expect(cell).not.toContain('recordz')
    const below = lines.indexOf('sql:check-1: the query failed:')
    expect(below).toBeGreaterThan(lines.indexOf(cell))
    expect(lines[below + 1]).toMatch(/^ {2}Catalog Error: Table with name recordz does not exist!$/)
    expect(lines[below + 2]).toMatch(/^ {2}Did you mean "records"\?$/)
    // Nowhere a DuckDB line break shown as "\n" in a line.
    expect(run.stdout + run.stderr).not.toContain('\\n')
  })

  for (const {name, endpoint} of s3Servers()) {
    it(`NO_SUCH_BUCKET with --endpoint given (${name}) points at that endpoint, not at passing --endpoint`, async () => {
      const run = await runCli(['convert', 's3://bw-summary-no-such-bucket/', path.join(root, `nowhere-${name}`), '--source', 'tinybus', '--endpoint', endpoint, '--json'], {env: {...env, ...s3Env(endpoint)}})
      expect(run.code).toBe(1)
      const error = JSON.parse(run.stdout).error
      expect(error.code).toBe('NO_SUCH_BUCKET')
      expect(error.nextSteps.join('\n')).not.toMatch(/pass --endpoint/i)
      expect(error.nextSteps.join('\n')).toContain(`aws s3 ls --endpoint-url ${endpoint}`)
    })
  }
})
