import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import zlib from 'node:zlib'

import type {DataSource} from '../../src/plugins/core/index.js'
import type {SourceLoader} from '../../src/plugins/core/convert/source-handle.js'
import type {ConvertOptions} from '../../src/plugins/core/convert/types.js'
import type {Storage} from '../../src/plugins/core/storage/types.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const LINES_SOURCE_URL = pathToFileURL(path.join(here, 'fixtures', 'lines-source.mjs')).href

/** The test NDJSON source and how encoder threads load it. */
export async function linesSource(): Promise<{source: DataSource; loader: SourceLoader}> {
  const module = (await import(LINES_SOURCE_URL)) as {linesSource: DataSource}
  return {source: module.linesSource, loader: {kind: 'module', url: LINES_SOURCE_URL, name: 'test-lines'}}
}

/** Options of a weekly gzip JSONL convert of the test source from `input` to `output` (its defaults, `more` on top). */
export async function weeklyOptions(input: Storage, output: Storage, more: Partial<ConvertOptions> = {}): Promise<ConvertOptions> {
  const {source, loader} = await linesSource()
  return {input, output, source, loader, bucket: 'week', format: 'jsonl', compression: 'gzip', keyTemplate: '{YYYY}-W{WW}.jsonl.gz', toolVersion: 'test', threads: 2, ...more}
}

/** A fresh temp directory, removed by the caller. */
export async function tempDir(prefix = 'bw-convert-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix))
}

/** Writes NDJSON event objects: `count` objects `everyMinutes` apart from `start`, `perObject` lines each. */
export async function writeEvents(root: string, start: string, count: number, everyMinutes: number, perObject = 3): Promise<string[]> {
  const keys: string[] = []
  for (let i = 0; i < count; i++) {
    const time = new Date(Date.parse(start) + i * everyMinutes * 60_000)
    const key = `events/${time.toISOString().slice(0, 10)}/${time.toISOString().slice(11, 19).replaceAll(':', '-')}.ndjson`
    const lines = Array.from({length: perObject}, (_, j) => JSON.stringify({id: i * 100 + j, speed: (i * 7 + j) % 90}))
    await fs.mkdir(path.dirname(path.join(root, key)), {recursive: true})
    await fs.writeFile(path.join(root, key), lines.join('\n') + '\n')
    keys.push(key)
  }
  return keys
}

/** The records of a gzip/zstd/plain JSONL file, parsed. */
export async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  let bytes = await fs.readFile(file)
  if (file.endsWith('.gz')) bytes = zlib.gunzipSync(bytes)
  if (file.endsWith('.zst')) bytes = zlib.zstdDecompressSync(bytes)
  return bytes
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}
