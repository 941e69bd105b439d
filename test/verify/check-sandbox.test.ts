import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage} from '../../src/plugins/core/index.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {type CheckResult, type VerifyResult} from '../../src/plugins/core/verify/result.js'
import {runInProcess} from '../helpers/cli.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'
import {buildDataset, linkTinybusPlugin, removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

/** Every file under a folder with the SHA-256 of its bytes: what a run may not change. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await fs.readdir(root, {recursive: true, withFileTypes: true})) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    files[path.relative(root, file)] = createHash('sha256')
      .update(await fs.readFile(file))
      .digest('hex')
  }
  return files
}

const sql = (text: string) => text.replaceAll("'", "''")

describe('verify --check runs SQL that can read the outputs and nothing else', () => {
  let root: string
  let output: LocalStorage
  let secret: string
  let before: Record<string, string>
  const marker = `TOPSECRET-${randomBytes(6).toString('hex')}`

  beforeAll(async () => {
    await linkTinybusPlugin()
    root = await tempDir('bw-sandbox-')
    output = new LocalStorage(path.join(root, 'v2'))
    await buildDataset(undefined, output, {weeks: 2})
    secret = path.join(root, 'secret.txt')
    await fs.writeFile(secret, `${marker}\n`)
    await fs.writeFile(path.join(root, 'secret.jsonl'), `{"secret": "${marker}"}\n`)
    before = await snapshot(root)
  })
  afterAll(async () => {
    await fs.rm(root, {recursive: true, force: true})
  })

  /** Writes a check file (one query, named) and runs verify with it; the run must leave every file as it was. */
  const runWith = async (checks: string, extra: string[] = []) => {
    const file = path.join(root, 'checks', `${randomBytes(4).toString('hex')}.sql`)
    await fs.mkdir(path.dirname(file), {recursive: true})
    await fs.writeFile(file, checks)
    const run = await runInProcess<VerifyResult>(['verify', output.pathOf(''), '--source', 'tinybus', '--check-file', file, ...extra])
    await fs.rm(file)
    expect(await snapshot(root)).toEqual(before)
    return {...run, file}
  }

  const refused: [string, string, RegExp][] = [
    ['copy-out', "COPY (SELECT * FROM records) TO '{root}/stolen.csv'", /it is not a SELECT statement/],
    ['copy-over-an-output', "COPY (SELECT 1 AS x) TO '{output}/2024-W01.jsonl.gz' (FORMAT csv)", /it is not a SELECT statement/],
    ['attach', "ATTACH '{root}/x.db' AS x", /it is not a SELECT statement/],
    ['install', 'INSTALL httpfs', /it is not a SELECT statement/],
    ['load', 'LOAD httpfs', /it is not a SELECT statement/],
    ['set-access', 'SET enable_external_access = true', /it is not a SELECT statement/],
    ['set-paths', "SET allowed_directories = ['/']", /it is not a SELECT statement/],
    ['reset-lock', 'RESET lock_configuration', /it is not a SELECT statement/],
    ['pragma', 'PRAGMA enable_profiling', /it is not a SELECT statement/],
    ['export', "EXPORT DATABASE '{root}/export'", /it is not a SELECT statement/],
    ['create', 'CREATE TABLE kept AS SELECT * FROM records', /it is not a SELECT statement/],
    ['paren-smuggling', "SELECT 1) AS bw_check; COPY (SELECT 1) TO '{root}/paren.csv'; SELECT * FROM (SELECT 1", /it does not parse: syntax error at or near "\)"/],
    ['comment-smuggling', "SELECT 1 /* ; COPY (SELECT 1) TO '{root}/comment.csv'", /it does not parse: unterminated \/\* comment/],
  ]
  for (const [name, query, problem] of refused) {
    it(`refuses ${name} as a usage error naming the check, before reading anything`, async () => {
      const run = await runWith(`-- name: ${name}\n${query.replaceAll('{root}', root).replaceAll('{output}', output.pathOf('').replace(/\/$/, ''))};\n`)
      expect(run.exitCode).toBe(2)
      expect(run.error).toMatchObject({code: 'BAD_CHECK', message: expect.stringMatching(new RegExp(`^Check "${name}" \\(${run.file.replaceAll('/', '\\/')}\\) is not a single SELECT query: ${problem.source}`))})
      expect(run.stderr).not.toContain('Verifying')
    })
  }

  it('refuses a second statement smuggled after a ";" in --check', async () => {
    const run = await runInProcess(['verify', output.pathOf(''), '--source', 'tinybus', '--check', `SELECT * FROM records; COPY (SELECT 1) TO '${root}/smuggled.csv'`])
    expect(run.exitCode).toBe(2)
    expect(run.error?.message).toBe('Check "check-1" (--check) is not a single SELECT query: it holds 2 statements (one SELECT per check; separate the checks of a file with ";").')
    expect(await snapshot(root)).toEqual(before)
  })

  it('fails each SELECT that reaches outside the outputs as a counted check, and runs the legitimate ones', async () => {
    const outputDir = output.pathOf('').replace(/\/$/, '')
    const hostile: [string, string][] = [
      ['passwd', "SELECT * FROM read_csv('/etc/passwd')"],
      ['read-text', `SELECT content FROM read_text('${sql(secret)}')`],
      ['read-blob', `SELECT content FROM read_blob('${sql(secret)}')`],
      ['glob', `SELECT * FROM glob('${sql(root)}/*')`],
      ['traversal', `SELECT * FROM read_json('${sql(outputDir)}/../secret.jsonl')`],
      ['manifest', `SELECT * FROM read_json('${sql(outputDir)}/_manifests/2024-W01.jsonl.gz.json')`],
      ['parquet-metadata', `SELECT * FROM parquet_metadata('${sql(secret)}')`],
      ['network', "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')"],
      ['file-url', `SELECT * FROM read_text('file://${sql(secret)}')`],
    ]
    const legitimate = [
      '-- name: in-portland\nSELECT vehicleID, latitude FROM records WHERE latitude NOT BETWEEN 45 AND 46',
      '-- name: from-first\nFROM records WHERE vehicleID IS NULL',
      // The wrapper must not be commented out by a comment at the end of a check.
      '-- name: trailing-comment\nSELECT * FROM records WHERE time < 0 -- never\n',
      '-- name: with-cte\nWITH per_file AS (SELECT filename, count(*) AS n FROM records GROUP BY filename) SELECT * FROM per_file WHERE n = 0',
    ]
    const checks = [
      ...hostile.map(([name, query]) => `-- name: ${name}\n${query}`),
      "-- name: query-copy\nSELECT * FROM query('COPY (SELECT 1) TO ''" + sql(root) + "/q.csv''')",
      "-- name: getenv\nSELECT getenv('HOME')",
      ...legitimate,
    ]
    const run = await runWith(checks.join(';\n') + ';\n', ['--json'])
    expect(run.exitCode).toBe(3)
    const result = run.result!
    const sqlChecks = new Map(result.checks.filter((check) => check.name.startsWith('sql:')).map((check): [string, CheckResult] => [check.name.slice(4), check]))
    for (const [name] of hostile) {
      expect(sqlChecks.get(name), name).toMatchObject({
        status: 'fail',
        summary: expect.stringMatching(/^the query failed: a check may read only the outputs being verified \(the view "records"\): Permission Error: Cannot access file/),
      })
    }
    expect(sqlChecks.get('query-copy')).toMatchObject({status: 'fail', summary: expect.stringMatching(/^the query failed: .*single SELECT statement/)})
    expect(sqlChecks.get('getenv')).toMatchObject({status: 'fail', summary: expect.stringMatching(/^the query failed: Catalog Error: Scalar Function with name getenv does not exist/)})
    for (const name of ['in-portland', 'from-first', 'trailing-comment', 'with-cte']) expect(sqlChecks.get(name), name).toMatchObject({status: 'pass', summary: 'returned no rows'})
    // The rest of the verification is untouched by the failed checks.
    expect(result.checks.filter((check) => check.status === 'fail').map((check) => check.name)).toEqual([...hostile.map(([name]) => `sql:${name}`), 'sql:query-copy', 'sql:getenv'])
    // Nothing outside the outputs came back.
    const everything = JSON.stringify(result) + run.stdout + run.stderr
    expect(everything).not.toContain(marker)
    expect(everything).not.toMatch(/root:x:0:0/)
  })

  it('still reports rows of a legitimate check, with the output key as filename, a huge row shortened in the summary', async () => {
    const run = await runWith("-- name: fleet\nSELECT filename, vehicleID FROM records WHERE vehicleID = 100 ORDER BY filename;\n-- name: long\nSELECT repeat('x', 5000) AS long;\n", ['--json'])
    expect(run.exitCode).toBe(3)
    const fleet = run.result!.checks.find((check) => check.name === 'sql:fleet')!
    expect(fleet.details).toMatchObject({rows: 12, examples: expect.arrayContaining([{filename: '2024-W01.jsonl.gz', vehicleID: 100}])})
    // A huge example row: the summary shows its start, the details the whole row.
    const long = run.result!.checks.find((check) => check.name === 'sql:long')!
    expect(long.summary).toBe(`returned 1 row(s), e.g. {"long":"${'x'.repeat(190)}…`)
    expect((long.details.examples as {long: string}[])[0]!.long).toHaveLength(5000)
  })
})

describe.each(s3Servers())('verify --check on spooled S3 outputs ($name)', ({endpoint}) => {
  beforeAll(async () => {
    useS3Env(endpoint)
    await linkTinybusPlugin()
  })

  it('reads the spooled copies of the batch and nothing else', async () => {
    const bucket = await createTestBucket('bw-sandbox', testS3Client(endpoint))
    const output = await openStorage(`s3://${bucket}/v2/`, {endpoint, forcePathStyle: true, region: 'us-east-1'})
    const outside = await tempDir('bw-sandbox-s3-')
    try {
      await buildDataset(undefined, output, {weeks: 3})
      await fs.writeFile(path.join(outside, 'secret.txt'), 'TOPSECRET-S3\n')
      const largest = Math.max(...(await Promise.all(['2024-W01', '2024-W02', '2024-W03'].map(async (week) => (await output.head(`${week}.jsonl.gz`))!.size))))
      // One output per batch: each batch's DuckDB may read that batch's spooled file only.
      const run = await runInProcess<VerifyResult>([
        'verify',
        `s3://${bucket}/v2/`,
        '--source',
        'tinybus',
        '--json',
        '--disk-budget',
        `${largest + 10}B`,
        '--check',
        '-- name: legit\nSELECT * FROM records WHERE latitude NOT BETWEEN 45 AND 46',
        '--check',
        '-- name: per-batch\nSELECT 1 WHERE (SELECT count(DISTINCT filename) FROM records) <> 1',
        '--check',
        `-- name: outside\nSELECT content FROM read_text('${path.join(outside, 'secret.txt')}')`,
      ])
      expect(run.exitCode).toBe(3)
      const byName = Object.fromEntries(run.result!.checks.map((check) => [check.name, check]))
      expect(byName['sql:legit']).toMatchObject({status: 'pass', details: {scope: '3 batches of outputs that fit the disk budget, one at a time'}})
      expect(byName['sql:per-batch']).toMatchObject({status: 'pass'})
      expect(byName['sql:outside']).toMatchObject({status: 'fail', summary: expect.stringContaining('a check may read only the outputs being verified')})
      expect(JSON.stringify(run.result)).not.toContain('TOPSECRET-S3')
      expect(run.result!.checks.filter((check) => check.status === 'fail').map((check) => check.name)).toEqual(['sql:outside'])
    } finally {
      await output.close()
      await fs.rm(outside, {recursive: true, force: true})
    }
  })
})
