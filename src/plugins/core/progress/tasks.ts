import type {ListrTask} from 'listr2'

import {type LogFormat, type Logger, logTimestamp} from './logger.js'

/** How progress is shown: listr2's live renderer on a terminal, timestamped lines otherwise, nothing when silent. */
export type ProgressMode = 'terminal' | 'plain' | 'silent'

/**
 * Picks the progress mode: silent under `--json`/`--quiet`, plain when stderr is not a terminal (cron, CI) or
 * carries JSON log lines (a live renderer's redrawn lines cannot be JSON).
 */
export function progressMode(options: {json?: boolean; quiet?: boolean; logFormat?: LogFormat}): ProgressMode {
  if (options.json || options.quiet) return 'silent'
  return process.stderr.isTTY && options.logFormat !== 'json' ? 'terminal' : 'plain'
}

/**
 * Runs listr2 tasks with every renderer writing to stderr, so stdout carries only the command's result.
 * Tasks run concurrently when `concurrent` is given (a number bounds it). Plain lines go through `logger` when it
 * writes JSON (`--log-format json`), one log line each.
 */
export async function runTasks<Ctx extends object>(tasks: ListrTask<Ctx>[], options: {mode: ProgressMode; concurrent?: boolean | number; ctx?: Ctx; exitOnError?: boolean; logger?: Logger}): Promise<Ctx> {
  const {cleanseAnsi, createWritable, Listr, ListrLogger, ProcessOutput} = await import('listr2')
  const jsonLogger = options.mode === 'plain' && options.logger?.format === 'json' ? options.logger : undefined
  const stream = jsonLogger
    ? createWritable((text) => {
        for (const line of cleanseAnsi(text).split('\n')) if (line.trim()) jsonLogger.info(line.trim().replace(/\s+/g, ' '), {progress: true})
      })
    : process.stderr
  const processOutput = new ProcessOutput(stream as NodeJS.WriteStream, stream as NodeJS.WriteStream, {dump: ['stderr'], leaveEmptyLine: false})
  // Plain lines carry the same UTC timestamp as log lines, so cron logs read in one order (a JSON line has its own).
  const timestamp = {condition: !jsonLogger, field: () => logTimestamp(), format: () => (text: string) => text}
  // Renderers build their own logger writing to stdout unless handed one bound to stderr.
  const logger = new ListrLogger({useIcons: !jsonLogger, processOutput})
  const renderer = options.mode === 'terminal' ? 'default' : options.mode === 'plain' ? 'simple' : 'silent'
  const list = new Listr<Ctx>(tasks, {
    concurrent: options.concurrent ?? false,
    exitOnError: options.exitOnError ?? true,
    ctx: options.ctx,
    renderer,
    fallbackRenderer: 'simple',
    rendererOptions: {processOutput, logger, timestamp} as never,
    fallbackRendererOptions: {processOutput, logger, timestamp} as never,
    registerSignalListeners: false,
  } as never)
  return list.run()
}
