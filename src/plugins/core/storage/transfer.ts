import {UsageError} from '../errors/errors.js'

/**
 * Data-transfer charges of a run: bytes read from a store and written to one, priced by where the store lives and
 * where the run happens. Requests are priced in requests.ts; this is the other half of what a run over S3 costs, and
 * the one that surprises people — reading a bucket from a laptop or another region is billed per GB.
 */

/** Where a store's bytes live, as far as transfer pricing is concerned (a {@link Storage} capability). */
export type StoreLocation =
  /** An AWS S3 bucket in a known region. */
  | {provider: 'aws'; region: string}
  /** An S3-compatible service that is not AWS (MinIO, R2, Ceph, a loopback server): its transfer prices are its own. */
  | {provider: 'other'; endpoint: string}
  /** A disk of this machine, or anything else reached without a network charge. */
  | {provider: 'local'}

/** Where the run happens: in an AWS region (EC2, ECS, Lambda…), or outside AWS. */
export type RunLocation = {inAws: true; region: string; how: string} | {inAws: false; how: string}

/**
 * USD per GB (2^30 bytes, as AWS bills), published S3/EC2 data-transfer prices: out of AWS to the internet (the
 * first 10 TB a month; the account's first 100 GB a month are free and not subtracted here), between regions (most
 * region pairs; some cost more), and within a region (free between S3 and EC2).
 */
export const TRANSFER_PRICES = {internet: 0.09, crossRegion: 0.02, sameRegion: 0} as const

const GB = 2 ** 30
const usd = (amount: number) => Math.round(amount * 1e9) / 1e9

/** How one direction of a run's traffic is billed. */
export type TransferRule = 'same-region' | 'cross-region' | 'internet' | 'free-inbound' | 'not-aws' | 'local'

/** One direction of a run's traffic (reading a store, or writing one), priced. */
export interface TransferLeg {
  direction: 'read' | 'write'
  /** The store's URI. */
  store: string
  bytes: number
  rule: TransferRule
  /** USD per GB; absent when the store is not on AWS (its provider's prices apply). */
  ratePerGB?: number
  /** USD (to the nano-dollar: small runs cost fractions of a cent); absent when not known. */
  cost?: number
}

/** A run's transfer charges: each leg, and their total over the legs whose price is known. */
export interface TransferPlan {
  /** Where the run was taken to happen, and how that was decided (`--running-in`, or instance metadata). */
  runningIn: string
  legs: TransferLeg[]
  /** USD over the legs with a known price. */
  total: number
  /** A leg's price is not known (a store that is not AWS). */
  partial: boolean
}

/** How reading from `store` into a run at `run` is billed: AWS bills bytes leaving S3, by where they go. */
function readRule(store: StoreLocation, run: RunLocation): TransferRule {
  if (store.provider === 'local') return 'local'
  if (store.provider === 'other') return 'not-aws'
  if (!run.inAws) return 'internet'
  return run.region === store.region ? 'same-region' : 'cross-region'
}

/** How writing from a run at `run` into `store` is billed: bytes into AWS are free; bytes leaving AWS are not. */
function writeRule(store: StoreLocation, run: RunLocation): TransferRule {
  if (store.provider === 'local') return 'local'
  if (!run.inAws) return store.provider === 'aws' ? 'free-inbound' : 'not-aws'
  if (store.provider === 'other') return 'internet'
  return run.region === store.region ? 'same-region' : 'cross-region'
}

const RATES: Partial<Record<TransferRule, number>> = {
  'same-region': TRANSFER_PRICES.sameRegion,
  'cross-region': TRANSFER_PRICES.crossRegion,
  internet: TRANSFER_PRICES.internet,
  'free-inbound': 0,
  local: 0,
}

/** Prices a run's traffic: `legs` are the bytes it reads from and writes to each store. */
export function planTransfer(legs: {direction: 'read' | 'write'; store: string; location: StoreLocation; bytes: number}[], run: RunLocation): TransferPlan {
  const priced = legs.map(({direction, store, location, bytes}): TransferLeg => {
    const rule = direction === 'read' ? readRule(location, run) : writeRule(location, run)
    const ratePerGB = RATES[rule]
    return {direction, store, bytes, rule, ...(ratePerGB === undefined ? {} : {ratePerGB, cost: usd((bytes / GB) * ratePerGB)})}
  })
  return {
    runningIn: run.inAws ? `AWS ${run.region} (${run.how})` : `outside AWS (${run.how})`,
    legs: priced,
    total: usd(priced.reduce((sum, leg) => sum + (leg.cost ?? 0), 0)),
    partial: priced.some((leg) => leg.cost === undefined),
  }
}

/** The words for a leg's rule in a plan's summary. */
export function describeRule(leg: TransferLeg): string {
  switch (leg.rule) {
    case 'same-region':
      return 'within its region (free)'
    case 'cross-region':
      return `across regions at $${TRANSFER_PRICES.crossRegion}/GB`
    case 'internet':
      return `to the internet at $${TRANSFER_PRICES.internet}/GB`
    case 'free-inbound':
      return 'into AWS (free)'
    case 'not-aws':
      return 'not AWS: its provider’s transfer prices apply'
    case 'local':
      return 'local (free)'
  }
}

/**
 * Where this run happens, for pricing: `--running-in` when given (`outside-aws`, or an AWS region), else the
 * instance metadata service (IMDSv2, short timeout: a laptop has none). `detect` is the metadata probe.
 */
export async function runLocation(given: string | undefined, detect: () => Promise<{onEc2: boolean; region?: string; reason?: string}>): Promise<RunLocation> {
  if (given && given !== 'auto') return given === 'outside-aws' ? {inAws: false, how: '--running-in'} : {inAws: true, region: given, how: '--running-in'}
  const found = await detect()
  if (found.onEc2 && found.region) return {inAws: true, region: found.region, how: 'instance metadata'}
  return {inAws: false, how: `not EC2: ${found.reason ?? 'no region in the instance metadata'}; --running-in REGION if this runs in AWS`}
}

/** An AWS region's name (`us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`). */
export const AWS_REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/

/** `--running-in`: `auto`, `outside-aws` or an AWS region; anything else is a usage error naming what is accepted. */
export function parseRunningIn(value: string): string {
  const given = value.trim().toLowerCase()
  if (given === 'auto' || given === 'outside-aws' || AWS_REGION.test(given)) return given
  throw new UsageError(`--running-in ${JSON.stringify(value)} is not an AWS region, outside-aws or auto.`, {
    code: 'BAD_RUNNING_IN',
    nextSteps: ['Pass the region the run happens in (e.g. --running-in us-west-2), --running-in outside-aws for a laptop or another cloud, or leave it out to ask the EC2 instance metadata service.'],
  })
}
