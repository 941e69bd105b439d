import {CLIError} from '@oclif/core/errors'

import {fileSystemError} from './filesystem.js'

/**
 * The documented exit codes of every bucketwright command.
 *
 * - `Ok` (0): the command did everything it was asked.
 * - `Failure` (1): it could not finish (remote failure, bad input that stops the run, a bug).
 * - `Usage` (2): the command line or configuration is wrong; nothing was done.
 * - `VerificationFailed` (3): a check (verify, or a copy's verification) found a defect.
 * - `Quarantined` (4): the command finished, but some input was set aside as undecodable.
 */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  VerificationFailed: 3,
  Quarantined: 4,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Who must act on an error: the user (fix input or setup), the remote side (retry later), or us (a bug). */
export type ErrorCause = 'user' | 'remote' | 'bug' | 'verification'

/** Options shared by every bucketwright error. */
export interface BucketwrightErrorOptions {
  /** Stable, documented code, e.g. `NO_CREDENTIALS`; shown in `--json` output. */
  code: string
  /** Things the user can do next; printed under the message. */
  nextSteps?: string[]
  /** The underlying error, kept for debugging (never printed with secrets). */
  cause?: unknown
  /** Overrides the exit code implied by the error class. */
  exitCode?: ExitCode
  /** Extra, serialisable facts (bucket, key, action…) that go into `--json` output. */
  details?: Record<string, unknown>
}

/**
 * Base class of every error bucketwright raises on purpose. It is an oclif `CLIError`, so oclif prints the message
 * with the next steps as suggestions and exits with {@link exitCodeFor}'s code.
 */
export abstract class BucketwrightError extends CLIError {
  abstract readonly cause_: ErrorCause
  readonly nextSteps: string[]
  readonly details: Record<string, unknown>
  readonly exitCode: ExitCode

  constructor(message: string, options: BucketwrightErrorOptions, defaultExit: ExitCode) {
    const exitCode = options.exitCode ?? defaultExit
    super(message, {code: options.code, exit: exitCode, suggestions: options.nextSteps})
    this.name = new.target.name
    this.nextSteps = options.nextSteps ?? []
    this.details = options.details ?? {}
    this.exitCode = exitCode
    if (options.cause !== undefined) Object.defineProperty(this, 'cause', {value: options.cause, enumerable: false})
  }

  /** The `--json` shape of this error: `{code, message, cause, exitCode, nextSteps, details}`. */
  toJSON(): ErrorJson {
    return {
      code: this.code ?? 'ERROR',
      message: this.message,
      cause: this.cause_,
      exitCode: this.exitCode,
      nextSteps: this.nextSteps,
      details: this.details,
    }
  }
}

/** The JSON contract of an error under `--json`: printed as `{"error": ErrorJson}` on stdout. */
export interface ErrorJson {
  code: string
  message: string
  cause: ErrorCause
  exitCode: number
  nextSteps: string[]
  details: Record<string, unknown>
}

/** The user can fix it: bad flags, bad configuration, missing credentials, access denied. Exit 2 by default for usage. */
export class UserError extends BucketwrightError {
  readonly cause_ = 'user' as const
  constructor(message: string, options: BucketwrightErrorOptions) {
    super(message, options, ExitCode.Failure)
  }
}

/** The command line itself is wrong (exit 2): nothing was done. */
export class UsageError extends BucketwrightError {
  readonly cause_ = 'user' as const
  constructor(message: string, options: BucketwrightErrorOptions) {
    super(message, options, ExitCode.Usage)
  }
}

/** A remote system failed (S3, Postgres, network) after retries; trying again later may work. */
export class RemoteError extends BucketwrightError {
  readonly cause_ = 'remote' as const
  constructor(message: string, options: BucketwrightErrorOptions) {
    super(message, options, ExitCode.Failure)
  }
}

/** A check found a defect in the data (exit 3). */
export class VerificationError extends BucketwrightError {
  readonly cause_ = 'verification' as const
  constructor(message: string, options: BucketwrightErrorOptions) {
    super(message, options, ExitCode.VerificationFailed)
  }
}

/** Something that should not happen: a bug in bucketwright or a plugin. */
export class BugError extends BucketwrightError {
  readonly cause_ = 'bug' as const
  constructor(message: string, options: Partial<BucketwrightErrorOptions> = {}) {
    super(message, {code: 'BUG', ...options, nextSteps: options.nextSteps ?? ['Please report this with the command you ran and the output of `bucketwright --version`.']}, ExitCode.Failure)
  }
}

/**
 * The one place that decides a process exit code from an error: bucketwright errors carry their own; oclif's
 * parse errors (unknown flag, missing argument, bad value) are usage errors; anything else is a failure.
 */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof BucketwrightError) return error.exitCode
  if (isOclifParseError(error)) return ExitCode.Usage
  const exit = (error as {oclif?: {exit?: unknown}} | undefined)?.oclif?.exit
  if (typeof exit === 'number' && (Object.values(ExitCode) as number[]).includes(exit)) return exit as ExitCode
  return ExitCode.Failure
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
