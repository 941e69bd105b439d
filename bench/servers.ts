/**
 * The servers the benchmarks run against, each started one way for every bench: the project's own S3 test server
 * (fauxqs, the devDependency — never a private copy) or the benchmark listing server, each in a process of its own on
 * loopback, so that a client's CPU is the client's alone and the server's can be sampled by its pid; the fault proxy
 * (latency per request), also in its own process; and a real Postgres (test/helpers/postgres.ts).
 */
import {CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client} from '@aws-sdk/client-s3'
import {spawn} from 'node:child_process'
import path from 'node:path'

import {ROOT} from './harness.js'

export {startPostgres} from '../test/helpers/postgres.js'

/** A server in a child process: where to reach it, its pid (to sample its CPU), and how to stop it. */
export interface ServerProcess {
  endpoint: string
  pid: number
  stop: () => Promise<void>
}

/** Spawns a bench/ TypeScript file that prints its endpoint on its first stdout line and stops when stdin closes. */
function spawnServer(what: string, script: string, args: string[]): Promise<{child: ReturnType<typeof spawn>; endpoint: string}> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', script), ...args], {cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit']})
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (chunk: Buffer) => {
      out += chunk
      if (!out.includes('\n')) return
      child.stdout!.off('data', onData)
      resolve({child, endpoint: out.split('\n')[0].trim()})
    }
    child.stdout!.on('data', onData)
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready`)))
  })
}

const stopper = (child: ReturnType<typeof spawn>) => async () => {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.stdin!.end()
  await exited
}

/**
 * A loopback S3 server in its own process (s3-server-process.ts): `fauxqs`, the project's test server (in memory;
 * single PUTs up to 11 MiB), or `indexed`, the benchmark listing server whose LIST costs what S3's does.
 */
export async function startS3Server(kind: 'fauxqs' | 'indexed' = 'fauxqs'): Promise<ServerProcess> {
  const {child, endpoint} = await spawnServer(`${kind} S3 server`, 's3-server-process.ts', [kind])
  return {endpoint, pid: child.pid!, stop: stopper(child)}
}

/** The fault proxy in front of `target` in its own process (proxy-process.ts), `latency` ms added per request. */
export async function startProxy(target: string, latency: number): Promise<ServerProcess & {reset: () => Promise<void>; count: () => Promise<number>}> {
  const {child, endpoint} = await spawnServer('proxy', 'proxy-process.ts', [target, String(latency)])
  const replies: ((line: string) => void)[] = []
  let buffered = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk
    let newline
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      replies.shift()?.(line)
    }
  })
  const ask = (command: string) =>
    new Promise<string>((resolve) => {
      replies.push(resolve)
      child.stdin!.write(command + '\n')
    })
  return {
    endpoint,
    pid: child.pid!,
    stop: stopper(child),
    reset: async () => void (await ask('reset')),
    count: async () => Number(await ask('count')),
  }
}

/** Credentials for the loopback servers (they accept any key pair). */
export const BENCH_CREDENTIALS = {accessKeyId: 'bench', secretAccessKey: 'bench'}

/** Environment a command (ours, or a peer reading the AWS variables) needs to reach a loopback S3 server. */
export function s3Env(endpoint: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: BENCH_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: BENCH_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    BUCKETWRIGHT_ENDPOINT: endpoint,
    NODE_NO_WARNINGS: '1',
  }
  // A profile or session token from the shell would override the loopback pair.
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_CA_BUNDLE']) delete env[name]
  return env
}

/** An SDK client on a loopback server, for arranging and checking a bench's data (never timed). */
export function benchS3Client(endpoint: string): S3Client {
  return new S3Client({endpoint, region: 'us-east-1', forcePathStyle: true, credentials: BENCH_CREDENTIALS})
}

let bucketSerial = 0
/** Creates a bucket named `<prefix>-<pid>-<n>` and returns its name. */
export async function createBucket(client: S3Client, prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${++bucketSerial}`.toLowerCase()
  await client.send(new CreateBucketCommand({Bucket: name}))
  return name
}

/** Keys under a prefix, all pages. */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken: token}))
    for (const object of page.Contents ?? []) keys.push(object.Key!)
    token = page.NextContinuationToken
  } while (token)
  return keys
}

/** Deletes every object of a bucket: the in-memory server would otherwise hold every round's uploads. */
export async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  const keys = await listKeys(client, bucket)
  for (let i = 0; i < keys.length; i += 1000) {
    await client.send(new DeleteObjectsCommand({Bucket: bucket, Delete: {Objects: keys.slice(i, i + 1000).map((Key) => ({Key})), Quiet: true}}))
  }
}
