import {GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {execFile} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import {promisify} from 'node:util'

import {ROOT} from '../helpers/cli.js'

const run = promisify(execFile)
/** The peers' benchmark helpers, beside the repository. */
export const BENCH = path.resolve(ROOT, '..', 'shared', 'bench')

/** Python with boto3 for the reference's S3 mode (Debian's python3-boto3), if this machine has one. */
export async function pythonWithBoto3(): Promise<string | undefined> {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      await run(python, ['-c', 'import boto3'])
      return python
    } catch {}
  }
  return undefined
}

/**
 * A realistic bustimes archive (make_bustimes.py, built from the real TriMet samples): Sunday 2021-11-07 22:00 to
 * Wednesday 2021-11-10 10:30 every 30 minutes — two ISO weeks, across the 2021-11-10 07:15 repr→JSON cutoff, the
 * first objects at the legacy root level, every third JSON object a full API response.
 */
export async function makeBustimesArchive(dir: string, options: {start?: string; count?: number; every?: number} = {}): Promise<void> {
  await run('python3', [
    path.join(BENCH, 'make_bustimes.py'),
    dir,
    '--start', options.start ?? '2021-11-07T22:00:00',
    '--count', String(options.count ?? 126),
    '--every', String(options.every ?? 1800),
    '--root-level', '5',
    '--envelope-every', '3',
  ])
}

/** Runs the original Python converter (reference_convert.py) on a directory or an S3 location. */
export async function referenceConvert(src: string, out: string, options: {python?: string; endpoint?: string; env?: Record<string, string>} = {}): Promise<void> {
  const args = [path.join(BENCH, 'reference_convert.py'), src, out]
  if (options.endpoint) args.push('--endpoint', options.endpoint)
  await run(options.python ?? 'python3', args, {env: {...process.env, ...options.env}, maxBuffer: 1 << 24})
}

/** compare_weeks.py on two directories of weekly outputs: its verdict and summary. */
export async function compareWeeks(a: string, b: string): Promise<{equal: boolean; summary: {records_a: number; records_b: number; differing_records: number; weeks_a: string[]; weeks_b: string[]}}> {
  try {
    const {stdout} = await run('python3', [path.join(BENCH, 'compare_weeks.py'), a, b], {maxBuffer: 1 << 24})
    return {equal: true, summary: JSON.parse(stdout)}
  } catch (error) {
    const stdout = (error as {stdout?: string}).stdout ?? '{}'
    return {equal: false, summary: JSON.parse(stdout || '{}')}
  }
}

/** Every file under a directory, as keys relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, {recursive: true, withFileTypes: true})
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/')).sort()
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
