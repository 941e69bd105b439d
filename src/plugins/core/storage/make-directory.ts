import fs from 'node:fs/promises'
import path from 'node:path'

import {UserError} from '../errors/errors.js'
import {fileSystemError} from '../errors/filesystem.js'

/**
 * Creates a folder and its missing parents. Not `fs.mkdir(dir, {recursive: true})`: Node's version never returns
 * when a parent exists but answers ENOENT for a new entry (anything under /proc, a parent that is a dangling
 * symbolic link): it makes the parent again and again, at full CPU. Here each level is tried once, and a failure is
 * a user error naming the folder (permissions, read-only or full disk, a file in the way).
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir)
    return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return existingDirectory(dir)
    if (code !== 'ENOENT' || path.dirname(dir) === dir) throw cannotCreate(dir, error)
  }
  await makeDirectory(path.dirname(dir))
  try {
    await fs.mkdir(dir)
  } catch (error) {
    // Made meanwhile by another writer: fine. ENOENT again, with the parent there: the parent takes no new folders.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return existingDirectory(dir)
    throw cannotCreate(dir, error)
  }
}

/** Something exists at `dir`: fine when it is a folder (or a link to one). */
async function existingDirectory(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined)
  if (stat?.isDirectory()) return
  throw new UserError(stat ? `Cannot create folder ${dir}: a file of that name is in the way.` : `Cannot create folder ${dir}: it is a broken symbolic link.`, {
    code: 'NOT_A_DIRECTORY',
    nextSteps: ['Move that entry out of the way, or choose another location.'],
    details: {path: dir},
  })
}

function cannotCreate(dir: string, error: unknown): Error {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
    return new UserError(`Cannot create folder ${dir}: ${path.dirname(dir)} does not take new folders.`, {
      code: 'CANNOT_CREATE_DIRECTORY',
      nextSteps: ['Choose a location on an ordinary, writable file system (not /proc or /sys).'],
      details: {path: dir},
      cause: error,
    })
  }
  return fileSystemError(error) ?? (error as Error)
}
