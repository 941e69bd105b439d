import fs from 'node:fs/promises'
import path from 'node:path'

import {BugError, UsageError} from '../errors/errors.js'
import {fileSystemError} from '../errors/filesystem.js'
import {LocalStorage} from './local.js'
import {parseLocation} from './location.js'
import type {S3ConnectionOptions} from './s3/s3-client.js'
import type {S3StorageOptions} from './s3/storage.js'
import type {Storage} from './types.js'

/**
 * What a location is to the command: an `input` it reads must exist (a local one as a folder); an `output` may be
 * made by the run, but not where a file is.
 */
export type LocationRole = 'input' | 'output'

/** Options of {@link openStorage}: how to reach S3 (ignored for local paths), multipart tuning, and the role. */
export interface OpenStorageOptions extends S3ConnectionOptions, Pick<S3StorageOptions, 'partSize' | 'queueSize'> {
  /** Default `output`: a local location is checked not to be (or lie under) a file. */
  role?: LocationRole
}

/** Opens a location of one scheme; the backend checks and parses the location itself. */
export type StorageOpener = (location: string, options: OpenStorageOptions) => Promise<Storage>

/**
 * The backends, by URI scheme (lowercase, without the colon); a location without a scheme is a local path. A new
 * backend (GCS, Azure) is one file implementing {@link Storage} and one line here, or one call of
 * {@link registerStorageScheme} from a plugin or a test.
 */
const backends = new Map<string, StorageOpener>([
  ['file', openLocal],
  ['s3', openS3],
])

/** Registers (or replaces) the backend of a URI scheme, e.g. `registerStorageScheme('gs', openGcs)`. */
export function registerStorageScheme(scheme: string, open: StorageOpener): void {
  backends.set(scheme.toLowerCase(), open)
}

/**
 * Opens the storage a location names, by its scheme: `s3://bucket/prefix/` → S3, `file:///abs/path` or a plain
 * path → local disk, any other registered scheme → its backend. A location of a scheme no backend has is a usage
 * error before any request. A name with a colon but no `//` (`data:2021`) is a local path unless its scheme is
 * registered, so `s3:/bucket` reaches the S3 backend, which says what was meant.
 */
export async function openStorage(location: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(location)?.[1].toLowerCase()
  const open = scheme === undefined ? undefined : backends.get(scheme)
  if (open) return open(location, options)
  if (scheme !== undefined && location.startsWith('//', scheme.length + 1)) parseLocation(location) // throws: no such backend
  return openLocal(location, options)
}

/**
 * Local disk. The location is checked first ({@link checkLocalDirectory}): a mistyped input is a usage error, not
 * an empty run reported as done.
 */
async function openLocal(location: string, options: OpenStorageOptions): Promise<Storage> {
  const parsed = parseLocation(location)
  if (parsed.kind !== 'local') throw new BugError(`${location} reached the local backend.`) // s3: has its own opener
  await checkLocalDirectory(parsed.root, {role: options.role ?? 'output', given: location})
  return new LocalStorage(parsed.root)
}

/** S3; its modules are loaded only when an S3 location is opened. Opening makes no request. */
async function openS3(location: string, options: OpenStorageOptions): Promise<Storage> {
  const parsed = parseLocation(location)
  if (parsed.kind !== 's3') throw new BugError(`${location} reached the S3 backend.`) // parseLocation reads s3: as S3
  const [{S3Connection}, {S3Storage}] = await Promise.all([import('./s3/s3-client.js'), import('./s3/storage.js')])
  return new S3Storage(new S3Connection(options), parsed.bucket, parsed.prefix, {
    partSize: options.partSize,
    queueSize: options.queueSize,
    endpoint: options.endpoint,
    region: options.region,
    profile: options.profile,
  })
}

/**
 * Checks a local folder before a command uses it. An `input` must be an existing, readable folder; an `output` must
 * be a folder or not exist yet, with no file on its path (nothing is created here). A usage error naming the value
 * as given (`given`, and the `flag` that gave it) and the absolute path; a permission problem is a user error.
 */
export async function checkLocalDirectory(dir: string, options: {role: LocationRole; given?: string; flag?: string}): Promise<void> {
  const root = path.resolve(dir)
  const given = options.given ?? dir
  const named = `${options.flag ? `${options.flag} ` : ''}${given === root ? `"${root}"` : `"${given}" (${root})`}`
  const stat = await fs.stat(root).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
    throw fileSystemError(error) ?? error
  })
  if (stat && !stat.isDirectory()) {
    throw new UsageError(`${named} is a file; a folder is expected here.`, {
      code: 'NOT_A_DIRECTORY',
      nextSteps: [options.role === 'input' ? 'Pass the folder that holds the files.' : 'Pass a folder (new or existing), not a file.'],
      details: {location: given, path: root},
    })
  }
  if (stat) {
    if (options.role === 'input') await fs.access(root, fs.constants.R_OK | fs.constants.X_OK).catch((error: unknown) => Promise.reject(fileSystemError(error) ?? error))
    return
  }
  // Missing: the first part of the path that exists says whether it could be made.
  let existing = path.dirname(root)
  let above = await fs.stat(existing).catch(() => undefined)
  while (!above && path.dirname(existing) !== existing) {
    existing = path.dirname(existing)
    above = await fs.stat(existing).catch(() => undefined)
  }
  if (above && !above.isDirectory()) {
    throw new UsageError(`${named} cannot be a folder: ${existing} is a file.`, {
      code: 'NOT_A_DIRECTORY',
      nextSteps: ['Pass a path whose parent folders are folders, or move that file out of the way.'],
      details: {location: given, path: root, file: existing},
    })
  }
  if (options.role === 'input') {
    throw new UsageError(`${named} does not exist.`, {
      code: 'NO_SUCH_LOCATION',
      nextSteps: [`Check the path (relative paths start at ${process.cwd()}); the nearest folder that exists is ${existing}.`],
      details: {location: given, path: root},
    })
  }
}
