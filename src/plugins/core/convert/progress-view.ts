import type {Logger} from '../progress/logger.js'
import {type ProgressMode, runTasks} from '../progress/tasks.js'
import {RateMeter} from '../progress/rate.js'
import type {ConvertProgress, ObjectCounts} from './types.js'

/** Seconds between status lines when not on a terminal (cron logs want a pulse, not a flood). */
const PLAIN_EVERY_MS = 15_000

/**
 * convert's progress: one listr2 task per bucket (objects done/total, live on a terminal, timestamped lines under
 * cron) and the listing's keys found; nothing under --json or --quiet.
 */
export class ConvertProgressView implements ConvertProgress {
  private keysFound = 0
  private lastListingLine = 0
  private current?: {output: string}

  constructor(
    private readonly mode: ProgressMode,
    private readonly logger: Logger,
  ) {}

  listing(keysFound: number): void {
    this.keysFound = keysFound
    if (this.mode === 'terminal' && this.current) this.current.output = `listing: ${keysFound} keys found`
    if (this.mode === 'plain' && Date.now() - this.lastListingLine >= PLAIN_EVERY_MS) {
      this.lastListingLine = Date.now()
      this.logger.info(`Listing: ${keysFound} keys found so far`)
    }
  }

  async bucket<T>(key: string, work: (update: (status: string, counts?: ObjectCounts) => void) => Promise<T>): Promise<T> {
    if (this.mode === 'silent') return work(() => {})
    let result: T | undefined
    let lastLine = 0
    await runTasks(
      [
        {
          title: key,
          task: async (_ctx, task) => {
            this.current = task
            const meter = new RateMeter()
            const update = (status: string, counts?: ObjectCounts) => {
              if (this.mode === 'plain' && Date.now() - lastLine < PLAIN_EVERY_MS && !/^(written|rebuilt)/.test(status)) return
              lastLine = Date.now()
              // Rate and time left while objects are read (on a terminal live, under cron in each plain line).
              task.title = `${key}: ${status}${counts ? `, ${meter.describe(counts.done, counts.total, counts.records)}` : ''}`
            }
            try {
              result = await work(update)
            } finally {
              this.current = undefined
            }
          },
        },
      ],
      {mode: this.mode, logger: this.logger},
    )
    return result as T
  }

  skipped(key: string, why: string): void {
    if (this.mode === 'silent') return
    this.logger.info(`${key}: skipped, ${why}`)
  }
}
