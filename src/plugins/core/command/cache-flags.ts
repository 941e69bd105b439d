import {Flags} from '@oclif/core'
import path from 'node:path'

import {UsageError} from '../errors/errors.js'
import type {ReadCacheOptions} from '../storage/cache.js'
import {durationFlag, sizeFlag} from './flags.js'

/**
 * The read-through cache of S3 objects, for commands that read raw objects: a second run over the same objects
 * reads them from `--cache-dir` instead of GETting them again. Listings are kept too, for `--offline`.
 */
export const cacheFlags = {
  cache: Flags.boolean({summary: 'Serve S3 object reads from the local cache (--no-cache: always GET).', default: true, allowNo: true, env: 'BUCKETWRIGHT_OBJECT_CACHE', helpGroup: 'CACHE'}),
  'cache-dir': Flags.string({summary: 'Directory of the object cache (default: objects/ in the bucketwright cache dir).', env: 'BUCKETWRIGHT_OBJECT_CACHE_DIR', helpGroup: 'CACHE'}),
  'cache-ttl': durationFlag()({
    summary: 'Age after which a cached object is downloaded again (90s, 12h, 7d).',
    default: 7 * 86_400_000,
    defaultHelp: async () => '7d',
    env: 'BUCKETWRIGHT_OBJECT_CACHE_TTL',
    helpGroup: 'CACHE',
  }),
  offline: Flags.boolean({summary: 'Never contact the endpoint: listings and objects come from the cache (whatever their age); anything not cached is an error.', default: false, helpGroup: 'CACHE'}),
  'cache-max-size': sizeFlag({
    summary: 'Size cap of the cache; least recently used objects are evicted beyond it (500MB, 10GB).',
    default: 2e9,
    defaultHelp: async () => '2GB',
    env: 'BUCKETWRIGHT_OBJECT_CACHE_MAX_SIZE',
    helpGroup: 'CACHE',
  }),
}

/** The parsed values of {@link cacheFlags}. */
export interface CacheFlagValues {
  cache: boolean
  'cache-dir'?: string
  /** Milliseconds. */
  'cache-ttl': number
  /** Bytes. */
  'cache-max-size': number
  offline?: boolean
}

/** Cache settings from the flags, or `undefined` with `--no-cache`. `defaultRoot` is oclif's cache dir. */
export function cacheSettings(flags: CacheFlagValues, defaultRoot: string): ReadCacheOptions | undefined {
  if (!flags.cache && flags.offline) {
    // (oclif's dependsOn would fire on --offline's default too: checked here.)
    throw new UsageError('--offline serves only the cache, and the cache is off (--no-cache; or no --cache-dir, for commands where the cache is opt-in).', {
      code: 'OFFLINE_WITHOUT_CACHE',
      nextSteps: ['Pass --cache-dir DIR (convert, verify --raw), or drop --no-cache (fetch), to run --offline.'],
    })
  }
  if (!flags.cache) return undefined
  return {
    dir: path.resolve(flags['cache-dir'] ?? path.join(defaultRoot, 'objects')),
    ttlMs: flags['cache-ttl'],
    maxBytes: flags['cache-max-size'],
    offline: flags.offline,
  }
}

/**
 * The same cache, off unless `--cache-dir` names a directory, for commands that read raw objects once per run
 * (convert, verify --raw): caching costs disk for every object read, and pays only when the same objects are read
 * again (a rerun with other output options, verify after convert). No environment variable turns it on, so
 * `BUCKETWRIGHT_OBJECT_CACHE_DIR` set for fetch does not fill the disk under a full-archive convert.
 */
export const optInCacheFlags = {
  'cache-dir': Flags.string({summary: 'Read S3 objects through the object cache in this directory (off by default; see docs/fetch-and-cache.md).', helpGroup: 'CACHE'}),
  'cache-ttl': cacheFlags['cache-ttl'],
  'cache-max-size': cacheFlags['cache-max-size'],
  offline: Flags.boolean({summary: 'With --cache-dir: never contact the input endpoint; raw listings and objects come from the cache only.', default: false, helpGroup: 'CACHE'}),
}

/** {@link CacheFlagValues} from {@link optInCacheFlags}: the cache is on when `--cache-dir` is given. */
export function optInCacheValues(flags: {'cache-dir'?: string; 'cache-ttl': number; 'cache-max-size': number; offline?: boolean}): CacheFlagValues {
  return {cache: flags['cache-dir'] !== undefined, 'cache-dir': flags['cache-dir'], 'cache-ttl': flags['cache-ttl'], 'cache-max-size': flags['cache-max-size'], offline: flags.offline}
}
