import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'

import {type Storage} from '../../src/plugins/core/index.js'
import {inputsDigest, type OutputManifest, readManifest, writeManifest} from '../../src/plugins/core/manifest/manifest.js'
import {seededRandom} from '../../src/plugins/core/sources/random.js'
import {bucketOf} from '../../src/plugins/core/verify/buckets.js'
import {ROOT} from '../helpers/cli.js'

/** The test-only source plugin (declared like any third-party plugin). */
export const PLUGIN_DIR = path.join(ROOT, 'test', 'verify', 'fixtures', 'tinybus-plugin')

const tempDirs: string[] = []

/** Removes every directory {@link tempDir} and {@link linkTinybusPlugin} made (call it in the file's afterAll). */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((dir) => fs.rm(dir, {recursive: true, force: true})))
}

/**
 * Makes the CLI see the tinybus plugin the way `bucketwright plugins link` would: a data dir whose package.json
 * lists it as a linked plugin. Returns the environment for spawned runs; in-process runs get it in process.env.
 */
export async function linkTinybusPlugin(): Promise<Record<string, string>> {
  const dataDir = await tempDir('bw-verify-data-')
  await fs.writeFile(path.join(dataDir, 'package.json'), JSON.stringify({private: true, oclif: {schema: 1, plugins: [{type: 'link', name: 'bucketwright-plugin-tinybus', root: PLUGIN_DIR}]}}))
  process.env.BUCKETWRIGHT_DATA_DIR = dataDir
  return {BUCKETWRIGHT_DATA_DIR: dataDir}
}

/** A fresh local temp directory, removed by {@link removeTempDirs}. */
export async function tempDir(prefix = 'bw-verify-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

const stamp = (time: Date) => time.toISOString().slice(0, 19).replace('T', '__').replaceAll(':', '-')

/** Options of {@link buildDataset}. */
export interface DatasetOptions {
  /** First snapshot (a Monday keeps weeks whole). */
  start?: Date
  weeks?: number
  /** Raw objects per week, spread evenly over the week. */
  objectsPerWeek?: number
  vehicles?: number
  seed?: number
}

/** What {@link buildDataset} wrote: week labels in order and the records of each. */
export interface Dataset {
  weeks: string[]
  recordsPerWeek: Map<string, number>
  outputKey: (week: string) => string
}

/**
 * Writes a tinybus raw archive under `raw` and its conversion under `output` the way convert does: one
 * `{YYYY}-W{WW}.jsonl.gz` per ISO week and a manifest per output (core writeManifest, with the write's checksums).
 */
export async function buildDataset(raw: Storage | undefined, output: Storage, options: DatasetOptions = {}): Promise<Dataset> {
  const start = options.start ?? new Date('2024-01-01T00:00:00Z')
  const weeks = options.weeks ?? 5
  const perWeek = options.objectsPerWeek ?? 6
  const vehicles = options.vehicles ?? 20
  const next = seededRandom(options.seed ?? 7)
  const byWeek = new Map<string, {lines: string[]; inputs: {key: string; size: number; etag?: string}[]; from: Date; to: Date}>()
  for (let i = 0; i < weeks * perWeek; i++) {
    const time = new Date(start.getTime() + Math.floor((i * 7 * 86_400_000) / perWeek))
    const key = `raw/tinybus__${stamp(time)}.json`
    const fleet = Array.from({length: vehicles}, (_, v) => ({
      vehicleID: 100 + v,
      latitude: Math.round((45.5 + (next() - 0.5) * 0.2) * 1e7) / 1e7,
      longitude: Math.round((-122.6 + (next() - 0.5) * 0.2) * 1e7) / 1e7,
      routeNumber: v % 7 === 0 ? null : 10 + (v % 5),
      signMessage: v % 7 === 0 ? null : `Route ${10 + (v % 5)}`,
      offRoute: next() < 0.05,
      time: time.getTime() - Math.floor(next() * 60_000),
    }))
    const body = JSON.stringify(fleet)
    const written = raw ? await raw.write(key, body) : undefined
    const bucket = bucketOf('week', time)
    const entry = byWeek.get(bucket.label) ?? {lines: [], inputs: [], from: bucket.start, to: bucket.end}
    const snapshotTime = time.toISOString().replace('.000Z', 'Z')
    for (const vehicle of fleet) entry.lines.push(JSON.stringify({...vehicle, snapshot_time: snapshotTime}))
    entry.inputs.push({key, size: Buffer.byteLength(body), etag: written?.etag})
    byWeek.set(bucket.label, entry)
  }
  const outputKey = (week: string) => `${week}.jsonl.gz`
  for (const [week, entry] of byWeek) {
    await writeOutput(output, outputKey(week), entry.lines, {bucket: {key: week, from: entry.from.toISOString(), to: entry.to.toISOString()}, inputs: entry.inputs})
  }
  return {weeks: [...byWeek.keys()], recordsPerWeek: new Map([...byWeek].map(([week, entry]) => [week, entry.lines.length])), outputKey}
}

/** Writes one gzip JSONL output and its manifest (as convert would). */
export async function writeOutput(output: Storage, key: string, lines: string[], meta: {bucket: OutputManifest['bucket']; inputs: OutputManifest['inputs']}): Promise<void> {
  const body = zlib.gzipSync(lines.map((line) => line + '\n').join(''))
  const written = await output.write(key, body)
  await writeManifest(output, {
    manifestVersion: 1,
    tool: {name: 'bucketwright', version: 'test'},
    command: 'convert',
    source: 'tinybus',
    createdAt: new Date().toISOString(),
    output: {key, size: written.size, md5: written.md5, sha256: written.sha256, etag: written.etag, format: 'jsonl', compression: 'gzip'},
    bucket: meta.bucket,
    inputs: meta.inputs,
    inputsDigest: inputsDigest(meta.inputs),
    counts: {objects: meta.inputs.length, records: lines.length, quarantined: 0},
    quarantined: [],
  })
}

/** The records (JSON lines) of an output. */
export async function readOutputLines(output: Storage, key: string): Promise<string[]> {
  return zlib
    .gunzipSync(await output.readBytes(key))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
}

/**
 * Rewrites an output's records through `change`. With `updateManifest` the manifest is rewritten to match (a
 * converter that wrote bad data and counted it faithfully); without, the manifest keeps the old counts and sums.
 */
export async function rewriteOutput(output: Storage, key: string, change: (lines: string[]) => string[], options: {updateManifest: boolean}): Promise<void> {
  const lines = change(await readOutputLines(output, key))
  if (options.updateManifest) {
    const manifest = (await readManifest(output, key))!
    await writeOutput(output, key, lines, {bucket: manifest.bucket, inputs: manifest.inputs})
  } else {
    await output.write(key, zlib.gzipSync(lines.map((line) => line + '\n').join('')))
  }
}

/** Cuts an output's stored bytes to `fraction` of their length: a truncated upload or copy. */
export async function truncateOutput(output: Storage, key: string, fraction = 0.6): Promise<void> {
  const bytes = await output.readBytes(key)
  await output.write(key, bytes.subarray(0, Math.floor(bytes.length * fraction)))
}
