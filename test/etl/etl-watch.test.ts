import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import type {EtlResult} from '../../src/commands/etl.js'
import {BIN, ROOT} from '../helpers/cli.js'
import {advancedTradeFrames, cut, expectedCounts, parquetCounts, putSegments} from './fixtures.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-etl-watch-'))
afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

async function until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('etl --watch', {timeout: 180_000}, () => {
  it('keeps polling, loads segments that arrive later, and stops cleanly on SIGTERM with one JSON result', async () => {
    const frames = advancedTradeFrames()
    const [first, second] = cut(frames, 2)
    const ready = path.join(root, 'raw/ready/coinbase')
    await putSegments({dir: root}, {'segment_20260809T21_0.ndjson': first})
    const child = spawn(process.execPath, [BIN, 'etl', root, '--source', 'coinbase', '--to', root, '--watch', '--interval', '300ms', '--json'], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    await until(() => fs.readdirSync(ready).length === 0 && fs.existsSync(path.join(root, 'processed')) && !fs.existsSync(path.join(root, 'raw/processing/coinbase/segment_20260809T21_0.ndjson')))
    await putSegments({dir: root}, {'segment_20260809T21_1.ndjson': second})
    await until(() => fs.readdirSync(ready).length === 0 && !fs.existsSync(path.join(root, 'raw/processing/coinbase/segment_20260809T21_1.ndjson')))
    expect(child.exitCode).toBe(null)
    child.kill('SIGTERM')
    expect(await exited, stderr).toBe(0)
    const result = JSON.parse(stdout) as EtlResult
    expect(result.passes).toBeGreaterThanOrEqual(2)
    expect(result.segments.map((segment) => [segment.segment, segment.status])).toEqual([
      ['segment_20260809T21_0.ndjson', 'done'],
      ['segment_20260809T21_1.ndjson', 'done'],
    ])
    const expected = expectedCounts(frames)
    expect(await parquetCounts(root)).toEqual(Object.fromEntries(Object.entries(expected).map(([channel, n]) => [channel, {rows: n, distinct: n}])))
  })
})
