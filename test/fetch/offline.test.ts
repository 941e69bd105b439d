/**
 * `fetch --offline` never contacts the endpoint: after one fetch against the loopback S3 server, the same fetch with
 * the endpoint pointing at a closed port serves the same bytes from the cache (listings included); what the cache
 * does not hold is an error (exit 1, OFFLINE_MISS) naming the prefix or key and what to do.
 */
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openStorage} from '../../src/plugins/core/index.js'
import {writeGenerated} from '../../src/plugins/core/generate/generate.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {wydotBsmSource} from '../../src/plugins/wydot-bsm/index.js'
import {runCli} from '../helpers/cli.js'
import {createTestBucket, s3Endpoint, s3Env, s3rverEndpoint, testS3Client, useS3Env} from '../helpers/s3.js'

/** oclif wraps an error's lines at the terminal width (` ›   ` continuations): the text as one line. */
const unwrapped = (text: string) => text.replaceAll(/\n › {3}/g, '')

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('fetch --offline', {timeout: 120_000}, () => {
  let tmp: string
  let bucket: string
  let unreachable: Record<string, string>

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-fetch-offline-'))
    bucket = await createTestBucket('bw-offline')
    useS3Env()
    const storage = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint(), region: 'us-east-1'})
    await writeGenerated(wydotBsmSource(), storage, {range: {from: new Date('2019-03-01T10:00:00Z'), to: new Date('2019-03-01T13:00:00Z')}, seed: 7, rate: 600})
    await storage.close()
    unreachable = {...s3Env(), BUCKETWRIGHT_ENDPOINT: `http://127.0.0.1:${await closedPort()}`}
  })
  afterAll(async () => {
    await rm(tmp, {recursive: true, force: true})
  })

  const fetch = (dir: string, env: Record<string, string>, ...extra: string[]) =>
    runCli(['fetch', `s3://${bucket}/`, path.join(tmp, dir), '--source', 'wydot-bsm', '--from', '2019-03-01T10', '--to', '2019-03-01T12', '--cache-dir', path.join(tmp, 'cache'), ...extra], {env})

  it('with the endpoint unreachable: stale-if-error (a WARN naming the age) and --offline serve the same bytes', async () => {
    const online = await fetch('online', s3Env())
    expect(online.code, online.stderr).toBe(0)
    // The endpoint is down: without --offline, stale-if-error serves the cache after the retries, with a WARN saying how old…
    const down = await fetch('down', unreachable, '--json')
    expect(down.code, down.stderr).toBe(0)
    expect(JSON.parse(down.stdout)).toMatchObject({objects: 24, cache: {hits: 24, misses: 0}})
    expect(unwrapped(down.stderr)).toMatch(/WARN Serving the cached copy of the listing of s3:\/\/[^ ]+\/wydot\/BSM\/2019\/03\/01\/10\/, \d+ s old, because the endpoint failed \(ENDPOINT_UNREACHABLE\)/)
    // …with --offline it never tries (no WARN: nothing failed), and gets everything from the cache.
    const offline = await fetch('offline', unreachable, '--offline', '--json')
    expect(offline.code, offline.stderr).toBe(0)
    expect(JSON.parse(offline.stdout)).toMatchObject({objects: 24, cache: {hits: 24, misses: 0}})
    expect(offline.stderr).not.toMatch(/WARN|ENDPOINT_UNREACHABLE/)
    const keys: string[] = []
    for await (const info of new LocalStorage(path.join(tmp, 'online')).list()) keys.push(info.key)
    expect(keys).toHaveLength(24)
    for (const key of keys) {
      for (const dir of ['offline', 'down']) expect((await readFile(path.join(tmp, dir, key))).equals(await readFile(path.join(tmp, 'online', key)))).toBe(true)
    }
  })

  it('a prefix never listed is an OFFLINE_MISS naming it', async () => {
    const run = await runCli(['fetch', `s3://${bucket}/`, path.join(tmp, 'later'), '--source', 'wydot-bsm', '--from', '2019-03-01T12', '--to', '2019-03-01T13', '--cache-dir', path.join(tmp, 'cache'), '--offline'], {
      env: unreachable,
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/OFFLINE_MISS/)
    expect(unwrapped(run.stderr)).toContain('wydot/BSM/2019/03/01/12/')
    expect(run.stderr).toMatch(/without --offline/)
  })

  it('an object gone from the cache is an OFFLINE_MISS naming its key', async () => {
    // Keep the listings, drop every object body.
    const cache = path.join(tmp, 'cache')
    for (const shard of (await readdir(cache)).filter((name) => /^[0-9a-f]{2}$/.test(name))) await rm(path.join(cache, shard), {recursive: true})
    const run = await fetch('gone', unreachable, '--offline')
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/OFFLINE_MISS/)
    expect(unwrapped(run.stderr)).toMatch(/wydot\/BSM\/2019\/03\/01\/1[01]\/wydot-filtered-bsm-\d+\.json is not in the cache/)
  })

  it('--offline with --no-cache is a usage error', async () => {
    const run = await fetch('nocache', unreachable, '--offline', '--no-cache')
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/OFFLINE_WITHOUT_CACHE/)
  })
})

describe('stale-if-error is never for a refusal (403)', {timeout: 120_000}, () => {
  it('s3rver refusing the credentials: exit 1 with its own error, no cached copy served', async () => {
    const endpoint = s3rverEndpoint()
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-fetch-403-'))
    try {
      useS3Env(endpoint)
      const bucket = await createTestBucket('bw-stale-403', testS3Client(endpoint))
      const storage = await openStorage(`s3://${bucket}/`, {endpoint, region: 'us-east-1'})
      await writeGenerated(wydotBsmSource(), storage, {range: {from: new Date('2019-03-01T10:00:00Z'), to: new Date('2019-03-01T11:00:00Z')}, seed: 7, rate: 600})
      await storage.close()
      const fetch = (dir: string, env: Record<string, string>) =>
        runCli(['fetch', `s3://${bucket}/`, path.join(tmp, dir), '--source', 'wydot-bsm', '--from', '2019-03-01T10', '--to', '2019-03-01T11', '--cache-dir', path.join(tmp, 'cache')], {env})
      expect((await fetch('online', s3Env(endpoint))).code).toBe(0)
      const refused = await fetch('refused', {...s3Env(endpoint), AWS_ACCESS_KEY_ID: 'SOMEONE-ELSE', AWS_SECRET_ACCESS_KEY: 'not-the-key'})
      expect(refused.code, refused.stderr).toBe(1)
      expect(refused.stderr).toMatch(/BAD_CREDENTIALS|ACCESS_DENIED/)
      expect(refused.stderr).not.toMatch(/Serving the cached copy/)
    } finally {
      useS3Env()
      await rm(tmp, {recursive: true, force: true})
    }
  })
})
