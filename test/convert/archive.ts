import {GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {spawnSync} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'

import {REPR_CUTOFF_TIME} from '../../src/plugins/bustimes/index.js'
import {bustimesObject} from '../fixtures/generated.js'
import {ROOT} from '../helpers/cli.js'

/** What {@link makeBustimesArchive} wrote. */
export interface BustimesArchive {
  /** Keys (relative paths) in time order. */
  keys: string[]
  /** Vehicles written in all, as the generator counted them. */
  records: number
  /** Bytes written in all. */
  bytes: number
}

/**
 * A bustimes archive from the project's generator, laid out as the real bucket was: by default Sunday 2021-11-07
 * 22:00 to Wednesday 2021-11-10 09:30 every 30 minutes — two ISO weeks, across the 2021-11-10 07:15:05 repr→JSON
 * cutoff, the first five objects at the legacy root level, every third JSON object a full API response.
 */
export async function makeBustimesArchive(dir: string, options: {start?: string; count?: number; every?: number; rootLevel?: number; envelopeEvery?: number} = {}): Promise<BustimesArchive> {
  const start = Date.parse(`${options.start ?? '2021-11-07T22:00:00'}Z`)
  const count = options.count ?? 126
  const every = (options.every ?? 1800) * 1000
  const rootLevel = options.rootLevel ?? 5
  const envelopeEvery = options.envelopeEvery ?? 3
  const archive: BustimesArchive = {keys: [], records: 0, bytes: 0}
  let json = 0
  for (let i = 0; i < count; i++) {
    const time = start + i * every
    const object = await bustimesObject(new Date(time).toISOString())
    const key = i < rootLevel ? object.key.slice('raw/'.length) : object.key
    let body = object.body.toString('utf8')
    if (time > REPR_CUTOFF_TIME && envelopeEvery > 0 && json++ % envelopeEvery === envelopeEvery - 1) body = `{"resultSet": {"queryTime": ${time}, "vehicle": ${body}}}`
    await fs.mkdir(path.dirname(path.join(dir, key)), {recursive: true})
    await fs.writeFile(path.join(dir, key), body)
    archive.keys.push(key)
    archive.records += object.records
    archive.bytes += Buffer.byteLength(body)
  }
  return archive
}

/** A record as canonical JSON (keys sorted at every level), so records compare by value. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

/**
 * Python's own reading of every object of an archive — `ast.literal_eval` or `json.loads` by the cutoff rule, plus
 * snapshot_time from the key (test/sources/fixtures/literal_oracle.py) — as sorted canonical records.
 */
/** Whether python3 runs here: the old converter (test/convert/fixtures/old_converter.py) needs it. */
export const hasPython = spawnSync('python3', ['--version']).status === 0

/** Writes `archive`'s weeks into `out` as the original bustimes converter did (compressed, no manifest). */
export function oldConverterWeeks(archive: string, out: string, compression: 'gzip' | 'none' = 'gzip'): void {
  const run = spawnSync('python3', [path.join(ROOT, 'test', 'convert', 'fixtures', 'old_converter.py'), archive, out, compression], {encoding: 'utf8'})
  if (run.status !== 0) throw new Error(run.stderr)
}

export async function pythonReading(dir: string, keys: string[]): Promise<string[]> {
  const input = (await Promise.all(keys.map(async (key) => JSON.stringify({key, body: (await fs.readFile(path.join(dir, key))).toString('base64')})))).join('\n') + '\n'
  const oracle = path.join(ROOT, 'test', 'sources', 'fixtures', 'literal_oracle.py')
  const python = spawnSync('python3', [oracle, 'bustimes'], {input, encoding: 'utf8', maxBuffer: 1 << 30})
  if (python.status !== 0) throw new Error(`literal_oracle.py failed: ${python.stderr}`)
  const records: string[] = []
  for (const line of python.stdout.trim().split('\n')) {
    const text = JSON.parse(line) as string | null
    if (text === null) throw new Error('Python refuses an object of the archive')
    for (const record of JSON.parse(text) as unknown[]) records.push(canonical(record))
  }
  return records.sort()
}

/** The records of the weekly outputs (`*.jsonl.gz`, manifests aside) in a directory, as sorted canonical records. */
export async function outputRecords(dir: string): Promise<string[]> {
  const records: string[] = []
  for (const file of (await fs.readdir(dir)).filter((name) => name.endsWith('.jsonl.gz'))) {
    for (const line of zlib
      .gunzipSync(await fs.readFile(path.join(dir, file)))
      .toString('utf8')
      .split('\n'))
      if (line) records.push(canonical(JSON.parse(line)))
  }
  return records.sort()
}

/** Every file under a directory, as keys relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, {recursive: true, withFileTypes: true})
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort()
}

/** Uploads a local directory's files to s3://bucket/prefix. */
export async function uploadDir(client: S3Client, dir: string, bucket: string, prefix = ''): Promise<number> {
  const keys = await filesUnder(dir)
  for (let i = 0; i < keys.length; i += 16) {
    await Promise.all(keys.slice(i, i + 16).map(async (key) => client.send(new PutObjectCommand({Bucket: bucket, Key: prefix + key, Body: await fs.readFile(path.join(dir, key))}))))
  }
  return keys.length
}

/** Keys under s3://bucket/prefix. */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken: token}))
    keys.push(...(page.Contents ?? []).map((item) => item.Key!))
    token = page.NextContinuationToken
  } while (token)
  return keys
}

/** Downloads the objects under s3://bucket/prefix (not `_manifests/`) into a directory. */
export async function downloadOutputs(client: S3Client, bucket: string, prefix: string, dir: string): Promise<string[]> {
  const keys = (await listKeys(client, bucket, prefix)).filter((key) => !key.slice(prefix.length).startsWith('_manifests/'))
  await fs.mkdir(dir, {recursive: true})
  for (const key of keys) {
    const out = await client.send(new GetObjectCommand({Bucket: bucket, Key: key}))
    await fs.writeFile(path.join(dir, key.slice(prefix.length).replaceAll('/', '_')), await out.Body!.transformToByteArray())
  }
  return keys
}

/** Reads a JSON object from S3. */
export async function readJsonObject<T>(client: S3Client, bucket: string, key: string): Promise<T> {
  const out = await client.send(new GetObjectCommand({Bucket: bucket, Key: key}))
  return JSON.parse(await out.Body!.transformToString()) as T
}
