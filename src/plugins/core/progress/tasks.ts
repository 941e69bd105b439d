import type {ListrTask} from 'listr2'

import {logTimestamp} from './logger.js'

/** How progress is shown: listr2's live renderer on a terminal, timestamped lines otherwise, nothing when silent. */
export type ProgressMode = 'terminal' | 'plain' | 'silent'

/** Picks the progress mode: silent under `--json`/`--quiet`, plain when stderr is not a terminal (cron, CI). */
export function progressMode(options: {json?: boolean; quiet?: boolean}): ProgressMode {
  if (options.json || options.quiet) return 'silent'
  return process.stderr.isTTY ? 'terminal' : 'plain'
}

/**
 * Runs listr2 tasks with every renderer writing to stderr, so stdout carries only the command's result.
 * Tasks run concurrently when `concurrent` is given (a number bounds it).
 */
export async function runTasks<Ctx extends object>(tasks: ListrTask<Ctx>[], options: {mode: ProgressMode; concurrent?: boolean | number; ctx?: Ctx; exitOnError?: boolean}): Promise<Ctx> {
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  const processOutput = new ProcessOutput(process.stderr, process.stderr, {dump: ['stderr'], leaveEmptyLine: false})
  // Plain lines carry the same UTC timestamp as log lines, so cron logs read in one order.
  const timestamp = {condition: true, field: () => logTimestamp(), format: () => (text: string) => text}
  // Renderers build their own logger writing to stdout unless handed one bound to stderr.
  const logger = new ListrLogger({useIcons: true, processOutput})
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
