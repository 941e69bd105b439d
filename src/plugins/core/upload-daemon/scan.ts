import {type Dirent, lstatSync, type Stats} from 'node:fs'
import {readdir} from 'node:fs/promises'
import path from 'node:path'
import {isUtf8} from 'node:buffer'
import picomatch from 'picomatch'

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

/** A file that would be shipped but is not stable yet: it still claims its key (see collisions in daemon.ts). */
export type Pending = Pick<Candidate, 'path' | 'bucketDir' | 'key'>

/** Why a file was left alone in this scan. */
export type SkipReason = 'unstable' | 'temporary' | 'excluded' | 'symlink' | 'not-a-file' | 'outside-bucket' | 'vanished'

/**
 * An entry the scan could not look at or cannot ship as it is: a directory or file it may not read (`unreadable`),
 * a name that is not valid UTF-8 (S3 keys are UTF-8), a key longer than S3 allows. Each is an ERROR naming the path;
 * the rest of the scan goes on.
 */
export interface ScanProblem {
  /** The path, printable (bytes that are not UTF-8 shown as `\xNN`). */
  path: string
  reason: 'unreadable' | 'not-utf8' | 'key-too-long'
  message: string
}

/** The outcome of walking the root once. */
export interface ScanResult {
  candidates: Candidate[]
  /** Files not yet stable. */
  pending: Pending[]
  skipped: Record<SkipReason, number>
  /** Paths skipped for a reason worth a warning (symlinks, special files, files directly under the root, vanished). */
  warnings: {path: string; reason: SkipReason}[]
  problems: ScanProblem[]
}

/** Options of {@link scanRoot}. */
export interface ScanOptions {
  /** Seconds a file must have been left alone. */
  stabilitySeconds: number
  /** Upload temporary files (see {@link isTemporaryName}) too. */
  includeTemp: boolean
  /** `--exclude` globs (rclone-like, see {@link excludeMatcher}). */
  exclude?: string[]
  now?: number
}

/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024

/**
 * True for names writers use while a file is incomplete: dotfiles (`.x.swp`, `.~lock.x#`), `*.tmp`, `*.part`,
 * `*.partial` (Firefox, wget), `*.crdownload` (Chrome), `*.swp`/`*.swx` (vim), `*~` and `#*#` (Emacs).
 */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || (name.length > 1 && name.startsWith('#') && name.endsWith('#')) || /\.(?:tmp|part|partial|crdownload|swp|swx)$/.test(name)
}

/** Decides, from `--exclude` globs, which files and directories a scan leaves out. */
export interface ExcludeMatcher {
  /** Whether a file (its path relative to the root, `/`-separated) is excluded. */
  file(relative: string): boolean
  /** Whether a whole directory is excluded (a glob ending in `/**` or `/` matches it): it is not even listed. */
  directory(relative: string): boolean
}

/**
 * `--exclude` globs with rclone's rules, matched by picomatch against the path relative to the root
 * (`<bucket dir>/<key>`): `*` and `?` stay within one path segment, `**` crosses them, `[…]` and `{a,b}` work; a
 * glob starting with `/` is anchored at the root, any other matches at any depth (`*.log` is every .log file);
 * `*` matches dotfiles too. A glob ending in `/**` (or `/`) leaves out a directory with everything in it, so an
 * unreadable directory can be silenced. Undefined when there are no globs.
 */
export function excludeMatcher(globs: string[]): ExcludeMatcher | undefined {
  if (globs.length === 0) return undefined
  const options = {dot: true}
  const anchored = (glob: string) => (glob.startsWith('/') ? glob.slice(1) : `**/${glob}`)
  const files = globs.map((glob) => anchored(glob.endsWith('/') ? `${glob}**` : glob))
  const directories = files.filter((glob) => glob.endsWith('/**')).map((glob) => glob.slice(0, -3))
  const file = picomatch(files, options)
  const directory = directories.length > 0 ? picomatch(directories, options) : () => false
  return {file: (relative) => file(relative), directory: (relative) => directory(relative)}
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

/** A name as a person can read it: bytes that are not part of a valid UTF-8 sequence shown as `\xNN`. */
export function printableName(name: Buffer): string {
  let out = ''
  let i = 0
  while (i < name.length) {
    const lead = name[i]
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0
    const sequence = name.subarray(i, i + length)
    if (length > 0 && sequence.length === length && isUtf8(sequence)) {
      out += sequence.toString()
      i += length
    } else {
      out += `\\x${lead.toString(16).padStart(2, '0')}`
      i++
    }
  }
  return out
}

/** One directory entry: its name and type, from a string or (for undecodable names) a Buffer listing. */
type Entry = Pick<Dirent, 'isDirectory' | 'isFile' | 'isSymbolicLink'> & {name: string}

function errno(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? ''
}

function describe(error: unknown): string {
  const code = errno(error)
  return code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message
}

/**
 * Walks the root once. Symbolic links are never followed (a link is reported and skipped, wherever it points), so
 * nothing outside the root is ever read or deleted. Files directly under the root belong to no bucket and are
 * reported. Nothing stops the walk: a directory or file it may not read, a name that is not UTF-8, an entry that
 * vanishes while it looks are each reported, and the rest is scanned. Only an unreadable root throws.
 */
export async function scanRoot(root: string, options: ScanOptions): Promise<ScanResult> {
  const now = options.now ?? Date.now()
  const exclude = excludeMatcher(options.exclude ?? [])
  const result: ScanResult = {
    candidates: [],
    pending: [],
    skipped: {unstable: 0, temporary: 0, excluded: 0, symlink: 0, 'not-a-file': 0, 'outside-bucket': 0, vanished: 0},
    warnings: [],
    problems: [],
  }
  const skip = (file: string, reason: SkipReason, warn: boolean) => {
    result.skipped[reason]++
    if (warn) result.warnings.push({path: file, reason})
  }
  const problem = (file: string, reason: ScanProblem['reason'], message: string) => result.problems.push({path: file, reason, message})

  /** The entries of a directory; names that are not UTF-8 are reported and left out. */
  const list = async (dir: string): Promise<Entry[]> => {
    const entries: Entry[] = await readdir(dir, {withFileTypes: true})
    // A name that is not UTF-8 comes back with U+FFFD in it (and two such names may even come back alike): list
    // this directory again as bytes to tell them from names that really hold U+FFFD.
    if (!entries.some((entry) => entry.name.includes('\uFFFD'))) return entries
    const raw = await readdir(dir, {withFileTypes: true, encoding: 'buffer'})
    const out: Entry[] = []
    for (const entry of raw) {
      const bytes = entry.name as unknown as Buffer
      if (isUtf8(bytes)) {
        out.push({name: bytes.toString(), isDirectory: () => entry.isDirectory(), isFile: () => entry.isFile(), isSymbolicLink: () => entry.isSymbolicLink()})
        continue
      }
      const shown = path.join(dir, printableName(bytes))
      if (exclude?.file(path.relative(root, path.join(dir, bytes.toString())).split(path.sep).join('/'))) skip(shown, 'excluded', false)
      else if (!options.includeTemp && isTemporaryName(bytes.toString('latin1'))) skip(shown, 'temporary', false)
      else problem(shown, 'not-utf8', `${shown}: the name is not valid UTF-8, and S3 keys are UTF-8; it is left where it is. Rename it (e.g. with convmv), or leave it out with --exclude.`)
    }
    return out
  }

  const walk = async (dir: string, bucketDir: string | undefined, keyPrefix: string): Promise<void> => {
    let entries: Entry[]
    try {
      entries = await list(dir)
    } catch (error) {
      if (dir === root) throw error
      // Removed between listing its parent and reading it (a writer cleaning up): simply gone.
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return skip(dir, 'vanished', true)
      problem(
        dir,
        'unreadable',
        `Cannot list directory ${dir}: ${describe(error)}; nothing under it is uploaded. Let the daemon's user read it (chmod/chown), or leave it out with --exclude '${path.relative(root, dir).split(path.sep).join('/')}/**'.`,
      )
      return
    }
    const subdirectories: Promise<void>[] = []
    let lookupFailed = 0
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (!options.includeTemp && isTemporaryName(entry.name)) {
        skip(full, 'temporary', false)
        continue
      }
      const relative = bucketDir === undefined ? entry.name : `${bucketDir}/${keyPrefix}${entry.name}`
      if (entry.isSymbolicLink()) {
        if (exclude?.file(relative)) skip(full, 'excluded', false)
        else skip(full, 'symlink', true)
        continue
      }
      if (entry.isDirectory()) {
        if (exclude?.directory(relative)) skip(full, 'excluded', false)
        else subdirectories.push(bucketDir === undefined ? walk(full, entry.name, '') : walk(full, bucketDir, `${keyPrefix}${entry.name}/`))
        continue
      }
      if (exclude?.file(relative)) {
        skip(full, 'excluded', false)
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
      let stats: Stats | undefined
      try {
        stats = lstatSync(full, {throwIfNoEntry: false})
      } catch (error) {
        // A directory readable but not searchable (r without x): its names are listed, their inodes are not.
        if (errno(error) === 'EACCES' || errno(error) === 'EPERM') lookupFailed++
        else problem(full, 'unreadable', `Cannot look at ${full}: ${describe(error)}; it is left where it is.`)
        continue
      }
      if (!stats) {
        skip(full, 'vanished', true)
        continue
      }
      const key = keyPrefix + entry.name
      if (!stats.isFile()) skip(full, stats.isSymbolicLink() ? 'symlink' : 'not-a-file', true)
      else if (Buffer.byteLength(key) > MAX_KEY_BYTES)
        problem(full, 'key-too-long', `${full}: its key is ${Buffer.byteLength(key)} bytes long, more than S3's ${MAX_KEY_BYTES}; it is left where it is. Move it to a shorter path, or leave it out with --exclude.`)
      else if (!isStable(stats, options.stabilitySeconds, now)) {
        skip(full, 'unstable', false)
        result.pending.push({path: full, bucketDir, key})
      } else result.candidates.push({path: full, bucketDir, key, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino})
    }
    if (lookupFailed > 0) {
      problem(
        dir,
        'unreadable',
        `Cannot look at ${lookupFailed} file(s) in ${dir}: permission denied (the directory is readable but not searchable); they are left where they are. Let the daemon's user search it (chmod +x), or leave it out with --exclude '${path.relative(root, dir).split(path.sep).join('/')}/**'.`,
      )
    }
    await Promise.all(subdirectories)
  }

  await walk(root, undefined, '')
  return result
}
