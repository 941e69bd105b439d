import {printable} from '../command/printable.js'
import type {Logger} from '../progress/logger.js'
import {type ProgressMode, runTasks} from '../progress/tasks.js'

/**
 * Runs verify's work with progress on stderr: one live listr2 task on a terminal (its line shows the latest step),
 * a timestamped log line per step otherwise (cron), nothing under `--json`/`--quiet`. Steps name output keys:
 * they are made printable (a key's control characters shown escaped) on either renderer.
 */
export async function withProgress<T>(mode: ProgressMode, logger: Logger, title: string, work: (step: (message: string) => void) => Promise<T>): Promise<T> {
  if (mode === 'silent') return work(() => {})
  if (mode === 'plain') return work((message) => logger.info(printable(message)))
  let result: T | undefined
  await runTasks(
    [
      {
        title,
        task: async (_ctx, task) => {
          result = await work((message) => (task.output = printable(message)))
        },
      },
    ],
    {mode, logger},
  )
  return result as T
}
