import {UserError} from './errors.js'

interface Translation {
  code: string
  message: (target: string) => string
  nextSteps: (target: string) => string[]
}

const permission: Translation = {
  code: 'PERMISSION_DENIED',
  message: (target) => `Permission denied on ${target}.`,
  nextSteps: (target) => [`Give the user running bucketwright access to ${target} (owner, mode, ACL), or use another location.`],
}
const full: Translation = {
  code: 'DISK_FULL',
  message: (target) => `No space left (or disk quota reached) on the file system of ${target}.`,
  nextSteps: () => ['Free space or inodes there, or write to another disk; then run again (finished work is kept).'],
}

/**
 * What each local file-system error means to the user. An error of the disk or the user's files, not a bug: the
 * message names the path and the next step.
 */
const TRANSLATIONS: Record<string, Translation> = {
  EACCES: permission,
  EPERM: permission,
  ENOSPC: full,
  EDQUOT: full,
  EROFS: {
    code: 'READ_ONLY_FILE_SYSTEM',
    message: (target) => `${target} is on a read-only file system.`,
    nextSteps: () => ['Use a location on a writable file system, or remount it read-write.'],
  },
  ENOTDIR: {
    code: 'NOT_A_DIRECTORY',
    message: (target) => `${target}: part of this path is a file where a folder is needed.`,
    nextSteps: () => ['Use a path whose folders are folders, or move that file out of the way.'],
  },
  EISDIR: {
    code: 'IS_A_DIRECTORY',
    message: (target) => `${target} is a folder where a file is needed.`,
    nextSteps: () => ['Move the folder out of the way, or use another path.'],
  },
  EEXIST: {
    code: 'ALREADY_EXISTS',
    message: (target) => `${target} already exists.`,
    nextSteps: () => ['Move or remove it, or use another path.'],
  },
  ENOENT: {
    code: 'NO_SUCH_FILE',
    message: (target) => `No such file or folder: ${target}.`,
    nextSteps: () => ['Check the path. If another program moves or deletes files there, run again once it is done.'],
  },
  ENAMETOOLONG: {
    code: 'NAME_TOO_LONG',
    message: (target) => `The path ${target} is too long for the file system.`,
    nextSteps: () => ['Use a shorter location or key template.'],
  },
  ELOOP: {
    code: 'SYMLINK_LOOP',
    message: (target) => `${target} goes through a loop of symbolic links.`,
    nextSteps: () => ['Fix the symbolic links on the path.'],
  },
  EMFILE: {
    code: 'TOO_MANY_OPEN_FILES',
    message: (target) => `Too many open files (at ${target}).`,
    nextSteps: () => ['Raise the open-file limit (ulimit -n, LimitNOFILE= in a systemd unit) or lower --concurrency.'],
  },
  EIO: {
    code: 'IO_ERROR',
    message: (target) => `The disk reported an I/O error on ${target}.`,
    nextSteps: () => ['Check the disk (dmesg, SMART) and the mount; then run again.'],
  },
}
TRANSLATIONS.ENFILE = TRANSLATIONS.EMFILE

/**
 * Translates an error of the local file system (a Node `fs` error: `code` and `syscall`, usually `path`) into a
 * {@link UserError} naming the path and what to do; `undefined` for anything else.
 */
export function fileSystemError(error: unknown): UserError | undefined {
  const failure = error as NodeJS.ErrnoException & {dest?: string}
  if (!(error instanceof Error) || typeof failure.code !== 'string' || typeof failure.syscall !== 'string') return undefined
  const translation = TRANSLATIONS[failure.code]
  if (!translation) return undefined
  const target = failure.path ?? 'a local file'
  return new UserError(translation.message(target), {
    code: translation.code,
    nextSteps: translation.nextSteps(target),
    cause: error,
    details: {path: failure.path, ...(failure.dest ? {dest: failure.dest} : {}), errno: failure.code, syscall: failure.syscall},
  })
}
