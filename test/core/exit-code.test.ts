import {Errors, Flags, Parser} from '@oclif/core'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {BugError, ExitCode, RemoteError, UsageError, UserError, VerificationError} from '../../src/plugins/core/errors/errors.js'
import {exitCodeFor, toBucketwrightError} from '../../src/plugins/core/errors/normalise.js'
import {runCli} from '../helpers/cli.js'

/** What oclif's real parser throws for this command line. */
async function parseError(argv: string[]): Promise<unknown> {
  return Parser.parse(argv, {flags: {count: Flags.integer()}, args: {}, strict: true}).then(
    () => {
      throw new Error(`${argv.join(' ')} parsed`)
    },
    (error: unknown) => error,
  )
}

// exitCodeFor is the one map from any error to the documented exit codes (0 ok, 1 failure, 2 usage, 3 verification
// failed, 4 quarantined): BaseCommand's catch and bin/run.js both end the process with what it says.
describe('exitCodeFor', () => {
  it('takes a bucketwright error’s own code, including an explicit override', () => {
    const opts = {code: 'X'}
    expect(exitCodeFor(new UserError('u', opts))).toBe(ExitCode.Failure)
    expect(exitCodeFor(new UsageError('u', opts))).toBe(ExitCode.Usage)
    expect(exitCodeFor(new RemoteError('r', opts))).toBe(ExitCode.Failure)
    expect(exitCodeFor(new VerificationError('v', opts))).toBe(ExitCode.VerificationFailed)
    expect(exitCodeFor(new BugError('b'))).toBe(ExitCode.Failure)
    expect(exitCodeFor(new UserError('q', {code: 'Q', exitCode: ExitCode.Quarantined}))).toBe(ExitCode.Quarantined)
  })

  it('maps what oclif’s parser throws (unknown flag, a flag’s own parse failure) to usage, as toBucketwrightError does', async () => {
    for (const argv of [['--bogus'], ['--count', 'abc'], ['extra-argument']]) {
      const error = await parseError(argv)
      expect(exitCodeFor(error), argv.join(' ')).toBe(ExitCode.Usage)
      expect(toBucketwrightError(error)).toBeInstanceOf(UsageError)
    }
  })

  it('keeps a documented oclif exit (help’s 0, a plugin command’s exit 2) and makes any other code a failure', () => {
    expect(exitCodeFor(new Errors.ExitError(0))).toBe(ExitCode.Ok)
    expect(exitCodeFor(new Errors.CLIError('bad', {exit: 2}))).toBe(ExitCode.Usage)
    expect(exitCodeFor(new Errors.CLIError('odd', {exit: 42}))).toBe(ExitCode.Failure)
    expect(exitCodeFor(new Errors.ExitError(127))).toBe(ExitCode.Failure)
    // A help flag (Flags.help with a char) ends parsing with an ExitError(0) whose message oclif prefixes with
    // "Parsing --help": an exit asked for, not a parse failure.
    const help = new Errors.ExitError(0)
    help.message = `Parsing --help \n\t${help.message}`
    expect(exitCodeFor(help)).toBe(ExitCode.Ok)
  })

  it('a real file-system error, a plain Error and thrown non-errors are failures (1), never success', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-exit-'))
    try {
      const missing = await fs.readFile(path.join(dir, 'missing')).catch((error: unknown) => error)
      expect(exitCodeFor(missing)).toBe(ExitCode.Failure)
      // The same code as the UserError it becomes.
      expect(exitCodeFor(toBucketwrightError(missing))).toBe(ExitCode.Failure)
      expect(toBucketwrightError(missing)).toBeInstanceOf(UserError)
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
    for (const thrown of [new Error('boom'), new TypeError('x is undefined'), 'a string', undefined, null, 42, {oclif: {exit: 0}, message: 'not an Error'}]) {
      expect(exitCodeFor(thrown), String(thrown)).toBe(ExitCode.Failure)
    }
  })
})

// Through the real CLI: errors that end the process outside a command's catch (an unknown command, through the
// command_not_found hook) and a help flag's exit, both now decided by exitCodeFor in bin/run.js.
describe('the CLI ends with exitCodeFor’s code', () => {
  it('an unknown command exits 2; a command’s --help exits 0; a bad flag exits 2', async () => {
    const unknown = await runCli(['convret'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/convert/)
    const help = await runCli(['ls', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/USAGE/)
    const bad = await runCli(['ls', '--bogus'])
    expect(bad.code).toBe(2)
  })
})
