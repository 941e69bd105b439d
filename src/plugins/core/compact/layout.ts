import {UsageError} from '../errors/errors.js'
import {isBookkeepingKey} from '../storage/overlap.js'

/** How a dataset is partitioned: the user's `staging/` days, Hive `key=value/` folders, or a `--pattern`. */
export type CompactLayout = 'staging' | 'hive' | 'pattern'

/** Input formats compact reads; the format comes from the key's extension. */
export type InputFormat = 'parquet' | 'json'

/** One partition: the unit that is compacted, verified, recorded and cleaned up as a whole. */
export interface Partition {
  /** Stable identity, e.g. `staging/2026-11-20/` or `ticker/product_id=BTC-USD/date=2025-12-03/`. */
  id: string
  layout: CompactLayout
  /** The day the partition holds (YYYY-MM-DD), when the layout names one. */
  date?: string
  /** Prefixes whose listing holds every object of the partition (filtered with {@link PartitionScheme.classify}). */
  prefixes: string[]
}

/** What a key is to compact. */
export interface KeyClass {
  partition: Partition
  /** An output of an earlier compaction (merged again, together with new inputs, when new inputs arrive). */
  compacted: boolean
  format: InputFormat
}

/** Finds partitions in keys and names their outputs. */
export interface PartitionScheme {
  /** The partition a key belongs to, or `undefined` when compact ignores it. */
  classify(key: string): KeyClass | undefined
  /** The output keys of a merge into `count` files; `digest` identifies the input set. */
  outputKeys(partition: Partition, count: number, digest: string): string[]
}

const DATE = String.raw`\d{4}-\d{2}-\d{2}`

/**
 * Never an input: what no command reads back (storage/overlap.ts: manifests, temp files — compact writes in place, so
 * its input location is its output), and what Hive, Athena and Spark hide: any path segment starting with `_` or `.`
 * (compact's pending copies too).
 */
export function isHiddenKey(key: string): boolean {
  return isBookkeepingKey(key) || key.split('/').some((segment) => segment.startsWith('_') || segment.startsWith('.'))
}

/** The input format of a key, from its extension (compressed JSON lines included); `undefined` for anything else. */
export function inputFormatOf(key: string): InputFormat | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase()
  if (name.endsWith('.parquet')) return 'parquet'
  if (/\.(ndjson|jsonl|json)(\.(gz|zst))?$/.test(name)) return 'json'
  return undefined
}

function splitKey(key: string): {dir: string; name: string} {
  const slash = key.lastIndexOf('/')
  return {dir: key.slice(0, slash + 1), name: key.slice(slash + 1)}
}

/** In-place outputs (Hive and pattern layouts): `part-compacted-<digest>[-<n>].parquet` beside the inputs. */
const IN_PLACE_OUTPUT = /^part-compacted-[0-9a-f]{16}(-\d+)?\.parquet$/

function inPlaceOutputKeys(partition: Partition, count: number, digest: string): string[] {
  const short = digest.slice(0, 16)
  if (count === 1) return [`${partition.id}part-compacted-${short}.parquet`]
  return Array.from({length: count}, (_, index) => `${partition.id}part-compacted-${short}-${index}.parquet`)
}

/**
 * The user's case 3: `…staging/YYYY-MM-DD/<file>` compacts into `…compacted/YYYY-MM-DD.parquet` (more files, when the
 * day exceeds the target size: `YYYY-MM-DD_1.parquet`, `_2`, …). The compacted files of a day are part of its
 * partition, so late inputs are merged with them.
 */
export class StagingScheme implements PartitionScheme {
  private static readonly STAGED = new RegExp(`^((?:[^/]+/)*)staging/(${DATE})/([^/]+)$`)
  private static readonly COMPACTED = new RegExp(`^((?:[^/]+/)*)compacted/(${DATE})(?:_\\d+)?\\.parquet$`)

  classify(key: string): KeyClass | undefined {
    if (isHiddenKey(key)) return undefined
    const staged = StagingScheme.STAGED.exec(key)
    const compacted = staged ? undefined : StagingScheme.COMPACTED.exec(key)
    const match = staged ?? compacted
    const format = inputFormatOf(key)
    if (!match || !format) return undefined
    const [, root, date] = match
    return {partition: this.partition(root, date), compacted: Boolean(compacted), format}
  }

  private partition(root: string, date: string): Partition {
    return {id: `${root}staging/${date}/`, layout: 'staging', date, prefixes: [`${root}compacted/${date}`, `${root}staging/${date}/`]}
  }

  outputKeys(partition: Partition, count: number): string[] {
    const root = partition.id.slice(0, -`staging/${partition.date}/`.length)
    return Array.from({length: count}, (_, index) => `${root}compacted/${partition.date}${index === 0 ? '' : `_${index}`}.parquet`)
  }
}

/** Hive partitions (`…/key=value/…/date=YYYY-MM-DD/<file>`, `dt=` too), compacted in place. */
export class HiveScheme implements PartitionScheme {
  private static readonly DATE_SEGMENT = new RegExp(`^(?:date|dt)=(${DATE})$`)

  classify(key: string): KeyClass | undefined {
    if (isHiddenKey(key)) return undefined
    const {dir, name} = splitKey(key)
    const format = inputFormatOf(name)
    if (!format || !dir) return undefined
    const date = dir
      .split('/')
      .map((segment) => HiveScheme.DATE_SEGMENT.exec(segment)?.[1])
      .find(Boolean)
    if (!date) return undefined
    return {partition: {id: dir, layout: 'hive', date, prefixes: [dir]}, compacted: IN_PLACE_OUTPUT.test(name), format}
  }

  outputKeys(partition: Partition, count: number, digest: string): string[] {
    return inPlaceOutputKeys(partition, count, digest)
  }
}

/** Tries the staging layout first, then Hive: what `compact <location>` does without `--pattern`. */
export class AutoScheme implements PartitionScheme {
  private readonly schemes = [new StagingScheme(), new HiveScheme()]

  classify(key: string): KeyClass | undefined {
    for (const scheme of this.schemes) {
      const found = scheme.classify(key)
      if (found) return found
    }
    return undefined
  }

  outputKeys(partition: Partition, count: number, digest: string): string[] {
    return (partition.layout === 'staging' ? this.schemes[0] : this.schemes[1]).outputKeys(partition, count, digest)
  }
}

/**
 * `--pattern`: a partition folder template such as `events/{date}/` or `logs/{YYYY}/{MM}/{DD}/`; `*` stands for one
 * path segment. Files directly in a matching folder are its inputs; outputs go in place. Without a date token the
 * partition's age is the age of its newest object.
 */
export class PatternScheme implements PartitionScheme {
  private readonly regex: RegExp

  constructor(readonly pattern: string) {
    const template = pattern.endsWith('/') ? pattern : pattern + '/'
    let source = ''
    for (const token of template.split(/(\{date\}|\{YYYY\}|\{MM\}|\{DD\}|\*)/)) {
      if (token === '{date}') source += `(?<date>${DATE})`
      else if (token === '{YYYY}') source += String.raw`(?<year>\d{4})`
      else if (token === '{MM}') source += String.raw`(?<month>\d{2})`
      else if (token === '{DD}') source += String.raw`(?<day>\d{2})`
      else if (token === '*') source += '[^/]+'
      else source += token.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`)
    }
    const hasDate = template.includes('{date}') || (template.includes('{YYYY}') && template.includes('{MM}') && template.includes('{DD}'))
    if (!hasDate && /\{(YYYY|MM|DD)\}/.test(template)) {
      throw new UsageError(`--pattern "${pattern}" has part of a date: use {date}, or all of {YYYY}, {MM} and {DD}.`, {code: 'BAD_PATTERN', nextSteps: ['Example: --pattern "events/{YYYY}/{MM}/{DD}/".']})
    }
    if (/\{[^}]*\}/.test(template.replaceAll(/\{(date|YYYY|MM|DD)\}/g, ''))) {
      throw new UsageError(`--pattern "${pattern}" has an unknown token.`, {code: 'BAD_PATTERN', nextSteps: ['Tokens: {date}, {YYYY}, {MM}, {DD}, and * for one path segment.']})
    }
    this.regex = new RegExp(`^(?<dir>${source})(?<name>[^/]+)$`)
  }

  classify(key: string): KeyClass | undefined {
    if (isHiddenKey(key)) return undefined
    const groups = this.regex.exec(key)?.groups
    const format = inputFormatOf(key)
    if (!groups || !format) return undefined
    const date = groups.date ?? (groups.year ? `${groups.year}-${groups.month}-${groups.day}` : undefined)
    return {partition: {id: groups.dir, layout: 'pattern', date, prefixes: [groups.dir]}, compacted: IN_PLACE_OUTPUT.test(groups.name), format}
  }

  outputKeys(partition: Partition, count: number, digest: string): string[] {
    return inPlaceOutputKeys(partition, count, digest)
  }
}

/** The scheme for a run: `--pattern` when given, else staging and Hive by key. */
export function partitionScheme(pattern?: string): PartitionScheme {
  return pattern ? new PatternScheme(pattern) : new AutoScheme()
}

/**
 * Where an output goes while its key still holds an input (the staging layout re-compacting a day): a hidden name
 * beside it, moved over the input only after the whole new set is stored and verified.
 */
export function pendingKeyFor(outputKey: string, digest: string): string {
  const {dir, name} = splitKey(outputKey)
  return `${dir}_pending.${digest.slice(0, 16)}.${name}`
}

/** The compaction manifest of a partition: what it merged, into what, and how far the run got. */
export function compactionManifestKey(partition: Partition): string {
  return `_manifests/${partition.id}_compaction.json`
}
