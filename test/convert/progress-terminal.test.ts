import {PutObjectCommand} from '@aws-sdk/client-s3'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {formatDuration, RateMeter} from '../../src/plugins/core/progress/rate.js'
import {BIN, runCli} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint, s3Env, testS3Client} from '../helpers/s3.js'
import {TmuxTerminal} from '../init/tmux.js'
import {linkTinybusPlugin, removeTempDirs} from '../verify/helpers.js'

describe('rate and time left', () => {
  it('an average since the start: records/s and the time the remaining objects take at that pace', () => {
    let now = 0
    const meter = new RateMeter(() => now)
    expect(meter.describe(0, 40, 0)).toBe('ETA …')
    now = 500 // under a second: too early to claim a rate
    expect(meter.describe(1, 40, 300)).toBe('ETA …')
    now = 10_000
    // 10 of 40 objects in 10 s: 30 objects left take 30 s; 5,000 records in 10 s.
    expect(meter.describe(10, 40, 5000)).toBe('500 records/s, ETA 30s')
    now = 20_000
    expect(meter.describe(5, 40, 5000)).toBe('250 records/s, ETA 2m 20s')
    expect(meter.describe(40, 40, 20_000)).toBe('1,000 records/s')
    expect(formatDuration(3 * 3600 + 7 * 60 + 9)).toBe('3h 07m')
    expect(formatDuration(65)).toBe('1m 05s')
  })
})

describe('convert progress: live with a rate and an ETA on a terminal, plain lines without one', () => {
  let home: string
  let proxy: FaultProxy
  let bucket: string
  let env: Record<string, string | undefined>
  const OBJECTS = 24

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'bw-progress-'))
    bucket = await createTestBucket('bw-progress')
    const client = testS3Client()
    // ~300 KB objects: convert reports progress per chunk of about 1 MB of objects, so a few objects a report.
    for (let minute = 0; minute < OBJECTS; minute++) {
      const vehicles = Array.from({length: 1000}, (_, id) => ({vehicleID: id, latitude: 45, longitude: -122, routeNumber: 1, signMessage: `${'via Main Street '.repeat(15)}${minute}`, offRoute: false, time: minute}))
      await client.send(new PutObjectCommand({Bucket: bucket, Key: `raw/tinybus__2024-01-02__00-${String(minute).padStart(2, '0')}-00.json`, Body: JSON.stringify(vehicles)}))
    }
    // Each request waits: one object at a time (--concurrency 1), the bucket takes seconds whatever the machine.
    proxy = await new FaultProxy(s3Endpoint()).start()
    proxy.latencyMs = 250
    env = {...(await linkTinybusPlugin()), ...s3Env(proxy.endpoint), BUCKETWRIGHT_CONFIG_DIR: path.join(home, 'config'), BUCKETWRIGHT_CACHE_DIR: path.join(home, 'cache')}
  })
  afterAll(async () => {
    await proxy?.stop()
    await rm(home, {recursive: true, force: true})
    await removeTempDirs()
  })

  const args = (out: string) => ['convert', `s3://${bucket}/`, path.join(home, out), '--source', 'tinybus', '--bucket', 'day', '--concurrency', '1']

  it('on a real terminal (tmux): the bucket line shows objects done, records/s and an ETA while it runs', async () => {
    const script = path.join(home, 'convert.sh')
    const exports = Object.entries(env).map(([key, value]) => (value === undefined ? `unset ${key}` : `export ${key}='${value}'`))
    await writeFile(
      script,
      [
        '#!/bin/bash',
        ...exports,
        `'${process.execPath}' '${BIN}' ${args('tty-out')
          .map((arg) => `'${arg}'`)
          .join(' ')}`,
        'echo "EXIT:$?"',
      ].join('\n') + '\n',
    )
    const terminal = new TmuxTerminal()
    try {
      await terminal.start(`bash '${script}'`)
      const running = await terminal.waitFor(/2024-01-02: \d+\/24 objects, \d+ records, [\d,]+ records\/s, ETA (\d+m )?\d+s/, 1, 60_000)
      expect(running).not.toContain('EXIT:')
      const screen = await terminal.waitFor(/EXIT:\d+/, 1, 60_000)
      expect(screen).toContain('EXIT:0')
      expect(screen).toMatch(/2024-01-02: written 24 objects, 24000 records/)
    } finally {
      await terminal.stop()
    }
  }, 150_000)

  it('without a terminal (cron): timestamped plain lines, no spinner, no cursor movement', async () => {
    const run = await runCli(args('plain-out'), {env})
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).not.toContain('\u001b[')
    expect(run.stderr).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/)
    expect(run.stderr).toMatch(/^\S+ \[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] 2024-01-02: written 24 objects, 24000 records/m)
    expect(
      run.stderr
        .split('\n')
        .filter(Boolean)
        .every((line) => /^(\S+ )?\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\]/.test(line)),
    ).toBe(true)
  })
})
