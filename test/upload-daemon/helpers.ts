import {GetObjectCommand, ListObjectsV2Command, type S3Client} from '@aws-sdk/client-s3'
import {mkdir, mkdtemp, utimes, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {runInProcess} from '../helpers/cli.js'
import {s3Env} from '../helpers/s3.js'

/** A fresh root directory for one test. */
export async function makeRoot(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'bw-daemon-'))
}

/** Writes a file and dates it back, so the daemon sees it as stable. */
export async function writeStable(file: string, content: string | Buffer, ageSeconds = 30): Promise<void> {
  await mkdir(path.dirname(file), {recursive: true})
  await writeFile(file, content)
  const then = new Date(Date.now() - ageSeconds * 1000)
  await utimes(file, then, then)
}

/** The body of an object, or undefined when there is none. */
export async function objectBody(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({Bucket: bucket, Key: key}))
    return Buffer.from(await out.Body!.transformToByteArray())
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey' || (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return undefined
    throw error
  }
}

/** Every key in a bucket. */
export async function bucketKeys(client: S3Client, bucket: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({Bucket: bucket}))
  return (out.Contents ?? []).map((item) => item.Key!).sort()
}

/** Environment for daemon runs against the loopback server: no metadata service, fast retries. */
export function daemonEnv(endpoint?: string): Record<string, string> {
  return {...s3Env(endpoint), AWS_EC2_METADATA_DISABLED: 'true'}
}

/** Runs `upload-daemon ARGS` in this process with the loopback environment. */
export async function runDaemon(args: string[], env: Record<string, string | undefined> = {}) {
  const saved: Record<string, string | undefined> = {}
  const all = {...daemonEnv(), ...env}
  for (const [key, value] of Object.entries(all)) {
    saved[key] = process.env[key]
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  try {
    return await runInProcess<Record<string, unknown>>(['upload-daemon', ...args])
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}
