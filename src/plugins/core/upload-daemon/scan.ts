import {type Dirent, lstatSync, type Stats} from 'node:fs'
import {lstat, readdir} from 'node:fs/promises'
import path from 'node:path'

/** A local file ready to go up: stable, not temporary, a regular file inside the root. */
export interface Candidate {
  /** Absolute path of the file. */
  path: string
  /** The directory right under the root (the local bucket name, before `--bucket-map`). */
  bucketDir: string
  /** Object key: the path below the bucket directory, `/`-separated. */
  key: string
  size: number
  mtimeMs: number
  ino: number
}

/** Why a file was left alone in this scan. */
export type SkipReason = 'unstable' | 'temporary' | 'symlink' | 'not-a-file' | 'outside-bucket'

/** The outcome of walking the root once. */
export interface ScanResult {
  candidates: Candidate[]
  skipped: Record<SkipReason, number>
  /** Paths skipped for a reason worth a warning (symlinks, special files, files directly under the root). */
  warnings: {path: string; reason: SkipReason}[]
  /** Directories below a bucket directory that were empty and untouched for the stability window. */
  emptyDirectories: string[]
}

/** Options of {@link scanRoot}. */
export interface ScanOptions {
  /** Seconds a file must have been left alone. */
  stabilitySeconds: number
  /** Upload temporary files (`*.tmp`, `*.part`, `*~`, dotfiles) too. */
  includeTemp: boolean
  now?: number
}

/** True for names writers use while a file is incomplete: `*.tmp`, `*.part`, `*~` and dotfiles. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.part') || name.endsWith('~')
}

/**
 * Whether a file has been left alone long enough. A modification time with no sub-second part may have been
 * truncated by a file system with 1 s granularity (so the file may be up to 1 s younger than it looks): such files
 * must be one second older.
 */
export function isStable(stats: Pick<Stats, 'mtimeMs'>, stabilitySeconds: number, now = Date.now()): boolean {
  const coarse = stats.mtimeMs % 1000 === 0
  return now - stats.mtimeMs >= (stabilitySeconds + (coarse ? 1 : 0)) * 1000
}

/**
 * Walks the root once. Symbolic links are never followed (a link is reported and skipped, wherever it points), so
 * nothing outside the root is ever read or deleted. Files directly under the root belong to no bucket and are
 * reported.
 */
export async function scanRoot(root: string, options: ScanOptions): Promise<ScanResult> {
  const now = options.now ?? Date.now()
  const result: ScanResult = {
    candidates: [],
    skipped: {unstable: 0, temporary: 0, symlink: 0, 'not-a-file': 0, 'outside-bucket': 0},
    warnings: [],
    emptyDirectories: [],
  }
  const skip = (file: string, reason: SkipReason, warn: boolean) => {
    result.skipped[reason]++
    if (warn) result.warnings.push({path: file, reason})
  }

  const walk = async (dir: string, bucketDir: string | undefined, keyPrefix: string): Promise<void> => {
    let entries: Dirent[]
    try {
      entries = await readdir(dir, {withFileTypes: true})
    } catch (error) {
      // A directory removed between listing and reading (a writer cleaning up) is simply gone.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    if (entries.length === 0 && bucketDir !== undefined && keyPrefix !== '') {
      const stats = await lstat(dir).catch(() => undefined)
      if (stats && isStable(stats, options.stabilitySeconds, now)) result.emptyDirectories.push(dir)
      return
    }
    const subdirectories: Promise<void>[] = []
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (!options.includeTemp && isTemporaryName(entry.name)) {
        skip(full, 'temporary', false)
        continue
      }
      if (entry.isSymbolicLink()) {
        skip(full, 'symlink', true)
        continue
      }
      if (entry.isDirectory()) {
        subdirectories.push(bucketDir === undefined ? walk(full, entry.name, '') : walk(full, bucketDir, `${keyPrefix}${entry.name}/`))
        continue
      }
      if (!entry.isFile()) {
        skip(full, 'not-a-file', true)
        continue
      }
      if (bucketDir === undefined) {
        skip(full, 'outside-bucket', true)
        continue
      }
      // Synchronous: a cached inode lookup takes microseconds; a thread-pool hop per file costs more JS time.
      const stats = lstatSync(full, {throwIfNoEntry: false})
      if (!stats) continue
      if (!stats.isFile()) skip(full, stats.isSymbolicLink() ? 'symlink' : 'not-a-file', true)
      else if (!isStable(stats, options.stabilitySeconds, now)) skip(full, 'unstable', false)
      else result.candidates.push({path: full, bucketDir, key: keyPrefix + entry.name, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino})
    }
    await Promise.all(subdirectories)
  }

  await walk(root, undefined, '')
  return result
}
