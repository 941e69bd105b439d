import {Flags} from '@oclif/core'
import path from 'node:path'

import {UsageError} from '../errors/errors.js'
import type {ReadCacheOptions} from '../storage/cache.js'

const DURATION_UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}
const SIZE_UNITS: Record<string, number> = {b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4}

/** Parses a duration such as `90s`, `30m`, `12h`, `7d` (a bare number is seconds). */
export function parseDurationFlag(input: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/i.exec(input.trim())
  if (!match) throw new UsageError(`--${flag} "${input}" is not a duration.`, {code: 'BAD_DURATION', nextSteps: [`Write --${flag} as 90s, 30m, 12h or 7d.`]})
  return Number(match[1]) * DURATION_UNITS[(match[2] ?? 's').toLowerCase()]
}

/** Parses a size such as `500MB`, `10GB`, `2GiB` (a bare number is bytes). */
export function parseSizeFlag(input: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(input.trim())
  if (!match) throw new UsageError(`--${flag} "${input}" is not a size.`, {code: 'BAD_SIZE', nextSteps: [`Write --${flag} as 500MB, 10GB or 2GiB.`]})
  return Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()])
}

/**
 * The read-through cache of S3 objects, for commands that read raw objects: a second run over the same objects
 * reads them from `--cache-dir` instead of GETting them again. Listings are not cached.
 */
export const cacheFlags = {
  cache: Flags.boolean({summary: 'Serve S3 object reads from the local cache (--no-cache: always GET).', default: true, allowNo: true, env: 'BUCKETWRIGHT_OBJECT_CACHE', helpGroup: 'CACHE'}),
  'cache-dir': Flags.string({summary: 'Directory of the object cache (default: objects/ in the bucketwright cache dir).', env: 'BUCKETWRIGHT_OBJECT_CACHE_DIR', helpGroup: 'CACHE'}),
  'cache-ttl': Flags.string({summary: 'Age after which a cached object is downloaded again (90s, 12h, 7d).', default: '7d', env: 'BUCKETWRIGHT_OBJECT_CACHE_TTL', helpGroup: 'CACHE'}),
  'cache-max-size': Flags.string({summary: 'Size cap of the cache; least recently used objects are evicted beyond it (500MB, 10GB).', default: '2GB', env: 'BUCKETWRIGHT_OBJECT_CACHE_MAX_SIZE', helpGroup: 'CACHE'}),
}

/** The parsed values of {@link cacheFlags}. */
export interface CacheFlagValues {
  cache: boolean
  'cache-dir'?: string
  'cache-ttl': string
  'cache-max-size': string
}

/** Cache settings from the flags, or `undefined` with `--no-cache`. `defaultRoot` is oclif's cache dir. */
export function cacheSettings(flags: CacheFlagValues, defaultRoot: string): ReadCacheOptions | undefined {
  if (!flags.cache) return undefined
  return {
    dir: path.resolve(flags['cache-dir'] ?? path.join(defaultRoot, 'objects')),
    ttlMs: parseDurationFlag(flags['cache-ttl'], 'cache-ttl'),
    maxBytes: parseSizeFlag(flags['cache-max-size'], 'cache-max-size'),
  }
}
