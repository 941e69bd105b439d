import {GetObjectCommand} from '@aws-sdk/client-s3'
import {execFileSync, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import type {IngestResult} from '../../src/commands/ingest.js'
import {BIN, ROOT, runInProcess} from '../helpers/cli.js'
import {createTestBucket, s3Env, testS3Client, useS3Env} from '../helpers/s3.js'
import {advancedTradeFrames, s3Keys} from './fixtures.js'

const temp: string[] = []
function mkdtemp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-ingest-'))
  temp.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of temp) fs.rmSync(dir, {recursive: true, force: true})
})

/** A capture to ingest: the Advanced Trade frames, one per line. */
const CAPTURE = path.join(mkdtemp(), 'advanced-trade.ndjson')
fs.writeFileSync(CAPTURE, advancedTradeFrames().join('\n') + '\n')

function files(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The built CLI with a pipe on stdin; resolves its exit code and stdout. */
function startIngest(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'ingest', ...args], {cwd: ROOT, env: {...process.env, ...env}, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const done = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>((resolve) => child.on('close', (code, signal) => resolve({code, signal, stdout, stderr})))
  return {child, done}
}

describe('ingest', {timeout: 180_000}, () => {
  const lines = fs.readFileSync(CAPTURE, 'utf8').split('\n').filter(Boolean)

  it('rotates by size: no segment over the limit, every line once, in order, nothing left active', async () => {
    const root = mkdtemp()
    const run = await runInProcess<IngestResult>(['ingest', root, '--source', 'coinbase', '--file', CAPTURE, '--rotate-size', '100KB', '--json'])
    expect(run.exitCode).toBe(0)
    const ready = path.join(root, 'raw/ready/coinbase')
    const names = files(ready)
    expect(names.length).toBeGreaterThanOrEqual(8)
    for (const name of names) {
      expect(name).toMatch(/^segment_\d{8}T\d{2}_\d+\.ndjson$/)
      expect(fs.statSync(path.join(ready, name)).size).toBeLessThanOrEqual(100_000)
    }
    const order = run.result!.segments.map((segment) => path.basename(segment.key))
    expect([...order].sort()).toEqual(names)
    expect(run.result!.segments.slice(0, -1).every((segment) => segment.reason === 'size')).toBe(true)
    expect(order.map((name) => fs.readFileSync(path.join(ready, name), 'utf8')).join('')).toBe(lines.join('\n') + '\n')
    expect(files(path.join(root, 'raw/active/coinbase'))).toEqual([])
  })

  it('rotates by age while running, and makes the last segment ready on end of input', async () => {
    const root = mkdtemp()
    const ready = path.join(root, 'raw/ready/coinbase')
    const {child, done} = startIngest([root, '--source', 'coinbase', '--rotate-age', '1s', '--flush-every', '100ms', '--json'])
    child.stdin.write(lines.slice(0, 10).join('\n') + '\n')
    await until(() => files(ready).length === 1)
    expect(child.exitCode).toBe(null)
    expect(
      fs
        .readFileSync(path.join(ready, files(ready)[0]), 'utf8')
        .split('\n')
        .filter(Boolean),
    ).toEqual(lines.slice(0, 10))
    child.stdin.end(lines.slice(10, 15).join('\n') + '\n')
    const out = await done
    expect(out.code, out.stderr).toBe(0)
    const result = JSON.parse(out.stdout) as IngestResult
    expect(result.segments.map((segment) => [segment.lines, segment.reason])).toEqual([
      [10, 'age'],
      [5, 'end'],
    ])
    expect(files(ready).length).toBe(2)
  })

  it('on SIGTERM writes what it read and makes the segment ready', async () => {
    const root = mkdtemp()
    const {child, done} = startIngest([root, '--source', 'coinbase', '--flush-every', '10s'])
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    await until(() => stderr.includes('Reading lines into'))
    child.stdin.write(lines.slice(0, 40).join('\n') + '\n')
    // The lines are buffered (flush every 10 s); SIGTERM must still write them.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(files(path.join(root, 'raw/ready/coinbase'))).toEqual([])
    child.kill('SIGTERM')
    const out = await done
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toMatch(/^40 lines in 1 segment\(s\)/)
    const ready = path.join(root, 'raw/ready/coinbase')
    expect(files(ready).length).toBe(1)
    expect(fs.readFileSync(path.join(ready, files(ready)[0]), 'utf8')).toBe(lines.slice(0, 40).join('\n') + '\n')
    expect(files(path.join(root, 'raw/active/coinbase'))).toEqual([])
  })

  it('after a crash keeps every flushed line, cuts a torn last line, and makes the segment ready on the next start', async () => {
    const root = mkdtemp()
    const active = path.join(root, 'raw/active/coinbase')
    const {child, done} = startIngest([root, '--source', 'coinbase', '--flush-every', '100ms'])
    child.stdin.write(lines.slice(0, 25).join('\n') + '\n')
    await until(() => files(active).length === 1 && fs.readFileSync(path.join(active, files(active)[0]), 'utf8').split('\n').length === 26)
    child.kill('SIGKILL')
    await done
    expect(files(path.join(root, 'raw/ready/coinbase'))).toEqual([])
    // A write torn by the crash: half a line at the end.
    fs.appendFileSync(path.join(active, files(active)[0]), lines[25].slice(0, 50))
    const run = await runInProcess<IngestResult>(['ingest', root, '--source', 'coinbase', '--file', '/dev/null', '--json'])
    expect(run.result!.segments.map((segment) => [segment.lines, segment.reason])).toEqual([[25, 'recovered']])
    const ready = path.join(root, 'raw/ready/coinbase')
    expect(fs.readFileSync(path.join(ready, files(ready)[0]), 'utf8')).toBe(lines.slice(0, 25).join('\n') + '\n')
    expect(files(active)).toEqual([])
  })

  it('reads a pipe given as --file (a FIFO, as `--file <(…)` passes), not only a regular file', async () => {
    const root = mkdtemp()
    const fifo = path.join(mkdtemp(), 'feed')
    execFileSync('mkfifo', [fifo])
    const lines = ['{"channel":"heartbeats","timestamp":"2024-01-01T00:00:00Z","sequence_num":1,"events":[]}', '{"channel":"heartbeats","timestamp":"2024-01-01T00:00:01Z","sequence_num":2,"events":[]}']
    // The writer opens the pipe once ingest opens it for reading; both sides run at once.
    const writer = fs.promises.writeFile(fifo, lines.join('\n') + '\n')
    const run = await runInProcess<IngestResult>(['ingest', root, '--source', 'coinbase', '--file', fifo, '--json'])
    await writer
    expect(run.exitCode).toBe(0)
    expect(run.result!.lines).toBe(2)
  })

  it('on S3 keeps the active segment on local disk and uploads only whole segments to ready/', async () => {
    useS3Env()
    const bucket = await createTestBucket('bw-ingest')
    const spool = mkdtemp()
    const run = await runInProcess<IngestResult>(['ingest', `s3://${bucket}/`, '--source', 'coinbase', '--file', CAPTURE, '--rotate-size', '300KB', '--spool-dir', spool, '--json'])
    expect(run.exitCode).toBe(0)
    const keys = await s3Keys(bucket, '')
    expect(keys.every((key) => key.startsWith('raw/ready/coinbase/segment_'))).toBe(true)
    expect(keys.length).toBe(run.result!.segments.length)
    let body = ''
    for (const segment of run.result!.segments) body += await (await testS3Client().send(new GetObjectCommand({Bucket: bucket, Key: segment.key}))).Body!.transformToString()
    expect(body).toBe(lines.join('\n') + '\n')
    expect(files(path.join(spool, 'raw/active/coinbase'))).toEqual([])

    // Killed mid-segment: nothing half-written reaches S3; the next start uploads what was flushed.
    const {child, done} = startIngest([`s3://${bucket}/`, '--source', 'coinbase', '--flush-every', '100ms', '--spool-dir', spool], s3Env())
    child.stdin.write(lines.slice(0, 30).join('\n') + '\n')
    const active = path.join(spool, 'raw/active/coinbase')
    await until(() => files(active).length === 1 && fs.readFileSync(path.join(active, files(active)[0]), 'utf8').split('\n').length === 31)
    child.kill('SIGKILL')
    await done
    expect((await s3Keys(bucket, '')).length).toBe(keys.length)
    const again = await runInProcess<IngestResult>(['ingest', `s3://${bucket}/`, '--source', 'coinbase', '--file', '/dev/null', '--spool-dir', spool, '--json'])
    expect(again.result!.segments.map((segment) => [segment.lines, segment.reason])).toEqual([[30, 'recovered']])
    const recovered = await (await testS3Client().send(new GetObjectCommand({Bucket: bucket, Key: again.result!.segments[0].key}))).Body!.transformToString()
    expect(recovered).toBe(lines.slice(0, 30).join('\n') + '\n')
  })
})
