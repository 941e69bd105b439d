import {CLIError} from '@oclif/core/errors'

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
 * with the next steps as suggestions and exits with its {@link BucketwrightError.exitCode} (normalise.ts's `exitCodeFor`
 * maps any error to an exit code).
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
