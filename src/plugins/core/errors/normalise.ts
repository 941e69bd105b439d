import {BucketwrightError, BugError, ExitCode, UsageError} from './errors.js'
import {fileSystemError} from './filesystem.js'

// Turning any thrown value into a bucketwright error and an exit code. Apart from the error classes (errors.ts), so
// that filesystem.ts can make a UserError while this module translates file-system errors, without a cycle.

/**
 * The one place that decides a process exit code from an error (BaseCommand's `catch` and bin/run.js use it):
 * bucketwright errors carry their own; oclif's parse errors (unknown flag, missing argument, bad value) are usage
 * errors; a local file-system error is the user's to fix (1); an oclif exit with a documented code (help's 0, a
 * plugin command's `this.error(…, {exit: 2})`) keeps it; anything else is a failure.
 */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof BucketwrightError) return error.exitCode
  // oclif's ExitError (code EEXIT) is an exit asked for: --help and --version end parsing with exit 0, and oclif
  // prefixes the message with "Parsing --help", which must not read as a parse failure.
  if (isExitRequest(error)) return exitOf(error)
  if (isOclifParseError(error)) return ExitCode.Usage
  // Only an Error's: a thrown plain object claiming `{oclif: {exit: 0}}` is not a success.
  return error instanceof Error ? exitOf(error) : ExitCode.Failure
}

function isExitRequest(error: unknown): error is Error {
  return error instanceof Error && (error as {code?: unknown}).code === 'EEXIT'
}

function exitOf(error: Error): ExitCode {
  const exit = (error as {oclif?: {exit?: unknown}}).oclif?.exit
  return typeof exit === 'number' && (Object.values(ExitCode) as number[]).includes(exit) ? (exit as ExitCode) : ExitCode.Failure
}

function isOclifParseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  // oclif rethrows what a flag's own parse function threw, its message prefixed with "Parsing --<flag>".
  if (/^Parsing --/.test(error.message)) return true
  // Every oclif parser error (missing argument, unknown flag, bad option…) extends CLIParseError, which sets `parse`.
  return 'parse' in error
}

/**
 * Turns any thrown value into a bucketwright error: a local file-system error becomes a {@link UserError} naming the
 * path; an oclif parse error a {@link UsageError}; anything else a {@link BugError} keeping the message.
 */
export function toBucketwrightError(error: unknown): BucketwrightError {
  if (error instanceof BucketwrightError) return unwrapParseMessage(error)
  if (isOclifParseError(error)) return parseFailure(error)
  const fromFileSystem = fileSystemError(error)
  if (fromFileSystem) return fromFileSystem
  const message = error instanceof Error ? error.message : String(error)
  return new BugError(message, {code: 'UNEXPECTED', cause: error})
}

/**
 * A failure while oclif parses the command line (whatever it throws: a parse error, a flag given twice, a flag's
 * own parse function) is a usage error; a bucketwright error thrown by a flag's parse function keeps its code.
 */
export function parseFailure(error: unknown): BucketwrightError {
  if (error instanceof BucketwrightError) return unwrapParseMessage(error)
  const message = stripParseWrapper(error instanceof Error ? error.message : String(error))
  const once = /^Flag --([\w-]+) can only be specified once/.exec(message)
  if (once) {
    return new UsageError(`--${once[1]} was given more than once; it takes one value.`, {code: 'USAGE', nextSteps: [`Give --${once[1]} once.`], details: {flag: once[1]}})
  }
  return new UsageError(message, {code: 'USAGE', nextSteps: ['Run the command with --help to see its arguments and flags.']})
}

/**
 * oclif's parse messages, without its wrapping: "Parsing --flag \n\t<message>" around what a flag's parse function
 * threw becomes "--flag: <message>" (the flag stays named: "received: 0" alone does not say where), "The following error occurred:" before a flag relation, "See more help with --help" after (the next step
 * says so).
 */
function stripParseWrapper(message: string): string {
  return message
    .replace(/^Parsing (--[\w-]+) \n\t/, '$1: ')
    .replace(/^The following errors? occurred:\s*/, '')
    .replace(/\s*See more help with --help\s*$/, '')
    .replace(/\n\s+/g, '\n')
}

function unwrapParseMessage(error: BucketwrightError): BucketwrightError {
  const message = stripParseWrapper(error.message)
  if (message !== error.message) error.message = message
  return error
}
