import {createHash} from 'node:crypto'

import {UsageError} from '../errors/errors.js'

/** This worker's share of the work: shard `index` of `count` (0-based). */
export interface Shard {
  index: number
  count: number
}

/**
 * Resolves `--shard i/N`, or `--shards N` with the index from `AWS_BATCH_JOB_ARRAY_INDEX` (AWS Batch array jobs) or
 * `JOB_COMPLETION_INDEX` (Kubernetes Indexed Jobs). No flag: the single shard 0/1.
 */
export function resolveShard(flags: {shard?: string; shards?: number}, env: NodeJS.ProcessEnv = process.env): Shard {
  if (flags.shard) {
    const match = /^(\d+)\/(\d+)$/.exec(flags.shard.trim())
    if (!match || Number(match[2]) < 1 || Number(match[1]) >= Number(match[2])) {
      throw new UsageError(`--shard "${flags.shard}" is not i/N with 0 <= i < N.`, {code: 'BAD_SHARD', nextSteps: ['Write it as --shard 0/4 … --shard 3/4.']})
    }
    return {index: Number(match[1]), count: Number(match[2])}
  }
  if (flags.shards) {
    const raw = env.AWS_BATCH_JOB_ARRAY_INDEX ?? env.JOB_COMPLETION_INDEX
    if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) >= flags.shards) {
      throw new UsageError(`--shards ${flags.shards} needs this worker's index in AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX (0..${flags.shards - 1}).`, {
        code: 'BAD_SHARD',
        nextSteps: ['Run under an AWS Batch array job or a Kubernetes Indexed Job, or pass --shard i/N.'],
      })
    }
    return {index: Number(raw), count: flags.shards}
  }
  return {index: 0, count: 1}
}

/** The shard a work unit (a bucket key, a partition) belongs to: a stable hash, the same on every machine. */
export function shardOf(unit: string, count: number): number {
  if (count <= 1) return 0
  return createHash('sha256').update(unit).digest().readUInt32BE(0) % count
}

/** Whether this worker owns a unit. */
export function ownsUnit(shard: Shard, unit: string): boolean {
  return shardOf(unit, shard.count) === shard.index
}
