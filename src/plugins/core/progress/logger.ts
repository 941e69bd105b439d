import {printable} from '../command/printable.js'

/** Log levels, in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** `text`: `[YYYY-MM-DD HH:MM:SS] LEVEL message`; `json`: one JSON object a line. */
export type LogFormat = 'text' | 'json'

/** The zone of log times: UTC (the default) or the machine's local time (`--log-timezone local`). */
export type LogTimezone = 'utc' | 'local'

/** Options of {@link Logger}. */
export interface LoggerOptions {
  format?: LogFormat
  /** Drop info and debug lines (warnings and errors still go out). */
  quiet?: boolean
  verbose?: boolean
  /** The zone of the timestamps (default UTC). */
  timezone?: LogTimezone
  /** Where lines go (default process.stderr); never stdout, which carries only data. */
  stream?: {write(line: string): unknown}
}

const LEVEL_ORDER: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}

/** Formats a date as `YYYY-MM-DD HH:MM:SS` in UTC, or in local time. */
export function logTimestamp(date = new Date(), timezone: LogTimezone = 'utc'): string {
  if (timezone === 'utc') return date.toISOString().slice(0, 19).replace('T', ' ')
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

/** ISO 8601 with milliseconds: `…Z` in UTC, or the local time with its offset (`2026-12-04T02:35:07.120+05:45`). */
export function logIsoTime(date = new Date(), timezone: LogTimezone = 'utc'): string {
  if (timezone === 'utc') return date.toISOString()
  const offset = -date.getTimezoneOffset()
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, '0')
  return `${logTimestamp(date, 'local').replace(' ', 'T')}.${String(date.getMilliseconds()).padStart(3, '0')}${offset < 0 ? '-' : '+'}${pad(offset / 60)}:${pad(offset % 60)}`
}

/** Timestamped log lines on stderr: what cron logs and `journalctl` show. */
export class Logger {
  private readonly min: number

  constructor(private readonly options: LoggerOptions = {}) {
    this.min = options.quiet ? LEVEL_ORDER.warn : options.verbose ? LEVEL_ORDER.debug : LEVEL_ORDER.info
  }

  /** The same logger with its times in another zone (`--log-timezone`). */
  inTimezone(timezone: LogTimezone): Logger {
    const logger = new Logger({...this.options, timezone})
    // Node's process warnings follow (see logProcessWarnings).
    if (warningLogger === this) warningLogger = logger
    return logger
  }

  /**
   * The same logger with its lines held and written together once per turn of the event loop, for a run that logs
   * a line per file by thousands a second (the upload daemon): each write to stderr — a pipe, a file, the journal's
   * socket — is a system call on the JS thread, and one a line cost the daemon a tenth of its time on small files.
   * Lines keep their order and their times (taken when logged); `close()` writes what is held and must end the run
   * (the process's exit writes it too, should the run not get there).
   */
  buffered(): {logger: Logger; close: () => void} {
    const lines = new HeldLines(this.options.stream ?? process.stderr)
    const logger = new Logger({...this.options, stream: lines})
    if (warningLogger === this) warningLogger = logger
    return {
      logger,
      close: () => {
        lines.close()
        handWarnings(logger, this)
      },
    }
  }

  /** Whether lines are text or JSON. */
  get format(): LogFormat {
    return this.options.format ?? 'text'
  }

  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    if (LEVEL_ORDER[level] < this.min) return
    const stream = this.options.stream ?? process.stderr
    if (this.options.format === 'json') {
      stream.write(JSON.stringify({time: logIsoTime(new Date(), this.options.timezone), level, message, ...fields}) + '\n')
    } else {
      // A key or value inside the message cannot colour the terminal or start a line that looks like a log line of
      // its own: control characters are escaped, and the lines of a multi-line message (a stack) are indented.
      stream.write(`[${logTimestamp(new Date(), this.options.timezone)}] ${level.toUpperCase()} ${printable(message, {keepNewlines: true}).replaceAll('\n', '\n    ')}\n`)
    }
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.log('debug', message, fields)
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.log('info', message, fields)
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.log('warn', message, fields)
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.log('error', message, fields)
  }
}

let warningLogger: Logger | undefined

/** Node's process warnings go to `to` from now on, if they went to `from`. */
function handWarnings(from: Logger, to: Logger): void {
  if (warningLogger === from) warningLogger = to
}

/** Up to this much text is held before it is written at once (a burst of lines in one turn of the event loop). */
const HELD_LIMIT = 64 * 1024

/** Lines held for one write at the end of the event loop's turn (see {@link Logger.buffered}). */
class HeldLines {
  private held = ''
  private scheduled = false
  private readonly atExit = () => this.flush()

  constructor(private readonly stream: {write(line: string): unknown}) {
    process.on('exit', this.atExit)
  }

  write(line: string): void {
    this.held += line
    if (this.held.length >= HELD_LIMIT) this.flush()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        this.scheduled = false
        this.flush()
      })
    }
  }

  flush(): void {
    if (this.held === '') return
    const text = this.held
    this.held = ''
    this.stream.write(text)
  }

  close(): void {
    this.flush()
    process.off('exit', this.atExit)
  }
}

/**
 * Node's process warnings (deprecations, listener leaks) as warn lines of `logger` (the latest one given) until the
 * process ends, instead of Node's text: `--log-format json` keeps stderr all JSON. Node's own printer, a 'warning'
 * listener, is removed.
 */
export function logProcessWarnings(logger: Logger): void {
  if (!warningLogger) {
    process.removeAllListeners('warning')
    process.on('warning', (warning: Error & {code?: string}) => warningLogger?.warn(warning.message, {warning: warning.name, ...(warning.code ? {warningCode: warning.code} : {})}))
  }
  warningLogger = logger
}
