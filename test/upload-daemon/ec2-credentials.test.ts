import {existsSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {detectEc2} from '../../src/plugins/core/kit/ec2.js'
import {runCli} from '../helpers/cli.js'
import {closedPort, FakeImds} from '../helpers/imds.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, testS3Client} from '../helpers/s3.js'
import {bucketKeys, daemonEnv, makeRoot, writeStable} from './helpers.js'

describe('EC2 detection (IMDSv2)', () => {
  let imds: FakeImds
  // The suite turns the real metadata service off (AWS_EC2_METADATA_DISABLED); these tests ask a loopback one.
  const disabled = process.env.AWS_EC2_METADATA_DISABLED
  beforeAll(async () => {
    delete process.env.AWS_EC2_METADATA_DISABLED
    imds = await new FakeImds('v2').start()
  })
  afterAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = disabled
    await imds.stop()
  })

  it('asks for a token first, then reads the instance id and region with it', async () => {
    const detected = await detectEc2({endpoint: imds.endpoint})
    expect(detected).toEqual({onEc2: true, instanceId: 'i-0123456789abcdef0', region: 'eu-west-1'})
    expect(imds.seen.slice(0, 2)).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/instance-id'])
  })

  it('does not trust a metadata service that refuses tokens (IMDSv1 only)', async () => {
    const v1 = await new FakeImds('v1-only').start()
    try {
      expect(await detectEc2({endpoint: v1.endpoint})).toMatchObject({onEc2: false})
    } finally {
      await v1.stop()
    }
  })

  it('gives up quickly where there is no metadata service (a laptop)', async () => {
    const silent = http.createServer(() => {}) // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const started = Date.now()
    const detected = await detectEc2({endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 300})
    expect(detected.onEc2).toBe(false)
    expect(detected.reason).toMatch(/no answer within 300 ms/)
    expect(Date.now() - started).toBeLessThan(2000)
    silent.closeAllConnections()
    silent.close()
    expect(await detectEc2({endpoint: `http://127.0.0.1:${await closedPort()}`})).toMatchObject({onEc2: false})
  })

  it('reads the endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT and honours AWS_EC2_METADATA_DISABLED', async () => {
    const saved = {endpoint: process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT, disabled: process.env.AWS_EC2_METADATA_DISABLED}
    try {
      process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.endpoint
      delete process.env.AWS_EC2_METADATA_DISABLED
      expect((await detectEc2()).onEc2).toBe(true)
      process.env.AWS_EC2_METADATA_DISABLED = 'true'
      expect((await detectEc2()).onEc2).toBe(false)
    } finally {
      for (const [key, value] of [
        ['AWS_EC2_METADATA_SERVICE_ENDPOINT', saved.endpoint],
        ['AWS_EC2_METADATA_DISABLED', saved.disabled],
      ] as const) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
  })
})

describe('credential check at start (spawned CLI)', () => {
  let proxy: FaultProxy
  let imds: FakeImds
  beforeAll(async () => {
    proxy = await new FaultProxy(s3Endpoint()).start()
    // ListBuckets (GET /) is how credentials are checked on a custom endpoint: reject them there only.
    proxy.plan = ({method, url}) => (method === 'GET' && url.split('?')[0] === '/' ? {type: 'status', status: 403, code: 'InvalidAccessKeyId'} : {type: 'pass'})
    imds = await new FakeImds('v2').start()
  })
  afterAll(async () => {
    await proxy.stop()
    await imds.stop()
  })

  it('on a laptop with no credentials at all: exits 1 with setup instructions (aws configure, aws sso login, --profile)', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'bw-empty-home-'))
    onTestFinished(() => rm(home, {recursive: true, force: true}))
    const run = await runCli(['upload-daemon', '--once', '-d', await makeRoot()], {
      env: {
        HOME: home,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        AWS_CONFIG_FILE: path.join(home, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
        BUCKETWRIGHT_ENDPOINT: undefined,
        AWS_EC2_METADATA_DISABLED: 'true',
        // Never leave loopback, whatever the SDK tries.
        AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${await closedPort()}`,
      },
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/Cannot start the upload daemon/)
    expect(run.stderr).toMatch(/aws configure/)
    expect(run.stderr).toMatch(/aws sso login/)
    expect(run.stderr).toMatch(/--profile/)
    expect(run.stdout).toBe('')
  })

  it('on a laptop with credentials the endpoint rejects: exits 1 with instructions, uploads nothing', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-cred')
    await writeStable(path.join(root, bucket, 'kept.txt'), 'kept')
    const run = await runCli(['upload-daemon', '--once', '-d', root, '--endpoint', proxy.endpoint, '--json'], {env: daemonEnv()})
    expect(run.code).toBe(1)
    const output = JSON.parse(run.stdout) as {error: {code: string; nextSteps: string[]}}
    expect(output.error.code).toBe('BAD_CREDENTIALS')
    expect(output.error.nextSteps.join('\n')).toMatch(/aws configure[\s\S]*aws sso login/)
    expect(existsSync(path.join(root, bucket, 'kept.txt'))).toBe(true)
  })

  it('on a laptop whose --endpoint is unreachable: exits 1 naming the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const run = await runCli(['upload-daemon', '--once', '-d', await makeRoot(), '--endpoint', endpoint], {env: {...daemonEnv(), BUCKETWRIGHT_MAX_ATTEMPTS: '1'}})
    expect(run.code).toBe(1)
    expect(run.stderr.replaceAll(/\s*›\s*|\s*\n\s*/g, ' ')).toContain(`Cannot reach the S3 endpoint ${endpoint}`)
    expect(run.stderr).toMatch(/Code: ENDPOINT_UNREACHABLE/)
  })

  it('on EC2 (fake IMDSv2) with the same rejected credentials: logs the error and keeps going', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-cred')
    await writeStable(path.join(root, bucket, 'shipped.txt'), 'shipped')
    const env = {...daemonEnv(), AWS_EC2_METADATA_DISABLED: undefined, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint}
    const run = await runCli(['upload-daemon', '--once', '-d', root, '--endpoint', proxy.endpoint], {env})
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/INFO Running on EC2 \(instance i-0123456789abcdef0, eu-west-1\)/)
    expect(run.stderr).toMatch(/ERROR Credential check failed on EC2 .*continuing/)
    expect(await bucketKeys(testS3Client(), bucket)).toEqual(['shipped.txt'])
  })
})

describe('the checks at start on the lean path (spawned CLI)', () => {
  let proxy: FaultProxy
  beforeAll(async () => {
    proxy = await new FaultProxy(s3Endpoint()).start()
  })
  afterAll(async () => {
    await proxy.stop()
  })

  it('with credentials the endpoint accepts and a bucket that is there, no request goes through the SDK; a missing bucket still gets its explanation', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-lean')
    await writeStable(path.join(root, bucket, 'a', 'shipped.txt'), 'shipped')
    await writeStable(path.join(root, 'bw-lean-no-such-bucket', 'kept.txt'), 'kept')
    proxy.requests.length = 0
    const run = await runCli(['upload-daemon', '--once', '-d', root, '--endpoint', proxy.endpoint], {env: daemonEnv()})
    // The missing bucket is an error of the run (exit 1), explained in the SDK's words after the lean HeadBucket's 404.
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/ERROR Bucket "bw-lean-no-such-bucket" does not exist/)
    expect(await bucketKeys(testS3Client(), bucket)).toEqual(['a/shipped.txt'])
    const bySdk = (request: {all?: http.IncomingHttpHeaders}) => /aws-sdk/i.test(String(request.all?.['user-agent'] ?? ''))
    const line = (request: {method: string; url: string}) => `${request.method} ${request.url.split('?')[0].replace(/(.)\/$/, '$1')}`
    // ListBuckets (GET /) and HeadBucket of the bucket that is there, then the upload: all lean.
    expect(proxy.requests.filter((request) => !bySdk(request)).map(line)).toEqual(expect.arrayContaining(['GET /', `HEAD /${bucket}`, `PUT /${bucket}/a/shipped.txt`]))
    // Only the missing bucket went on to the SDK, which says why.
    expect(proxy.requests.filter(bySdk).map(line)).toEqual(expect.arrayContaining(['HEAD /bw-lean-no-such-bucket']))
    expect(proxy.requests.filter(bySdk).every((request) => request.url.startsWith('/bw-lean-no-such-bucket'))).toBe(true)
  })
})
