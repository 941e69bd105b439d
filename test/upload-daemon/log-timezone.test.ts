import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {createTestBucket} from '../helpers/s3.js'
import {daemonEnv, makeRoot, writeStable} from './helpers.js'

/** Nepal: +05:45 all year (no summer time), an offset no other zone near ours shares. */
const TZ = 'Asia/Kathmandu'
const OFFSET_MS = (5 * 60 + 45) * 60 * 1000

/** The instants the text lines' `[YYYY-MM-DD HH:MM:SS]` stand for, read as UTC wall clock. */
function stamps(stderr: string): number[] {
  return [...stderr.matchAll(/^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\] /gm)].map((match) => Date.parse(`${match[1]}T${match[2]}Z`))
}

describe('upload-daemon --log-timezone', () => {
  it('logs UTC by default and local time with --log-timezone local (or BUCKETWRIGHT_LOG_TIMEZONE), with TZ set', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-logtz')
    const within = (times: number[], shift: number, before: number, after: number) => {
      expect(times.length).toBeGreaterThan(2)
      // Seconds are truncated in the line: allow the one second lost.
      for (const time of times) expect(time - shift).toBeGreaterThanOrEqual(before - 1000)
      for (const time of times) expect(time - shift).toBeLessThanOrEqual(after)
    }
    const run = async (args: string[], env: Record<string, string> = {}) => {
      await writeStable(path.join(root, bucket, `f${Math.random()}.txt`), 'x')
      const before = Date.now()
      const out = await runCli(['upload-daemon', '--once', '-d', root, ...args], {env: {...daemonEnv(), TZ, ...env}})
      expect(out.code, out.stderr).toBe(0)
      return {out, before, after: Date.now()}
    }

    const utc = await run([])
    within(stamps(utc.out.stderr), 0, utc.before, utc.after)
    const local = await run(['--log-timezone', 'local'])
    within(stamps(local.out.stderr), OFFSET_MS, local.before, local.after)
    const fromEnv = await run([], {BUCKETWRIGHT_LOG_TIMEZONE: 'local'})
    within(stamps(fromEnv.out.stderr), OFFSET_MS, fromEnv.before, fromEnv.after)

    // JSON lines carry the zone: …Z by default, +05:45 in local time; both the same instant.
    const json = await run(['--log-format', 'json', '--log-timezone', 'local'])
    const times = json.out.stderr
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as {time: string}).time)
    expect(times.length).toBeGreaterThan(2)
    for (const time of times) {
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:45$/)
      expect(Date.parse(time)).toBeGreaterThanOrEqual(json.before)
      expect(Date.parse(time)).toBeLessThanOrEqual(json.after)
    }
    const jsonUtc = await run(['--log-format', 'json'])
    for (const line of jsonUtc.out.stderr.trim().split('\n')) expect((JSON.parse(line) as {time: string}).time).toMatch(/Z$/)

    const bad = await runCli(['upload-daemon', '--once', '-d', root, '--log-timezone', 'Europe/Paris'], {env: daemonEnv()})
    expect(bad.code).toBe(2)
  })
})
