import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, s3Env} from '../helpers/s3.js'

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY'

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Runs `ls` with --json and returns the parsed error document, checking stdout holds only that. */
async function lsError(location: string, env: Record<string, string | undefined>, extra: string[] = []) {
  const run = await runCli(['ls', location, '--json', ...extra], {env: {BUCKETWRIGHT_MAX_ATTEMPTS: '2', ...env}})
  expect(run.stdout.trim().startsWith('{')).toBe(true)
  const doc = JSON.parse(run.stdout) as {error: {code: string; message: string; exitCode: number; nextSteps: string[]; details: Record<string, unknown>; cause: string}}
  expect(run.stdout).not.toContain(SECRET)
  expect(run.stderr).not.toContain(SECRET)
  return {run, error: doc.error}
}

describe('actionable errors, produced for real', () => {
  let proxy: FaultProxy
  let bucket: string
  let home: string

  beforeAll(async () => {
    bucket = await createTestBucket('bw-errors')
    proxy = await new FaultProxy(s3Endpoint()).start()
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-home-'))
  })

  afterAll(async () => {
    await proxy.stop()
    await fs.rm(home, {recursive: true, force: true})
  })

  it('no credentials: lists the ways to configure them and --anonymous', async () => {
    const {run, error} = await lsError(`s3://${bucket}/`, {
      HOME: home,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: path.join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      BUCKETWRIGHT_ENDPOINT: s3Endpoint(),
      AWS_REGION: 'us-east-1',
    })
    expect(run.code).toBe(1)
    expect(error.code).toBe('NO_CREDENTIALS')
    expect(error.cause).toBe('user')
    expect(error.nextSteps.join('\n')).toMatch(/AWS_ACCESS_KEY_ID/)
    expect(error.nextSteps.join('\n')).toMatch(/--profile/)
    expect(error.nextSteps.join('\n')).toMatch(/--anonymous/)
    // Without --json, the same error is a readable message with the next steps, not a stack trace.
    const text = await runCli(['ls', `s3://${bucket}/`], {
      env: {
        HOME: home,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_CONFIG_FILE: path.join(home, 'x'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'y'),
        AWS_EC2_METADATA_DISABLED: 'true',
        BUCKETWRIGHT_ENDPOINT: s3Endpoint(),
        AWS_REGION: 'us-east-1',
      },
    })
    expect(text.code).toBe(1)
    expect(text.stdout).toBe('')
    expect(text.stderr).toMatch(/No AWS credentials found/)
    expect(text.stderr).toMatch(/--anonymous/)
    expect(text.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
  })

  it('access denied: names the action, the resource and the IAM permission', async () => {
    proxy.plan = () => ({type: 'status', status: 403, code: 'AccessDenied'})
    const {run, error} = await lsError(`s3://${bucket}/raw/`, {...s3Env(proxy.endpoint), AWS_SECRET_ACCESS_KEY: SECRET})
    expect(run.code).toBe(1)
    expect(error.code).toBe('ACCESS_DENIED')
    expect(error.message).toContain(`ListObjectsV2 on s3://${bucket}`)
    expect(error.details).toMatchObject({action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}`})
    expect(error.nextSteps.join('\n')).toContain(`s3:ListBucket on arn:aws:s3:::${bucket}`)
  })

  it('no such bucket: says so and how to find the right one', async () => {
    const {run, error} = await lsError('s3://bw-no-such-bucket-here/', s3Env())
    expect(run.code).toBe(1)
    expect(error.code).toBe('NO_SUCH_BUCKET')
    expect(error.message).toContain('"bw-no-such-bucket-here" does not exist')
  })

  it("wrong region: names the bucket's region and the flag to pass", async () => {
    proxy.plan = () => ({type: 'status', status: 301, code: 'PermanentRedirect', headers: {'x-amz-bucket-region': 'eu-west-1'}})
    const {run, error} = await lsError(`s3://${bucket}/`, s3Env(proxy.endpoint), ['--region', 'us-east-1'])
    expect(run.code).toBe(1)
    expect(error.code).toBe('WRONG_REGION')
    expect(error.message).toContain('it is in eu-west-1')
    expect(error.nextSteps[0]).toBe('Pass --region eu-west-1.')
  })

  it('endpoint unreachable: names the endpoint and what to check', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const {run, error} = await lsError(`s3://${bucket}/`, s3Env(endpoint))
    expect(run.code).toBe(1)
    expect(error.code).toBe('ENDPOINT_UNREACHABLE')
    expect(error.message).toContain(endpoint)
    expect(error.message).toContain('ECONNREFUSED')
  })

  it('usage errors exit 2 with a clean --json document', async () => {
    const run = await runCli(['ls', '--json'])
    expect(run.code).toBe(2)
    const doc = JSON.parse(run.stdout) as {error: {code: string; exitCode: number}}
    expect(doc.error).toMatchObject({code: 'USAGE', exitCode: 2})
    const bad = await runCli(['ls', 'ftp://example/x', '--json'])
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error.code).toBe('BAD_LOCATION')
  })

  it('success: exit 0 and stdout holds exactly one JSON document', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-ls-'))
    onTestFinished(() => fs.rm(dir, {recursive: true, force: true}))
    await fs.mkdir(path.join(dir, 'a'))
    await fs.writeFile(path.join(dir, 'a', 'one.txt'), 'one')
    await fs.writeFile(path.join(dir, 'two.txt'), 'two!')
    const run = await runCli(['ls', dir, '--json'])
    expect(run.code).toBe(0)
    const doc = JSON.parse(run.stdout) as {count: number; bytes: number; objects: {key: string}[]}
    expect(doc.objects.map((o) => o.key)).toEqual(['a/one.txt', 'two.txt'])
    expect(doc.bytes).toBe(7)
    const text = await runCli(['ls', dir])
    expect(text.stdout.trim().split('\n')).toHaveLength(2)
    expect(text.stderr).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO 2 objects, 7 bytes/m)
  })
})
