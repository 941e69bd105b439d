import type {ListrTask} from 'listr2'

import {printable} from '../command/printable.js'
import {formatBytes} from '../command/units.js'
import type {Logger} from '../progress/logger.js'
import {type ProgressMode, runTasks} from '../progress/tasks.js'
import {DryRunStorage} from '../storage/dry-run.js'
import {listRequests, requestCost, RequestTally} from '../storage/requests.js'
import type {Storage} from '../storage/types.js'
import {dayIn} from './age.js'
import {type CompactOptions, Compactor} from './compactor.js'
import {partitionScheme} from './layout.js'
import type {CompactResult, PartitionResult} from './result.js'

const SKIPPED = new Set<PartitionResult['status']>(['up-to-date', 'too-recent', 'too-few-files'])

/** One line about a partition's outcome, for progress and logs (keys and reasons printable). */
export function describePartition(result: PartitionResult): string {
  const head = `${printable(result.partition)}: ${result.status}`
  if (result.status === 'compacted') {
    return `${head} — ${result.inputs.length} files (${formatBytes(result.inputBytes)}) → ${result.outputs.length} file(s), ${result.rows} rows verified, ${result.deleted} deleted${result.recovered ? ` (${result.recovered} an interrupted run)` : ''}`
  }
  if (result.status === 'would-compact') return `${head} — ${result.inputs.length} files, ${formatBytes(result.inputBytes)}`
  return result.reason ? `${head} — ${printable(result.reason)}` : head
}

/**
 * Compacts every partition of a location that this shard owns, one after another (DuckDB uses every core on
 * each), with a progress line per partition. Partitions fail independently; the result says how each ended.
 */
export async function runCompaction(storage: Storage, options: CompactOptions & {pattern?: string}, ui: {mode: ProgressMode; logger: Logger}): Promise<CompactResult> {
  // A dry run reads the store and changes nothing in it, whatever path it takes.
  const compactor = new Compactor(options.dryRun ? new DryRunStorage(storage) : storage, partitionScheme(options.pattern), options)
  const results: PartitionResult[] = []
  try {
    ui.logger.info(`Listing ${storage.uri}`)
    const partitions = await compactor.discover((keys) => ui.logger.debug(`${keys} keys listed`))
    ui.logger.info(`${partitions.length} partition(s) found${options.shard.count > 1 ? ` for shard ${options.shard.index}/${options.shard.count}` : ''}`)
    if (partitions.length === 0 && compactor.listedKeys > 0 && options.shard.count === 1) {
      ui.logger.warn(
        `None of the ${compactor.listedKeys} objects under ${storage.uri} is in a partition compact knows: give the dataset root holding staging/YYYY-MM-DD/ or Hive …/date=YYYY-MM-DD/ folders, or describe the folders with --pattern.`,
      )
    }
    const tasks: ListrTask[] = partitions.map((summary) => ({
      title: `${summary.partition.id} (${summary.files} files, ${formatBytes(summary.bytes)})`,
      task: async (_ctx, task) => {
        const result = await compactor.compact(summary, (message) => (task.output = message))
        results.push(result)
        task.title = describePartition(result)
        if (result.status === 'failed' || result.status === 'verification-failed') {
          ui.logger.error(describePartition(result))
          for (const step of result.error?.nextSteps ?? []) ui.logger.error(`  → ${step}`)
        }
      },
    }))
    await runTasks(tasks, {mode: ui.mode, concurrent: false, exitOnError: false, logger: ui.logger})
  } finally {
    await compactor.close()
  }
  return summarize(storage.uri, options, results, listRequests(compactor.listedKeys))
}

function summarize(location: string, options: CompactOptions, partitions: PartitionResult[], discoveryPages: number): CompactResult {
  const sum = (pick: (result: PartitionResult) => number) => partitions.reduce((total, result) => total + pick(result), 0)
  const result: CompactResult = {
    location,
    dryRun: options.dryRun,
    shard: options.shard,
    today: dayIn(options.now, options.timeZone),
    timezone: options.timeZone,
    partitions,
    totals: {
      partitions: partitions.length,
      compacted: partitions.filter((partition) => partition.status === 'compacted' || partition.status === 'would-compact').length,
      skipped: partitions.filter((partition) => SKIPPED.has(partition.status)).length,
      failed: partitions.filter((partition) => partition.status === 'failed' || partition.status === 'verification-failed').length,
      inputs: sum((partition) => (partition.status === 'compacted' || partition.status === 'would-compact' ? partition.inputs.length : 0)),
      inputBytes: sum((partition) => (partition.status === 'compacted' || partition.status === 'would-compact' ? partition.inputBytes : 0)),
      rows: sum((partition) => partition.rows ?? 0),
      outputs: sum((partition) => partition.outputs.length),
      outputBytes: sum((partition) => partition.outputs.reduce((total, output) => total + output.size, 0)),
      deleted: sum((partition) => partition.deleted),
    },
  }
  if (options.dryRun) {
    const requests = new RequestTally()
    requests.list = discoveryPages
    for (const partition of partitions) requests.add(partition.requests ?? {})
    result.requests = {...requests.counts(), estimatedCostUsd: requestCost(requests).total}
  }
  return result
}
