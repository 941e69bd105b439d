import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {createTestBucket, s3Env} from '../helpers/s3.js'

/**
 * `--log-format json`: every line on stderr is one JSON object — log lines, progress, warnings, and the final error
 * oclif would print as text — so a log shipper never meets a line it cannot parse.
 */

interface LogLine {
  time: string
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  [field: string]: unknown
}

/** Every stderr line, parsed; a line that is not a JSON log object fails the test, quoting it. */
function logLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      let parsed: LogLine
      try {
        parsed = JSON.parse(line) as LogLine
      } catch {
        throw new Error(`Not a JSON line on stderr: ${JSON.stringify(line)}`)
      }
      expect(parsed, line).toMatchObject({time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.stringMatching(/^(debug|info|warn|error)$/), message: expect.any(String)})
      return parsed
    })
}

let T = ''
let warningPreload = ''
const env = () => ({XDG_CACHE_HOME: path.join(T, 'cache'), BUCKETWRIGHT_CONFIG: path.join(T, 'no-config.json')})

beforeAll(async () => {
  T = await mkdtemp(path.join(os.tmpdir(), 'bw-logjson-'))
  // A Node process warning during the run (at its end, when the command's handlers are in place).
  warningPreload = path.join(T, 'warn.cjs')
  await writeFile(warningPreload, "process.once('beforeExit', () => process.emitWarning('a warning from Node', 'DeprecationWarning', 'DEP0999'))\n")
})
afterAll(async () => {
  await rm(T, {recursive: true, force: true})
})

describe('--log-format json on good input', () => {
  it('generate, convert (with its progress), verify, compact (with a warning), ls, sources: only JSON lines on stderr', async () => {
    const raw = path.join(T, 'raw')
    const out = path.join(T, 'out')
    const runs = {
      generate: await runCli(['generate', raw, '--source', 'bustimes', '--from', '2021-11-08', '--to', '2021-11-08T02', '--rate', '20', '--log-format', 'json'], {env: env()}),
      convert: await runCli(['convert', raw, out, '--source', 'bustimes', '--bucket', 'hour', '--to', '2021-11-08T02', '--log-format', 'json'], {env: env()}),
      verify: await runCli(['verify', out, '--source', 'bustimes', '--raw', raw, '--log-format=json'], {env: env()}),
      compact: await runCli(['compact', raw, '--log-format', 'json'], {env: env()}),
      ls: await runCli(['ls', out, '--log-format', 'json'], {env: env()}),
      sources: await runCli(['sources'], {env: {...env(), BUCKETWRIGHT_LOG_FORMAT: 'json'}}),
    }
    for (const [command, run] of Object.entries(runs)) expect(run.code, `${command}: ${run.stderr}`).toBe(0)
    const lines = Object.fromEntries(Object.entries(runs).map(([command, run]) => [command, logLines(run.stderr)]))
    // The runs did log: progress from listr2 for each bucket converted, a warning from compact.
    expect(lines.generate!.some((line) => line.message.startsWith('Generating bustimes data'))).toBe(true)
    expect(lines.convert!.filter((line) => line.progress === true && /COMPLETED.*2021-11-08T0[01]/.test(line.message))).toHaveLength(2)
    expect(lines.verify!.length).toBeGreaterThan(0)
    expect(lines.compact!.some((line) => line.level === 'warn' && /partition compact knows/.test(line.message))).toBe(true)
    expect(lines.ls!.some((line) => /objects, \d+ bytes/.test(line.message))).toBe(true)
    // stdout still carries the result as text.
    expect(runs.convert.stdout).toMatch(/Total: 2 buckets/)
  })

  it("a Node process warning during the run is a JSON warn line, not Node's text", async () => {
    const run = await runCli(['sources', '--log-format', 'json'], {env: {...env(), NODE_OPTIONS: `--require ${warningPreload}`}})
    expect(run.code).toBe(0)
    const warning = logLines(run.stderr).find((line) => line.message === 'a warning from Node')
    expect(warning).toMatchObject({level: 'warn', warning: 'DeprecationWarning', warningCode: 'DEP0999'})
    // Without --log-format json, Node prints it as it always does.
    const text = await runCli(['sources'], {env: {...env(), NODE_OPTIONS: `--require ${warningPreload}`}})
    expect(text.stderr).toMatch(/DeprecationWarning: a warning from Node/)
  })

  it('upload-daemon --once on S3: only JSON lines', async () => {
    const bucket = await createTestBucket('bw-logjson')
    const root = path.join(T, 'daemon')
    await mkdir(path.join(root, bucket), {recursive: true})
    await writeFile(path.join(root, bucket, 'a.txt'), 'shipped')
    const run = await runCli(['upload-daemon', '--once', '-d', root, '-s', '0', '--log-format', 'json'], {env: {...env(), ...s3Env(), AWS_EC2_METADATA_DISABLED: 'true'}})
    expect(run.code).toBe(0)
    expect(logLines(run.stderr).some((line) => /Watching/.test(line.message))).toBe(true)
  })
})

describe('--log-format json on wrong input: the final error is one JSON line too', () => {
  it.each([
    {name: 'a missing input', args: ['convert', '<T>/nope', '<T>/out', '--source', 'bustimes'], code: 'NO_SUCH_LOCATION', exit: 2},
    {name: 'an impossible date', args: ['fetch', 's3://bucket/', '<T>/out', '--source', 'wydot-bsm', '--from', '2021-02-30', '--to', '2021-03-02'], code: 'BAD_TIME', exit: 2},
    {name: 'a flag given twice (before the flags are parsed)', args: ['convert', '<T>', '<T>/out', '--source', 'bustimes', '--bucket', 'day', '--bucket', 'week'], code: 'USAGE', exit: 2},
    {name: 'an unknown command', args: ['convret', '<T>'], code: 'UNKNOWN_COMMAND', exit: 2},
    {name: 'an output where no folder can be made', args: ['generate', '/proc/bw-no-such/out', '--source', 'bustimes', '--from', '2021-11-08', '--to', '2021-11-08T01'], code: 'CANNOT_CREATE_DIRECTORY', exit: 1},
  ])('$name → $code', async ({args, code, exit}) => {
    const filled = args.map((arg) => arg.replace('<T>', T))
    for (const given of [
      {args: [...filled, '--log-format', 'json'], env: env()},
      {args: filled, env: {...env(), BUCKETWRIGHT_LOG_FORMAT: 'json'}},
    ]) {
      const run = await runCli(given.args, {env: given.env})
      expect(run.code).toBe(exit)
      expect(run.stdout).toBe('')
      const errors = logLines(run.stderr).filter((line) => line.level === 'error')
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({code, exitCode: exit, cause: 'user', nextSteps: expect.arrayContaining([expect.any(String)])})
    }
  })
})
