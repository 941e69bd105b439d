import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runConvert} from '../../src/plugins/core/convert/service.js'
import type {ConvertOptions, ConvertResult} from '../../src/plugins/core/convert/types.js'
import {detectEc2} from '../../src/plugins/core/kit/ec2.js'
import {isAwsEndpoint} from '../../src/plugins/core/storage/s3/storage.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {openStorage} from '../../src/plugins/core/storage/open.js'
import {parseRunningIn, planTransfer, runLocation, type StoreLocation, TRANSFER_PRICES} from '../../src/plugins/core/storage/transfer.js'
import type {Storage} from '../../src/plugins/core/storage/types.js'
import {runCli} from '../helpers/cli.js'
import {closedPort, FakeImds} from '../helpers/imds.js'
import {createTestBucket, s3Endpoint, s3Env, useS3Env} from '../helpers/s3.js'
import {tempDir, weeklyOptions, writeEvents} from './helpers.js'

const GB = 2 ** 30
const dirs: string[] = []
const imds: Record<string, FakeImds> = {}

beforeAll(async () => {
  useS3Env()
  imds.usWest2 = await new FakeImds('v2', 'us-west-2').start()
  imds.euWest1 = await new FakeImds('v2', 'eu-west-1').start()
})

afterAll(async () => {
  await Promise.all(Object.values(imds).map((server) => server.stop()))
  await Promise.all(dirs.map((dir) => fs.rm(dir, {recursive: true, force: true})))
})

/** A storage that says its bucket is an AWS one in `region`: AWS's HeadBucket cannot be reached from the tests. */
function inRegion(storage: Storage, region: string): Storage {
  storage.location = async (): Promise<StoreLocation> => ({provider: 'aws', region})
  return storage
}

/** Raw NDJSON objects (two ISO weeks) in a fresh bucket, and the options of a dry run over them into `output`. */
async function s3Input(): Promise<{input: Storage; base: Omit<ConvertOptions, 'output'>; bytes: number}> {
  const root = await tempDir('bw-transfer-')
  dirs.push(root)
  const bucket = await createTestBucket('bw-transfer')
  const keys = await writeEvents(root, '2021-11-13T00:00:00Z', 16, 360, 40)
  const input = await openStorage(`s3://${bucket}/`, {endpoint: s3Endpoint()})
  let bytes = 0
  for (const key of keys) {
    const body = await fs.readFile(path.join(root, key))
    bytes += body.length
    await input.write(key, body)
  }
  // Each run names its output.
  const {output: _none, ...base} = await weeklyOptions(input, input, {threads: 1, dryRun: true})
  return {input, base, bytes}
}

/** Asks the loopback metadata service at `endpoint`, as a run on EC2 would (the suite turns the real one off). */
function probeAt(endpoint: string): () => ReturnType<typeof detectEc2> {
  return async () => {
    const saved = process.env.AWS_EC2_METADATA_DISABLED
    delete process.env.AWS_EC2_METADATA_DISABLED
    try {
      return await detectEc2({endpoint})
    } finally {
      process.env.AWS_EC2_METADATA_DISABLED = saved
    }
  }
}

async function localOutput(): Promise<Storage> {
  const dir = await tempDir('bw-transfer-out-')
  dirs.push(dir)
  return new LocalStorage(dir)
}

describe('convert --dry-run: data transfer, priced by where the bucket lives and where the run happens', () => {
  it('reading a us-west-2 bucket: free on EC2 in us-west-2, cross-region from eu-west-1, internet rate from outside AWS', async () => {
    const {input, base, bytes} = await s3Input()
    inRegion(input, 'us-west-2')
    const output = await localOutput()
    const plan = async (detect: () => Promise<{onEc2: boolean; region?: string; reason?: string}>) => {
      const result = await runConvert({...base, input, output, detectRunLocation: detect})
      expect(result.buckets.map((bucket) => bucket.action)).toEqual(['write', 'write'])
      return result.transfer!
    }
    const same = await plan(probeAt(imds.usWest2.endpoint))
    expect(same.runningIn).toBe('AWS us-west-2 (instance metadata)')
    expect(same.legs[0]).toMatchObject({direction: 'read', bytes, rule: 'same-region', ratePerGB: 0, cost: 0})
    expect(same.legs[1]).toMatchObject({direction: 'write', rule: 'local', cost: 0})

    const cross = await plan(probeAt(imds.euWest1.endpoint))
    expect(cross.legs[0]).toMatchObject({direction: 'read', bytes, rule: 'cross-region', ratePerGB: TRANSFER_PRICES.crossRegion})
    expect(cross.legs[0].cost).toBeCloseTo((bytes / GB) * 0.02, 9)
    expect(cross.legs[0].cost).toBeGreaterThan(0)

    const port = await closedPort()
    const outside = await plan(probeAt(`http://127.0.0.1:${port}`))
    expect(outside.runningIn).toMatch(/^outside AWS \(not EC2: .*--running-in REGION/)
    expect(outside.legs[0]).toMatchObject({rule: 'internet', ratePerGB: 0.09})
    expect(outside.legs[0].cost).toBeCloseTo((bytes / GB) * 0.09, 9)
    expect(outside.total).toBe(outside.legs[0].cost)
    expect(outside.partial).toBe(false)
  })

  it('--running-in decides without asking the metadata service; writes into AWS are free, out of it are not', async () => {
    const {input, base} = await s3Input()
    inRegion(input, 'us-west-2')
    const bucket = await createTestBucket('bw-transfer-out')
    const output = inRegion(await openStorage(`s3://${bucket}/out/`, {endpoint: s3Endpoint()}), 'eu-west-1')
    const seen = imds.euWest1.seen.length
    const probe = probeAt(imds.euWest1.endpoint)
    const fromLaptop = await runConvert({...base, input, output, runningIn: 'outside-aws', detectRunLocation: probe})
    expect(imds.euWest1.seen.length).toBe(seen)
    const written = fromLaptop.buckets.reduce((sum, bucket) => sum + bucket.bytesOut, 0)
    expect(written).toBeGreaterThan(0)
    expect(fromLaptop.transfer!.legs[1]).toMatchObject({direction: 'write', bytes: written, rule: 'free-inbound', cost: 0})
    const fromUsWest2 = await runConvert({...base, input, output, runningIn: 'us-west-2', detectRunLocation: probe})
    expect(fromUsWest2.transfer!.runningIn).toBe('AWS us-west-2 (--running-in)')
    expect(fromUsWest2.transfer!.legs.map((leg) => leg.rule)).toEqual(['same-region', 'cross-region'])
    expect(imds.euWest1.seen.length).toBe(seen)
    // The dry run wrote nothing.
    const left: string[] = []
    for await (const object of output.list()) left.push(object.key)
    expect(left).toEqual([])
  })

  it('buckets a real run already made are not read again: after the run, the plan moves no bytes', async () => {
    const {input, base, bytes} = await s3Input()
    inRegion(input, 'us-west-2')
    const output = await localOutput()
    const done = await runConvert({...base, input, output, dryRun: false})
    expect(done.transfer).toBeUndefined() // a real run is not priced for transfer (no metadata probe on every run)
    expect(done.bytesIn).toBe(bytes)
    const again = await runConvert({...base, input, output, runningIn: 'outside-aws'})
    expect(again.buckets.map((bucket) => bucket.action)).toEqual(['skip', 'skip'])
    expect(again.transfer!.legs.map((leg) => leg.bytes)).toEqual([0, 0])
    expect(again.transfer!.total).toBe(0)
  })

  it('a service that is not AWS (a custom endpoint) is named, not priced at AWS rates', async () => {
    const {input, base} = await s3Input()
    expect(await input.location!()).toEqual({provider: 'other', endpoint: new URL(s3Endpoint()).origin})
    const result = await runConvert({...base, input, output: await localOutput(), runningIn: 'us-east-1'})
    expect(result.transfer!.legs[0]).toMatchObject({rule: 'not-aws'})
    expect(result.transfer!.legs[0].cost).toBeUndefined()
    expect(result.transfer!.partial).toBe(true)
  })

  it('local → local has no transfer to price', async () => {
    const root = await tempDir('bw-transfer-local-')
    dirs.push(root)
    await writeEvents(path.join(root, 'raw'), '2021-11-13T00:00:00Z', 4, 360, 2)
    const result = await runConvert(await weeklyOptions(new LocalStorage(path.join(root, 'raw')), new LocalStorage(path.join(root, 'out')), {threads: 1, dryRun: true}))
    expect(result.transfer).toBeUndefined()
  })
})

describe('transfer pricing rules', () => {
  const aws = (region: string): StoreLocation => ({provider: 'aws', region})
  const plan = (location: StoreLocation, direction: 'read' | 'write', run: Parameters<typeof planTransfer>[1]) => planTransfer([{direction, store: 's3://b/', location, bytes: 3 * GB}], run).legs[0]

  it('prices each direction as AWS bills it', () => {
    const ec2 = {inAws: true as const, region: 'us-east-1', how: 'test'}
    const laptop = {inAws: false as const, how: 'test'}
    expect(plan(aws('us-east-1'), 'read', ec2)).toMatchObject({rule: 'same-region', cost: 0})
    expect(plan(aws('us-west-2'), 'read', ec2)).toMatchObject({rule: 'cross-region', cost: 0.06})
    expect(plan(aws('us-west-2'), 'read', laptop)).toMatchObject({rule: 'internet', cost: 0.27})
    expect(plan(aws('us-west-2'), 'write', laptop)).toMatchObject({rule: 'free-inbound', cost: 0})
    expect(plan(aws('us-west-2'), 'write', ec2)).toMatchObject({rule: 'cross-region', cost: 0.06})
    expect(plan({provider: 'other', endpoint: 'https://r2.example'}, 'write', ec2)).toMatchObject({rule: 'internet', cost: 0.27})
    expect(plan({provider: 'other', endpoint: 'https://r2.example'}, 'read', ec2).cost).toBeUndefined()
    expect(plan({provider: 'local'}, 'read', laptop)).toMatchObject({rule: 'local', cost: 0})
  })

  it('--running-in accepts regions, outside-aws and auto, and refuses typos', () => {
    for (const good of ['us-east-1', 'eu-central-2', 'ap-southeast-4', 'us-gov-west-1', 'cn-north-1', 'outside-aws', 'auto', ' US-EAST-1 ']) expect(() => parseRunningIn(good)).not.toThrow()
    for (const bad of ['us-east1', 'useast-1', 'outside', 'EU', 'ec2', '', 'us-east-1a']) expect(() => parseRunningIn(bad), bad).toThrow(/is not an AWS region, outside-aws or auto/)
  })

  it('the metadata service decides only when --running-in is auto; disabled, it is outside AWS and says how to tell', async () => {
    const never = async () => {
      throw new Error('asked the metadata service')
    }
    expect(await runLocation('us-west-2', never)).toEqual({inAws: true, region: 'us-west-2', how: '--running-in'})
    expect(await runLocation('outside-aws', never)).toEqual({inAws: false, how: '--running-in'})
    const saved = process.env.AWS_EC2_METADATA_DISABLED
    process.env.AWS_EC2_METADATA_DISABLED = 'true'
    try {
      expect(await runLocation('auto', () => detectEc2())).toEqual({inAws: false, how: expect.stringContaining('AWS_EC2_METADATA_DISABLED=true')})
    } finally {
      process.env.AWS_EC2_METADATA_DISABLED = saved
    }
  })

  it('AWS endpoints are told from S3-compatible services by host', () => {
    for (const aws of ['https://s3.us-west-2.amazonaws.com', 'https://s3-fips.us-east-1.amazonaws.com', 'https://bucket.vpce-0a1b.s3.eu-west-1.vpce.amazonaws.com', 'https://s3.cn-north-1.amazonaws.com.cn'])
      expect(isAwsEndpoint(aws), aws).toBe(true)
    for (const other of ['http://127.0.0.1:9000', 'https://acct.r2.cloudflarestorage.com', 'https://amazonaws.com.evil.example', 'https://notamazonaws.com', 'not a url']) expect(isAwsEndpoint(other), other).toBe(false)
  })
})

describe('convert --dry-run on the command line', () => {
  it('over loopback S3: the transfer section names the service; a --running-in typo is a usage error', async () => {
    const {input} = await s3Input()
    const bucket = input.uri
    const run = await runCli(['convert', bucket, `${bucket}plan/`, '--source', 'ndjson', '--dry-run', '--json'], {env: {...s3Env(), AWS_EC2_METADATA_DISABLED: 'true'}})
    expect(run.code, run.stderr).toBe(0)
    const plan = JSON.parse(run.stdout) as ConvertResult
    expect(plan.transfer).toMatchObject({runningIn: expect.stringContaining('outside AWS'), partial: true})
    expect(plan.transfer!.legs.map((leg) => leg.rule)).toEqual(['not-aws', 'not-aws'])
    const human = await runCli(['convert', bucket, `${bucket}plan/`, '--source', 'ndjson', '--dry-run', '--running-in', 'us-east-1'], {env: s3Env()})
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/Data transfer, running AWS us-east-1 \(--running-in\): \$0\.0000 and what a provider that is not AWS charges/)
    expect(human.stdout).toMatch(/ {4}read .* from s3:\/\/.*: not AWS/)
    expect(human.stdout).toMatch(/ {4}write .* to s3:\/\/.*\/plan\/: to the internet at \$0\.09\/GB/)
    const typo = await runCli(['convert', bucket, `${bucket}plan/`, '--source', 'ndjson', '--dry-run', '--running-in', 'us-east1'], {env: s3Env()})
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('--running-in "us-east1" is not an AWS region')
  })
})
