/**
 * The benchmarks' data, made inside the repository: bustimes archives by the project's own generator (the built
 * `generateBustimes`, deterministic for a seed: the real key layout, Python-2 repr before the 2021-11-10 cutoff and
 * JSON after, some objects as full API responses) and plain files for upload benchmarks.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {loadBuilt} from './harness.js'

/** What was written: object count, bytes, records. */
export interface WrittenData {
  objects: number
  bytes: number
  records: number
}

/** Writes `count` bustimes snapshots, one every `everySeconds` from `start` (ISO, UTC), as files under `dir` (keys as paths). */
export async function writeBustimesArchive(dir: string, options: {start: string; count: number; everySeconds: number; seed?: number}): Promise<WrittenData> {
  const {generateBustimes} = await loadBuilt<typeof import('../src/plugins/bustimes/index.js')>('plugins/bustimes/index.js')
  const from = new Date(options.start.endsWith('Z') ? options.start : `${options.start}Z`)
  const range = {from, to: new Date(from.getTime() + options.count * options.everySeconds * 1000)}
  const written: WrittenData = {objects: 0, bytes: 0, records: 0}
  for await (const object of generateBustimes({range, rate: 3600 / options.everySeconds, seed: options.seed ?? 1})) {
    const file = path.join(dir, object.key)
    mkdirSync(path.dirname(file), {recursive: true})
    writeFileSync(file, object.body)
    written.objects++
    written.bytes += typeof object.body === 'string' ? Buffer.byteLength(object.body) : object.body.length
    written.records += object.records ?? 0
  }
  return written
}

/** A folder of files to upload: where it is, how many files, how many bytes. */
export interface FileSet {
  name: string
  dir: string
  files: number
  bytes: number
}

/** Every file under a folder, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
}

/**
 * Files for the upload benchmark: `small` — `smallFiles` JSON files of about 2 KB in five folders (what a logger or
 * an API fetcher leaves); `large` — `largeFiles` files of `largeMiB` MiB of random bytes (incompressible).
 */
export function writeUploadSets(dir: string, options: {smallFiles: number; largeFiles: number; largeMiB: number}): FileSet[] {
  const small = path.join(dir, 'small')
  for (let i = 0; i < options.smallFiles; i++) {
    const folder = path.join(small, `d${i % 5}`)
    mkdirSync(folder, {recursive: true})
    const record = {id: i, dir: i % 5, ts: 1_700_000_000_000 + i, tags: [], payload: randomBytes(960).toString('hex')}
    writeFileSync(path.join(folder, `f${String(i).padStart(5, '0')}.json`), JSON.stringify(record))
  }
  const large = path.join(dir, 'large')
  mkdirSync(large, {recursive: true})
  for (let i = 0; i < options.largeFiles; i++) writeFileSync(path.join(large, `big${String(i).padStart(2, '0')}.bin`), randomBytes(options.largeMiB * 1024 * 1024))
  return [small, large].map((folder) => {
    const files = filesUnder(folder)
    return {name: path.basename(folder), dir: folder, files: files.length, bytes: files.reduce((sum, file) => sum + statSync(file).size, 0)}
  })
}
