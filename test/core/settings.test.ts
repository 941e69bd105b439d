import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, s3Env, testS3Client} from '../helpers/s3.js'
import {PutObjectCommand} from '@aws-sdk/client-s3'

async function closedEndpoint(): Promise<string> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

describe('settings: config file < BUCKETWRIGHT_* environment < flags; credential modes', () => {
  let proxy: FaultProxy
  let bucket: string
  let dir: string

  beforeAll(async () => {
    bucket = await createTestBucket('bw-settings')
    await testS3Client().send(new PutObjectCommand({Bucket: bucket, Key: 'k/one.txt', Body: 'one'}))
    proxy = await new FaultProxy(s3Endpoint()).start()
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-settings-'))
  })

  afterAll(async () => {
    await proxy.stop()
    await fs.rm(dir, {recursive: true, force: true})
  })

  it('takes the endpoint from the config file, then the environment, then the flag', async () => {
    const config = path.join(dir, 'config.json')
    const dead = await closedEndpoint()
    const {BUCKETWRIGHT_ENDPOINT: _endpoint, ...env} = s3Env()
    await fs.writeFile(config, JSON.stringify({storage: {endpoint: s3Endpoint(), region: 'us-east-1'}}))
    const fromFile = await runCli(['ls', `s3://${bucket}/`, '--json', '--config', config], {env: {...env, BUCKETWRIGHT_ENDPOINT: undefined}})
    expect(fromFile.code).toBe(0)
    expect(JSON.parse(fromFile.stdout).count).toBe(1)
    const envWins = await runCli(['ls', `s3://${bucket}/`, '--json', '--config', config], {env: {...env, BUCKETWRIGHT_ENDPOINT: dead, BUCKETWRIGHT_MAX_ATTEMPTS: '1'}})
    expect(JSON.parse(envWins.stdout).error.code).toBe('ENDPOINT_UNREACHABLE')
    const flagWins = await runCli(['ls', `s3://${bucket}/`, '--json', '--config', config, '--endpoint', s3Endpoint()], {env: {...env, BUCKETWRIGHT_ENDPOINT: dead}})
    expect(flagWins.code).toBe(0)
    const configViaEnv = await runCli(['ls', `s3://${bucket}/`, '--json'], {env: {...env, BUCKETWRIGHT_ENDPOINT: undefined, BUCKETWRIGHT_CONFIG: config}})
    expect(configViaEnv.code).toBe(0)
  })

  it('a malformed config file is a clear error naming the file', async () => {
    const config = path.join(dir, 'broken.json')
    await fs.writeFile(config, '{"storage": ')
    const run = await runCli(['ls', '.', '--json', '--config', config])
    expect(run.code).toBe(1)
    const error = JSON.parse(run.stdout).error
    expect(error.code).toBe('BAD_CONFIG')
    expect(error.message).toContain(config)
  })

  it('--anonymous sends unsigned requests', async () => {
    proxy.requests.length = 0
    const {AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _b, ...env} = s3Env(proxy.endpoint)
    const run = await runCli(['ls', `s3://${bucket}/`, '--json', '--anonymous'], {env: {...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined}})
    expect(run.code).toBe(0)
    expect(proxy.requests.length).toBeGreaterThan(0)
    expect(proxy.requests.every((r) => r.authorization === undefined)).toBe(true)
  })

  it('--profile signs with that profile from the shared credentials file', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-home-'))
    onTestFinished(() => fs.rm(home, {recursive: true, force: true}))
    await fs.mkdir(path.join(home, '.aws'))
    await fs.writeFile(
      path.join(home, '.aws', 'credentials'),
      '[default]\naws_access_key_id = AKIADEFAULT0000000000\naws_secret_access_key = d\n\n[archive]\naws_access_key_id = AKIAARCHIVE000000000\naws_secret_access_key = s\n',
    )
    await fs.writeFile(path.join(home, '.aws', 'config'), '[profile archive]\nregion = eu-west-1\n')
    proxy.requests.length = 0
    const {AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _b, AWS_REGION: _r, ...env} = s3Env(proxy.endpoint)
    const run = await runCli(['ls', `s3://${bucket}/`, '--json', '--profile', 'archive'], {
      env: {...env, HOME: home, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_REGION: undefined, AWS_CONFIG_FILE: undefined, AWS_SHARED_CREDENTIALS_FILE: undefined},
    })
    expect(run.code).toBe(0)
    expect(proxy.requests[0].authorization).toContain('Credential=AKIAARCHIVE000000000/')
    // The profile's region is used for signing.
    expect(proxy.requests[0].authorization).toContain('/eu-west-1/s3/aws4_request')
  })

  it("discovers the bucket's region when none is given (follows S3's PermanentRedirect)", async () => {
    proxy.requests.length = 0
    proxy.plan = (request) => (request.authorization?.includes('/eu-west-1/') ? {type: 'pass'} : {type: 'status', status: 301, code: 'PermanentRedirect', headers: {'x-amz-bucket-region': 'eu-west-1'}})
    const {AWS_REGION: _r, ...env} = s3Env(proxy.endpoint)
    const run = await runCli(['ls', `s3://${bucket}/`, '--json'], {env: {...env, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_CONFIG_FILE: path.join(dir, 'none')}})
    proxy.plan = () => ({type: 'pass'})
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).count).toBe(1)
    expect(proxy.requests[0].authorization).toContain('/us-east-1/s3/')
    expect(proxy.requests.at(-1)!.authorization).toContain('/eu-west-1/s3/')
  })

  it('--profile and --anonymous are exclusive (usage error)', async () => {
    const run = await runCli(['ls', `s3://${bucket}/`, '--json', '--profile', 'x', '--anonymous'])
    expect(run.code).toBe(2)
  })

  it('--log-format json writes log lines as JSON on stderr', async () => {
    const run = await runCli(['ls', dir, '--log-format', 'json'])
    const line = JSON.parse(run.stderr.trim().split('\n').at(-1)!)
    expect(line).toMatchObject({level: 'info'})
    expect(line.message).toMatch(/objects/)
  })
})
