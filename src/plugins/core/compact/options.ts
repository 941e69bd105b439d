import type {Shard} from '../command/shard.js'
import {checkTimeZone} from './age.js'
import type {CompactOptions} from './compactor.js'
import type {MergeStrategy} from './merge.js'

/**
 * compact's settings as parsed from its flags (their environment variables and the config file's `commands.compact`
 * entry included: `BaseCommand` applies them, and the flags' parsers checked every value).
 */
export interface CompactSettings {
  /** Milliseconds. */
  'min-age': number
  timezone: string
  'min-files': number
  pattern?: string
  /** Bytes. */
  'target-size': number
  'row-group-size'?: number
  /** Bytes. */
  'memory-limit': number
  /** Bytes. */
  'disk-budget': number
  threads?: number
  'delete-batch': number
}

/** Resolves compact's options from its parsed settings and this run's facts. */
export function resolveCompactOptions(flags: CompactSettings, run: {dryRun: boolean; shard: Shard; strategy: MergeStrategy; tool: {name: string; version: string}; now?: Date}): CompactOptions & {pattern?: string} {
  return {
    minAgeMs: flags['min-age'],
    timeZone: checkTimeZone(flags.timezone),
    minFiles: flags['min-files'],
    pattern: flags.pattern,
    targetSizeBytes: flags['target-size'],
    rowGroupSize: flags['row-group-size'],
    memoryLimitBytes: flags['memory-limit'],
    diskBudgetBytes: flags['disk-budget'],
    threads: flags.threads,
    deleteBatchSize: flags['delete-batch'],
    dryRun: run.dryRun,
    shard: run.shard,
    strategy: run.strategy,
    now: run.now ?? new Date(),
    tool: run.tool,
  }
}
