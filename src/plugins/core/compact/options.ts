import type {Shard} from '../command/shard.js'
import {UsageError} from '../errors/errors.js'
import {parseDuration, parseSize} from '../command/units.js'
import {checkTimeZone} from './age.js'
import type {CompactOptions} from './compactor.js'
import type {MergeStrategy} from './merge.js'

/** compact's settings as given: flags (their environment variables included), or config-file values. */
export interface CompactSettings {
  'min-age'?: string
  timezone?: string
  'min-files'?: number
  pattern?: string
  'target-size'?: string
  'row-group-size'?: number
  'memory-limit'?: string
  'disk-budget'?: string
  threads?: number
  'delete-batch'?: number
}

/** What compact does when neither a flag, its environment variable nor the config file says otherwise. */
export const COMPACT_DEFAULTS = {
  'min-age': '1d',
  timezone: 'UTC',
  'min-files': 2,
  'target-size': '128MB',
  'memory-limit': '1GB',
  'disk-budget': '4GB',
  'delete-batch': 1000,
} as const

/**
 * Resolves compact's options: a flag or its `BUCKETWRIGHT_*` variable wins over the config file's
 * `commands.compact` entry, which wins over {@link COMPACT_DEFAULTS}. Bad values are usage errors naming the flag.
 */
export function resolveCompactOptions(
  flags: CompactSettings,
  file: Record<string, unknown> | undefined,
  run: {dryRun: boolean; shard: Shard; strategy: MergeStrategy; tool: {name: string; version: string}; now?: Date},
): CompactOptions & {pattern?: string} {
  const pick = <K extends keyof CompactSettings>(name: K): CompactSettings[K] => {
    if (flags[name] !== undefined) return flags[name]
    const fromFile = file?.[name]
    if (fromFile !== undefined) return fromFile as CompactSettings[K]
    return (COMPACT_DEFAULTS as Record<string, unknown>)[name] as CompactSettings[K]
  }
  const count = (name: 'min-files' | 'row-group-size' | 'threads' | 'delete-batch', max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const value = pick(name)
    if (value === undefined) return undefined
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new UsageError(`${name} must be a whole number from 1 to ${max}, not ${JSON.stringify(value)}.`, {code: 'BAD_SETTING', nextSteps: [`Fix --${name} or "${name}" under commands.compact in the config file.`]})
    }
    return value
  }
  return {
    minAgeMs: parseDuration(String(pick('min-age')), {flag: 'min-age', defaultUnit: 'd'}),
    timeZone: checkTimeZone(String(pick('timezone'))),
    minFiles: count('min-files')!,
    pattern: pick('pattern'),
    targetSizeBytes: parseSize(String(pick('target-size')), {flag: 'target-size'}),
    rowGroupSize: count('row-group-size'),
    memoryLimitBytes: parseSize(String(pick('memory-limit')), {flag: 'memory-limit'}),
    diskBudgetBytes: parseSize(String(pick('disk-budget')), {flag: 'disk-budget'}),
    threads: count('threads'),
    deleteBatchSize: count('delete-batch', 1000)!,
    dryRun: run.dryRun,
    shard: run.shard,
    strategy: run.strategy,
    now: run.now ?? new Date(),
    tool: run.tool,
  }
}
