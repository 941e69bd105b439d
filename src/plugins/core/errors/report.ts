import {printable} from '../command/printable.js'
import {type LogFormat, Logger} from '../progress/logger.js'
import type {BucketwrightError} from './errors.js'

/** What the user asked the output to look like: `--json` (stdout) and `--log-format` (stderr). */
export interface OutputFormat {
  json: boolean
  logFormat: LogFormat
}

/**
 * Reads `--json` and `--log-format` from the raw command line and the environment, for errors raised before (or
 * without) flag parsing: a flag given twice, an unknown command.
 */
export function outputFormatOf(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): OutputFormat {
  const end = argv.indexOf('--')
  const flags = end === -1 ? argv : argv.slice(0, end)
  let logFormat: string | undefined = env.BUCKETWRIGHT_LOG_FORMAT
  flags.forEach((arg, index) => {
    if (arg === '--log-format') logFormat = flags[index + 1]
    else if (arg.startsWith('--log-format=')) logFormat = arg.slice('--log-format='.length)
  })
  return {json: flags.includes('--json') || env.CONTENT_TYPE?.toLowerCase() === 'json', logFormat: logFormat === 'json' ? 'json' : 'text'}
}

/**
 * Prints a command's final error where the user asked for it: `{"error": …}` on stdout under `--json`, one JSON log
 * line on stderr under `--log-format json`. Returns the error to throw on, marked so that oclif, which prints what
 * is left as text, prints nothing more; its exit code stays.
 */
export function reportError(error: BucketwrightError, format: OutputFormat, logger = new Logger({format: format.logFormat})): BucketwrightError {
  if (format.json) {
    process.stdout.write(JSON.stringify({error: error.toJSON()}, null, 2) + '\n')
  } else if (format.logFormat === 'json') {
    const {message, ...fields} = error.toJSON()
    logger.error(message, fields)
  } else {
    // oclif prints the message and next steps as they are: a key or value in them must not drive the terminal.
    error.message = printable(error.message, {keepNewlines: true})
    const suggestions = (error as {suggestions?: string[]}).suggestions
    if (suggestions) Object.assign(error, {suggestions: suggestions.map((step) => printable(step))})
    return error
  }
  Object.assign(error, {skipOclifErrorHandling: true})
  return error
}
