import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, runInProcess} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, s3Env} from '../helpers/s3.js'

/**
 * Wrong input, command by command: each row must end with its documented exit code and error code, name the bad
 * value, give a next step, and do nothing. Never exit 0, never UNEXPECTED (a bug). Each row runs twice in this
 * process (text and --json); a few run as a user would, spawned.
 */

let T = ''
const at = (name: string) => path.join(T, name)
/** Placeholders, replaced by paths under the test's temp folder. */
const IN = '<in>' // an existing folder holding one file
const FILE = '<file>' // a file
const OUT = '<out>' // not there: must still not be there after every row
const NOPE = '<nope>' // not there

interface Row {
  args: string[]
  exit: number
  code: string
  /** The bad value (or flag) the message must name. */
  names: string
}

const range = ['--from', '2021-11-08', '--to', '2021-11-09']
const rows: Record<string, Row[]> = {
  convert: [
    {args: ['convert', NOPE, OUT, '--source', 'bustimes'], exit: 2, code: 'NO_SUCH_LOCATION', names: NOPE},
    {args: ['convert', FILE, OUT, '--source', 'bustimes'], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['convert', IN, `${FILE}/v2`, '--source', 'bustimes'], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['convert', 's3:/bucket', OUT, '--source', 'bustimes'], exit: 2, code: 'BAD_LOCATION', names: 'did you mean s3://bucket/?'},
    {args: ['convert', 's3:bucket/raw', OUT, '--source', 'bustimes'], exit: 2, code: 'BAD_LOCATION', names: 's3://bucket/raw'},
    {args: ['convert', IN, 's3://Bad_Bucket!/v2/', '--source', 'bustimes'], exit: 2, code: 'BAD_BUCKET_NAME', names: 'Bad_Bucket!'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-02-30'], exit: 2, code: 'BAD_TIME', names: '2021-02-30'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-04-01', '--to', '2021-04-31'], exit: 2, code: 'BAD_TIME', names: '2021-04-31'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-W54'], exit: 2, code: 'BAD_TIME', names: '2021-W54'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-W53'], exit: 2, code: 'BAD_TIME', names: '2021-W53'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-11-08T24:00'], exit: 2, code: 'BAD_TIME', names: 'hour 24'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-11-09', '--to', '2021-11-08'], exit: 2, code: 'BAD_RANGE', names: '2021-11-09'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2021-11-08', '--to', '2021-11-08'], exit: 2, code: 'BAD_RANGE', names: '2021-11-08'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--from', '2999-01-01'], exit: 2, code: 'BAD_RANGE', names: '2999-01-01'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--bucket', 'day', '--bucket', 'week'], exit: 2, code: 'USAGE', names: '--bucket'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--bucket', 'fortnight'], exit: 2, code: 'USAGE', names: 'fortnight'},
    {args: ['convert', IN, OUT, '--source', 'no-such-source'], exit: 2, code: 'UNKNOWN_SOURCE', names: 'no-such-source'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--key-template', 'all.jsonl.gz'], exit: 2, code: 'BAD_KEY_TEMPLATE', names: 'all.jsonl.gz'},
    {args: ['convert', IN, OUT, '--source', 'bustimes', '--concurrency', '0'], exit: 2, code: 'USAGE', names: '0'},
  ],
  compact: [
    {args: ['compact', NOPE], exit: 2, code: 'NO_SUCH_LOCATION', names: NOPE},
    {args: ['compact', FILE], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['compact', 's3://ab/'], exit: 2, code: 'BAD_BUCKET_NAME', names: '"ab"'},
    {args: ['compact', 's3://192.168.0.1/'], exit: 2, code: 'BAD_BUCKET_NAME', names: 'IP address'},
    {args: ['compact', IN, '--min-age', 'soon'], exit: 2, code: 'BAD_DURATION', names: 'soon'},
    {args: ['compact', IN, '--timezone', 'Mars/Olympus'], exit: 2, code: 'BAD_TIMEZONE', names: 'Mars/Olympus'},
    {args: ['compact', IN, '--target-size', '12XB'], exit: 2, code: 'BAD_SIZE', names: '12XB'},
    {args: ['compact', IN, '--min-files', '2', '--min-files', '3'], exit: 2, code: 'USAGE', names: '--min-files'},
  ],
  etl: [
    {args: ['etl', NOPE, '--source', 'coinbase', '--to', OUT], exit: 2, code: 'NO_SUCH_LOCATION', names: NOPE},
    {args: ['etl', IN, '--source', 'coinbase', '--to', FILE], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['etl', IN, '--source', 'coinbase', '--to', 's3:/vault'], exit: 2, code: 'BAD_LOCATION', names: 's3://vault/'},
    {args: ['etl', IN, '--source', 'coinbase', '--to', OUT, '--interval', 'forever'], exit: 2, code: 'BAD_DURATION', names: 'forever'},
    {args: ['etl', IN, '--source', 'coinbase', '--to', OUT, '--to', NOPE], exit: 2, code: 'USAGE', names: '--to'},
  ],
  verify: [
    {args: ['verify', NOPE, '--source', 'bustimes'], exit: 2, code: 'NO_SUCH_LOCATION', names: NOPE},
    {args: ['verify', IN, '--source', 'bustimes', '--raw', NOPE], exit: 2, code: 'NO_SUCH_LOCATION', names: NOPE},
    {args: ['verify', 's3://x/', '--source', 'bustimes'], exit: 2, code: 'BAD_BUCKET_NAME', names: '"x"'},
    {args: ['verify', IN, '--source', 'bustimes', '--sample', '200%'], exit: 2, code: 'USAGE', names: '200%'},
    {args: ['verify', IN, '--source', 'bustimes', '--drop-threshold', '2'], exit: 2, code: 'USAGE', names: '"2"'},
  ],
  fetch: [
    {args: ['fetch', IN, OUT, '--source', 'wydot-bsm', ...range], exit: 2, code: 'NOT_S3', names: IN},
    {args: ['fetch', 's3:/bucket', OUT, '--source', 'wydot-bsm', ...range], exit: 2, code: 'BAD_LOCATION', names: 's3://bucket/'},
    {args: ['fetch', 's3://Bad_Bucket!/', OUT, '--source', 'wydot-bsm', ...range], exit: 2, code: 'BAD_BUCKET_NAME', names: 'Bad_Bucket!'},
    {args: ['fetch', 's3://bucket/', FILE, '--source', 'wydot-bsm', ...range], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['fetch', 's3://bucket/', OUT, '--source', 'wydot-bsm', '--from', '2018-02-30', '--to', '2018-03-02'], exit: 2, code: 'BAD_TIME', names: '2018-02-30'},
    {args: ['fetch', 's3://bucket/', OUT, '--source', 'wydot-bsm', '--from', '2018-05-07', '--to', '2018-05-06'], exit: 2, code: 'BAD_RANGE', names: '2018-05-07'},
  ],
  generate: [
    {args: ['generate', FILE, '--source', 'bustimes', ...range], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['generate', 's3://Bad_Bucket!/', '--source', 'bustimes', ...range], exit: 2, code: 'BAD_BUCKET_NAME', names: 'Bad_Bucket!'},
    {args: ['generate', OUT, '--source', 'bustimes', '--from', '2021-W54', '--to', '2022-W02'], exit: 2, code: 'BAD_TIME', names: '2021-W54'},
    {args: ['generate', OUT, '--source', 'bustimes', '--from', '2021-01-02', '--to', '2021-01-01'], exit: 2, code: 'BAD_RANGE', names: '2021-01-02'},
    {args: ['generate', OUT, '--source', 'bustimes', ...range, '--rate', '0'], exit: 2, code: 'USAGE', names: '0'},
    {args: ['generate', OUT, '--source', 'bustimes', ...range, '--seed', '1', '--seed', '2'], exit: 2, code: 'USAGE', names: '--seed'},
  ],
  ingest: [
    {args: ['ingest', OUT, '--source', 'coinbase', '--file', NOPE], exit: 2, code: 'USAGE', names: NOPE},
    {args: ['ingest', FILE, '--source', 'coinbase', '--file', FILE], exit: 2, code: 'NOT_A_DIRECTORY', names: FILE},
    {args: ['ingest', OUT, '--source', 'coinbase', '--rotate-size', 'abc'], exit: 2, code: 'BAD_SIZE', names: 'abc'},
  ],
  'upload-daemon': [
    {args: ['upload-daemon', '--once', '-d', NOPE], exit: 2, code: 'ROOT_NOT_FOUND', names: NOPE},
    {args: ['upload-daemon', '--once', '-d', FILE], exit: 2, code: 'ROOT_NOT_A_DIRECTORY', names: FILE},
    {args: ['upload-daemon', 'start', '-d', NOPE, '--run-dir', `${OUT}-run`], exit: 2, code: 'ROOT_NOT_FOUND', names: NOPE},
    {args: ['upload-daemon', '--once', '-d', IN, '--bucket-map', 'a=Not_Valid'], exit: 2, code: 'BAD_BUCKET_MAP', names: 'Not_Valid'},
    {args: ['upload-daemon', '--once', '-d', IN, '-i', '0'], exit: 2, code: 'USAGE', names: '0'},
    {args: ['upload-daemon', '--once', '-d', IN, '-i', '1', '-i', '2'], exit: 2, code: 'USAGE', names: '--interval'},
    {args: ['upload-daemon', '--once', '--print-systemd-unit', '-d', IN], exit: 2, code: 'USAGE', names: '--once'},
  ],
  sources: [
    {args: ['sources', 'extra'], exit: 2, code: 'USAGE', names: 'extra'},
    {args: ['sources', '--bogus'], exit: 2, code: 'USAGE', names: '--bogus'},
  ],
  init: [
    {args: ['init', '--yes', '--storage', 's3', '--bucket', 'Bad_Bucket!', '--source', 'bustimes', '--no-check', '--config', `${OUT}.json`], exit: 2, code: 'BAD_BUCKET_NAME', names: 'Bad_Bucket!'},
    {args: ['init', '--yes', '--config', `${OUT}.json`], exit: 2, code: 'MISSING_FLAGS', names: '--storage'},
  ],
  ls: [
    {args: ['ls', NOPE], exit: 2, code: 'NO_SUCH_LOCATION', names: NOPE},
    {args: ['ls', IN, '--limit', '-1'], exit: 2, code: 'USAGE', names: '-1'},
  ],
  '(no command)': [
    {args: ['convret', IN], exit: 2, code: 'UNKNOWN_COMMAND', names: 'convret'},
    {args: ['upload-daemon', 'strt'], exit: 2, code: 'UNKNOWN_COMMAND', names: 'upload-daemon strt'},
  ],
}

const fill = (text: string) => text.replaceAll(IN, at('in')).replaceAll(FILE, at('a-file')).replaceAll(OUT, at('out')).replaceAll(NOPE, at('nope'))

interface ErrorDocument {
  error: {code: string; message: string; cause: string; exitCode: number; nextSteps: string[]; details: Record<string, unknown>}
}

const saved: Record<string, string | undefined> = {}
beforeAll(async () => {
  T = await mkdtemp(path.join(os.tmpdir(), 'bw-safety-'))
  await mkdir(at('in'))
  await writeFile(path.join(at('in'), 'bustimes__2021-11-08T10:00:00.json'), '[]')
  await writeFile(at('a-file'), 'not a folder')
  // No config file, lock or credentials of the machine running the tests.
  for (const [key, value] of Object.entries({...s3Env(), BUCKETWRIGHT_CONFIG: at('no-config.json'), XDG_CACHE_HOME: at('cache'), AWS_EC2_METADATA_DISABLED: 'true'})) {
    saved[key] = process.env[key]
    process.env[key] = value
  }
})
afterAll(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  await rm(T, {recursive: true, force: true})
})

describe.each(Object.entries(rows))('%s: wrong input ends with a usage error and changes nothing', (_command, table) => {
  it.each(table)('$args.0 $args.1 … → exit $exit, $code', async (row) => {
    const args = row.args.map(fill)
    const names = fill(row.names)

    const text = await runInProcess(args)
    expect(text.exitCode, `${args.join(' ')}: ${text.error?.message}`).toBe(row.exit)
    const error = text.error as (Error & {code?: string; nextSteps?: string[]}) | undefined
    expect(error?.code).toBe(row.code)
    expect(error?.message).toContain(names)
    expect(error?.nextSteps?.length).toBeGreaterThan(0)
    expect(text.stdout).toBe('')

    const json = await runInProcess([...args, '--json'])
    expect(json.exitCode).toBe(row.exit)
    const document = JSON.parse(json.stdout) as ErrorDocument
    expect(Object.keys(document)).toEqual(['error'])
    expect(document.error).toMatchObject({code: row.code, cause: 'user', exitCode: row.exit})
    expect(Object.keys(document.error).sort()).toEqual(['cause', 'code', 'details', 'exitCode', 'message', 'nextSteps'])
    expect(document.error.message).toContain(names)
    expect(document.error.message).not.toMatch(/^Parsing --|See more help with --help/)
    expect(document.error.nextSteps.length).toBeGreaterThan(0)
    expect(document.error.code).not.toMatch(/^(UNEXPECTED|BUG)$/)

    // Nothing was done: no output folder, config file or run directory appeared.
    expect(existsSync(at('out')) || existsSync(at('out.json')) || existsSync(at('out-run'))).toBe(false)
    expect(await readdir(at('in'))).toEqual(['bustimes__2021-11-08T10:00:00.json'])
  })
})

describe('spawned as a user would: exit code, stderr and stdout', () => {
  it('an unknown command exits 2 with the nearest command on stderr, and one {"error"} document under --json', async () => {
    const text = await runCli(['convret', '.'])
    expect(text.code).toBe(2)
    expect(text.stdout).toBe('')
    expect(text.stderr).toContain('"convret" is not a bucketwright command')
    expect(text.stderr).toContain('Did you mean `bucketwright convert`?')
    const json = await runCli(['convret', '.', '--json'])
    expect(json.code).toBe(2)
    expect((JSON.parse(json.stdout) as ErrorDocument).error).toMatchObject({code: 'UNKNOWN_COMMAND', exitCode: 2, details: {command: 'convret', suggestion: 'convert'}})
  })

  it('a flag given twice is a usage error (exit 2), not a bug (exit 1)', async () => {
    const run = await runCli(['convert', at('in'), at('out'), '--source', 'bustimes', '--bucket', 'day', '--bucket', 'week'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--bucket was given more than once')
    expect(run.stderr).not.toMatch(/UNEXPECTED|report this/)
  })

  it('s3:/bucket (one slash) asks "did you mean s3://bucket/?" instead of converting a local folder named s3:', async () => {
    const run = await runCli(['convert', 's3:/bucket', at('out'), '--source', 'bustimes'], {cwd: T})
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('did you mean s3://bucket/?')
    expect(existsSync(path.join(T, 's3:'))).toBe(false)
  })
})

describe('an impossible bucket name fails before any request', () => {
  let proxy: FaultProxy
  beforeAll(async () => {
    proxy = await new FaultProxy(s3Endpoint()).start()
  })
  afterAll(async () => {
    await proxy.stop()
  })

  it.each([['Bad_Bucket!'], ['ab'], ['10.0.0.1'], ['a'.repeat(256)]])('%s: exit 2, no request', async (bucket) => {
    const before = proxy.requests.length
    const run = await runCli(['ls', `s3://${bucket}/`, '--json'], {env: s3Env(proxy.endpoint)})
    expect(run.code).toBe(2)
    expect((JSON.parse(run.stdout) as ErrorDocument).error.code).toBe('BAD_BUCKET_NAME')
    expect(proxy.requests.length).toBe(before)
  })

  it('a name that can exist goes to the store (so the count above means something)', async () => {
    const bucket = await createTestBucket('bw-names')
    const before = proxy.requests.length
    const run = await runCli(['ls', `s3://${bucket}/`, '--json'], {env: s3Env(proxy.endpoint)})
    expect(run.code).toBe(0)
    expect(proxy.requests.length).toBeGreaterThan(before)
  })
})
