import {spawn} from 'node:child_process'
import fs from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import {GetObjectCommand} from '@aws-sdk/client-s3'
import {afterAll, describe, expect, it} from 'vitest'
import {type WebSocket, WebSocketServer} from 'ws'

import type {IngestResult} from '../../src/commands/ingest.js'
import type {EtlResult} from '../../src/plugins/core/etl/etl.js'
import type {SegmentMeta} from '../../src/plugins/core/ingest/ingest.js'
import {BIN, ROOT, runCli, runInProcess} from '../helpers/cli.js'
import {createTestBucket, s3Env, s3Servers, testS3Client} from '../helpers/s3.js'
import {until} from '../helpers/wait.js'
import {advancedTradeFramesWithSnapshots} from '../fixtures/generated.js'
import {advancedTradeFrames, expectedCounts, s3Keys} from './fixtures.js'

const temp: string[] = []
function mkdtemp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-feed-'))
  temp.push(dir)
  return dir
}
const servers: WebSocketServer[] = []
afterAll(async () => {
  for (const server of servers) {
    for (const client of server.clients) client.terminate()
    await new Promise((resolve) => server.close(resolve))
  }
  for (const dir of temp) fs.rmSync(dir, {recursive: true, force: true})
})

/** A frame with its `sequence_num` replaced: the feed numbers every connection from 0. */
const renumber = (frame: string, sequence: number) => frame.replace(/"sequence_num":\d+/, `"sequence_num":${sequence}`)

/** One connection of the replay server: what it was sent to subscribe, and the socket. */
interface Connection {
  socket: WebSocket
  subscriptions: string[]
}

/**
 * A local feed on 127.0.0.1: hands each connection to `onConnection` once it has sent `expectSubscribes` messages
 * (the subscription), so a script can replay frames, drop the socket or fall silent.
 */
async function feedServer(expectSubscribes: number, onConnection: (connection: Connection, index: number) => void, options: {silentConnection?: number} = {}) {
  // Pings answered by hand, so that one connection (silentConnection) can leave them unanswered.
  const server = new WebSocketServer({host: '127.0.0.1', port: 0, autoPong: false})
  servers.push(server)
  const connections: Connection[] = []
  server.on('connection', (socket) => {
    const connection: Connection = {socket, subscriptions: []}
    const index = connections.push(connection) - 1
    socket.on('error', () => {})
    socket.on('ping', (data) => index !== options.silentConnection && socket.pong(data))
    socket.on('message', (data) => {
      connection.subscriptions.push(data.toString())
      if (connection.subscriptions.length === expectSubscribes) onConnection(connection, index)
    })
  })
  await new Promise((resolve) => server.once('listening', resolve))
  return {url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, connections}
}

/** Sends frames in small bursts (so the client reads them as they come, as from a real feed); resolves when sent. */
async function send(socket: WebSocket, frames: string[]): Promise<void> {
  for (let i = 0; i < frames.length; i += 50) {
    for (const frame of frames.slice(i, i + 50)) socket.send(frame)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The server's `ping` answered by the client: every frame sent before it has been taken by the client. */
function pinged(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('pong', () => resolve())
    socket.ping()
  })
}

/** The built CLI, running; resolves its exit code, stdout and stderr. */
function startIngest(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'ingest', ...args], {cwd: ROOT, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const done = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => child.on('close', (code) => resolve({code, stdout, stderr})))
  return {child, done, stderr: () => stderr}
}

/** Every line of the ready segments of a vault, in segment order (decompressed). */
function readyLines(root: string, source = 'coinbase'): string[] {
  const dir = path.join(root, 'raw/ready', source)
  const order = (name: string) => Number(/_(\d+)\.ndjson/.exec(name)![1])
  const names = fs.readdirSync(dir).sort((a, b) => a.slice(0, 19).localeCompare(b.slice(0, 19)) || order(a) - order(b))
  return names.flatMap((name) => {
    const body = fs.readFileSync(path.join(dir, name))
    const text = name.endsWith('.gz') ? zlib.gunzipSync(body) : name.endsWith('.zst') ? zlib.zstdDecompressSync(body) : body
    return text.toString('utf8').split('\n').filter(Boolean)
  })
}

const SUBSCRIBE_COINBASE = ['--source', 'coinbase', '--source-option', 'products=BTC-USD,ETH-USD,SOL-USD']
/** level2, ticker, market_trades and heartbeats: one subscribe message each. */
const COINBASE_SUBSCRIBES = 4

/** The feed as sent: every frame of one connection, l2 book snapshots included, sequence numbers 0, 1, 2, … */
const FEED = await advancedTradeFramesWithSnapshots()

describe('ingest from a live feed', {timeout: 240_000}, () => {
  const frames = FEED

  it('survives a dropped and a silent connection, re-subscribes, reports the gap and the bad frame, and keeps every frame once', async () => {
    // Connection 1: frames 0..399 without frame 150 (a gap), a malformed frame after frame 200, then the server
    // drops the socket. Connection 2 (numbers restart at 0): 200 frames, then it falls silent and stops answering
    // pings. Connection 3: the rest.
    const first = frames.slice(0, 400)
    const second = frames.slice(400, 600).map((frame, i) => renumber(frame, i))
    const third = frames.slice(600).map((frame, i) => renumber(frame, i))
    const MALFORMED = '{"channel":"ticker","timestamp":"2026-08-09T21:05:50Z","sequence_num":'
    const sent: string[] = []
    const server = await feedServer(
      COINBASE_SUBSCRIBES,
      (connection, index) => {
        void (async () => {
          if (index === 0) {
            const withGap = first.filter((_, i) => i !== 150)
            await send(connection.socket, withGap.slice(0, 200))
            connection.socket.send(MALFORMED)
            await send(connection.socket, withGap.slice(200))
            sent.push(...withGap)
            await pinged(connection.socket)
            connection.socket.terminate()
          } else if (index === 1) {
            await send(connection.socket, second)
            sent.push(...second)
            // Silent from here on: no frames, and no answer to the client's pings.
          } else if (index === 2) {
            await send(connection.socket, third)
            sent.push(...third)
          }
        })()
      },
      {silentConnection: 1},
    )
    const root = mkdtemp()
    const run = startIngest([
      root,
      ...SUBSCRIBE_COINBASE,
      '--url',
      server.url,
      '--rotate-size',
      '150KB',
      '--flush-every',
      '100ms',
      '--silence-timeout',
      '1s',
      '--reconnect-delay',
      '50ms',
      '--reconnect-max',
      '200ms',
      '--json',
    ])
    // Every frame the server sent is in a segment (ready or still active): then stop the ingest.
    const stored = () => {
      const active = path.join(root, 'raw/active/coinbase')
      try {
        const activeLines = fs.existsSync(active) ? fs.readdirSync(active).reduce((n, name) => n + fs.readFileSync(path.join(active, name), 'utf8').split('\n').filter(Boolean).length, 0) : 0
        return (fs.existsSync(path.join(root, 'raw/ready/coinbase')) ? readyLines(root).length : 0) + activeLines
      } catch (error) {
        // A segment made ready between the listing and the read: count again at the next poll.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1
        throw error
      }
    }
    await until('every frame sent to be stored', () => server.connections.length === 3 && sent.length === frames.length - 1 && stored() === frames.length - 1, 120_000)
    run.child.kill('SIGTERM')
    const out = await run.done
    // A malformed frame was set aside: exit 4 (finished with input set aside), the result still printed.
    expect(out.code, out.stderr).toBe(4)
    const result = JSON.parse(out.stdout) as IngestResult

    // Every frame received is in the segments exactly once, in order; the malformed one in none.
    const lines = readyLines(root)
    expect(lines).toEqual(sent)
    expect(lines).not.toContain(MALFORMED)
    expect(fs.readdirSync(path.join(root, 'raw/active/coinbase'))).toEqual([])
    expect(result.lines).toBe(sent.length)

    // The client subscribed again, the same way, on each new connection.
    expect(server.connections).toHaveLength(3)
    const subscription = server.connections[0].subscriptions.map((message) => JSON.parse(message))
    expect(subscription.map((message) => message.channel).sort()).toEqual(['heartbeats', 'level2', 'market_trades', 'ticker'])
    for (const message of subscription) expect(message).toMatchObject({type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD', 'SOL-USD']})
    for (const connection of server.connections.slice(1)) expect(connection.subscriptions).toEqual(server.connections[0].subscriptions)

    // One gap (150 skipped), none for the renumbered reconnections; one malformed frame, with its position.
    const gapChannel = JSON.parse(frames[151]).channel
    expect(result.feed).toMatchObject({url: server.url, connections: 3, reconnects: 2, gaps: 1, missing: 1, malformed: 1, frames: sent.length + 1})
    expect(result.feed!.gapList).toEqual([expect.objectContaining({channel: gapChannel, expected: 150, got: 151, missing: 1, connection: 1})])
    expect(result.feed!.malformedList).toEqual([expect.objectContaining({connection: 1, frame: 201, received: 201, text: MALFORMED})])
    expect(out.stderr).toMatch(new RegExp(`WARN.*Gap on channel ${gapChannel}: expected sequence 150, got 151`))
    expect(out.stderr).toMatch(/WARN.*Malformed frame 201 on connection 1/)
    expect(out.stderr).toMatch(/silent for/)

    // The segments' metadata: the gap and the bad frame counted in the segment they fell in, and nothing else.
    const metas = result.segments.map((segment) => JSON.parse(fs.readFileSync(path.join(root, segment.metaKey!), 'utf8')) as SegmentMeta)
    expect(metas.length).toBeGreaterThan(1)
    expect(metas.map((meta) => meta.segment)).toEqual(result.segments.map((segment) => path.basename(segment.key)))
    expect(metas.reduce((n, meta) => n + meta.lines, 0)).toBe(sent.length)
    expect(metas.reduce((n, meta) => n + meta.counts.gaps, 0)).toBe(1)
    expect(metas.reduce((n, meta) => n + meta.counts.malformed, 0)).toBe(1)
    expect(metas.reduce((n, meta) => n + meta.counts.reconnects, 0)).toBe(2)
    const withGap = metas.find((meta) => meta.counts.gaps === 1)!
    expect(withGap.gaps[0]).toMatchObject({expected: 150, got: 151})
    // The segment with the gap holds the frame that came after it.
    const segmentOfGap = result.segments[metas.indexOf(withGap)]
    expect(fs.readFileSync(path.join(root, segmentOfGap.key), 'utf8')).toContain(frames[151])
    expect(metas.find((meta) => meta.counts.malformed === 1)!.malformed[0].text).toBe(MALFORMED)
    for (const [i, segment] of result.segments.entries()) expect(segment.feed).toEqual(metas[i].counts)

    // etl loads the same records from the feed's segments as from the same frames ingested from a file.
    const file = path.join(mkdtemp(), 'frames.ndjson')
    fs.writeFileSync(file, sent.join('\n') + '\n')
    const fromFile = mkdtemp()
    expect((await runInProcess<IngestResult>(['ingest', fromFile, '--source', 'coinbase', '--file', file, '--json'])).exitCode).toBe(0)
    const viaFeed = await runInProcess<EtlResult>(['etl', root, '--source', 'coinbase', '--to', path.join(root, 'out'), '--json'])
    const viaFile = await runInProcess<EtlResult>(['etl', fromFile, '--source', 'coinbase', '--to', path.join(fromFile, 'out'), '--json'])
    expect(viaFeed.exitCode).toBe(0)
    // Segment counts differ (the feed's rotated at 150 KB); lines, records and quarantine must not.
    expect({...viaFeed.result!.totals, segments: 0}).toEqual({...viaFile.result!.totals, segments: 0})
    expect(viaFeed.result!.totals).toMatchObject({lines: sent.length, quarantined: 0, failed: 0})
    const records = (result: EtlResult) => {
      const sums: Record<string, number> = {}
      for (const segment of result.segments) for (const [channel, rows] of Object.entries(segment.records)) sums[channel] = (sums[channel] ?? 0) + rows
      return sums
    }
    expect(records(viaFeed.result!)).toEqual(records(viaFile.result!))
    expect(records(viaFeed.result!)).toMatchObject(expectedCounts(sent))
  })

  it('SIGTERM seals the active segment: every frame received before the signal is in a ready segment', async () => {
    const burst = frames.slice(0, 500)
    let delivered: Promise<void> | undefined
    const server = await feedServer(COINBASE_SUBSCRIBES, (connection) => {
      delivered = (async () => {
        await send(connection.socket, burst)
        // Answered only after the client has taken every frame before the ping.
        await pinged(connection.socket)
      })()
    })
    const root = mkdtemp()
    // Nothing is flushed before the signal (1 h, and the burst is under the 1 MiB batch): it all sits in memory.
    const run = startIngest([root, ...SUBSCRIBE_COINBASE, '--url', server.url, '--flush-every', '1h', '--compress', 'gzip', '--json'])
    await until('the subscription', () => delivered !== undefined, 60_000)
    await delivered
    expect(fs.existsSync(path.join(root, 'raw/ready/coinbase'))).toBe(false)
    run.child.kill('SIGTERM')
    const out = await run.done
    expect(out.code, out.stderr).toBe(0)
    const result = JSON.parse(out.stdout) as IngestResult
    expect(readyLines(root)).toEqual(burst)
    expect(result.segments).toEqual([expect.objectContaining({reason: 'end', lines: burst.length})])
    expect(result.segments[0].key).toMatch(/\.ndjson\.gz$/)
    expect(result.feed).toMatchObject({frames: burst.length, gaps: 0, malformed: 0})
    expect(fs.readdirSync(path.join(root, 'raw/active/coinbase'))).toEqual([])
  })

  for (const {name, endpoint} of s3Servers()) {
    it(`on S3 (${name}): a feed's compressed segments and their metadata are uploaded whole on SIGTERM, and etl loads them`, async () => {
      const burst = frames.slice(0, 300)
      let delivered: Promise<void> | undefined
      const server = await feedServer(COINBASE_SUBSCRIBES, (connection) => {
        delivered = (async () => {
          await send(
            connection.socket,
            burst.filter((_, i) => i !== 100),
          )
          await pinged(connection.socket)
        })()
      })
      const client = testS3Client(endpoint)
      const bucket = await createTestBucket('bw-feed', client)
      const spool = mkdtemp()
      const env = s3Env(endpoint)
      const run = startIngest([`s3://${bucket}/`, ...SUBSCRIBE_COINBASE, '--url', server.url, '--flush-every', '100ms', '--rotate-size', '100KB', '--compress', 'zstd', '--spool-dir', spool, '--json'], env)
      await until('the subscription', () => delivered !== undefined, 60_000)
      await delivered
      run.child.kill('SIGTERM')
      const out = await run.done
      expect(out.code, out.stderr).toBe(0)
      const result = JSON.parse(out.stdout) as IngestResult
      const keys = await s3Keys(bucket, '', client)
      const segments = result.segments.map((segment) => segment.key)
      expect(segments.length).toBeGreaterThan(1)
      expect(keys.sort()).toEqual([...segments, ...result.segments.map((segment) => segment.metaKey!)].sort())
      const body = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({Bucket: bucket, Key: key}))).Body!.transformToByteArray())
      const lines: string[] = []
      for (const key of segments) {
        expect(key).toMatch(/\.ndjson\.zst$/)
        lines.push(
          ...zlib
            .zstdDecompressSync(await body(key))
            .toString('utf8')
            .split('\n')
            .filter(Boolean),
        )
      }
      const expected = burst.filter((_, i) => i !== 100)
      expect(lines).toEqual(expected)
      const metas = await Promise.all(result.segments.map(async (segment) => JSON.parse((await body(segment.metaKey!)).toString('utf8')) as SegmentMeta))
      expect(metas.flatMap((meta) => meta.gaps)).toEqual([expect.objectContaining({expected: 100, got: 101})])
      expect(fs.readdirSync(path.join(spool, 'raw/active/coinbase'))).toEqual([])
      const etl = await runCli(['etl', `s3://${bucket}/`, '--source', 'coinbase', '--to', path.join(mkdtemp(), 'out'), '--json'], {env})
      expect(etl.code, etl.stderr).toBe(0)
      const loaded = JSON.parse(etl.stdout) as EtlResult
      expect(loaded.totals).toMatchObject({segments: segments.length, lines: expected.length, quarantined: 0, failed: 0})
      const records: Record<string, number> = {}
      for (const segment of loaded.segments) for (const [channel, rows] of Object.entries(segment.records)) records[channel] = (records[channel] ?? 0) + rows
      expect(records).toMatchObject(expectedCounts(expected))
    })
  }

  it('a generic feed: --url with the messages of --subscribe-file, frames stored as sent', async () => {
    const subscribeFile = path.join(mkdtemp(), 'subscribe.json')
    const messages = [
      {op: 'subscribe', args: ['trades']},
      {op: 'subscribe', args: ['quotes']},
    ]
    fs.writeFileSync(subscribeFile, JSON.stringify(messages, null, 2))
    // A pretty-printed frame: newlines between JSON tokens become spaces, so it stays one line.
    const sentFrames = ['{"id":1,"price":1.10000000000000000001}', '{\n  "id": 2,\n  "price": 3\n}', '{"id":3}']
    const server = await feedServer(2, (connection, index) => {
      // Only the first connection replays (a reconnect's jitter may bring the client back at once).
      if (index > 0) return
      void (async () => {
        await send(connection.socket, sentFrames)
        await pinged(connection.socket)
        connection.socket.close()
      })()
    })
    const root = mkdtemp()
    const run = startIngest([root, '--source', 'ndjson', '--url', server.url, '--subscribe-file', subscribeFile, '--flush-every', '100ms', '--json'])
    await until(
      'the frames to be flushed',
      () => fs.existsSync(path.join(root, 'raw/active/ndjson')) && fs.readdirSync(path.join(root, 'raw/active/ndjson')).some((name) => fs.statSync(path.join(root, 'raw/active/ndjson', name)).size > 0),
      60_000,
    )
    await until('the client to see the close', () => run.stderr().includes('reconnecting'), 60_000)
    run.child.kill('SIGINT')
    const out = await run.done
    expect(out.code, out.stderr).toBe(0)
    expect(server.connections[0].subscriptions.map((message) => JSON.parse(message))).toEqual(messages)
    expect(readyLines(root, 'ndjson')).toEqual(['{"id":1,"price":1.10000000000000000001}', '{   "id": 2,   "price": 3 }', '{"id":3}'])
    const result = JSON.parse(out.stdout) as IngestResult
    expect(result.feed).toMatchObject({frames: 3, gaps: 0, malformed: 0})
    expect(result.feed!.reconnects).toBeGreaterThanOrEqual(1)
  })

  it('refuses a feed it cannot subscribe to or reach, writing nothing', async () => {
    const root = mkdtemp()
    const noProducts = await runCli(['ingest', root, '--source', 'coinbase', '--feed', '--json'])
    expect(noProducts.code).toBe(2)
    expect(JSON.parse(noProducts.stdout).error).toMatchObject({code: 'BAD_SOURCE_OPTION'})
    expect(noProducts.stdout).toContain('products')
    const noUrl = await runCli(['ingest', root, '--source', 'ndjson', '--feed', '--json'])
    expect(noUrl.code).toBe(2)
    expect(JSON.parse(noUrl.stdout).error).toMatchObject({code: 'NO_FEED_URL'})
    // A port nothing listens on (a server opened and closed): the first connection fails, exit 1.
    const closed = new WebSocketServer({host: '127.0.0.1', port: 0})
    await new Promise((resolve) => closed.once('listening', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const unreachable = await runCli(['ingest', root, ...SUBSCRIBE_COINBASE, '--url', `ws://127.0.0.1:${port}`, '--json'])
    expect(unreachable.code).toBe(1)
    expect(JSON.parse(unreachable.stdout).error).toMatchObject({code: 'FEED_UNREACHABLE'})
    // A server that refuses the WebSocket handshake: the error says what it answered.
    const http = createServer((_request, response) => response.writeHead(404).end())
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const refused = await runCli(['ingest', root, ...SUBSCRIBE_COINBASE, '--url', `ws://127.0.0.1:${(http.address() as AddressInfo).port}`, '--json'])
    await new Promise((resolve) => http.close(resolve))
    expect(refused.code).toBe(1)
    expect(JSON.parse(refused.stdout).error).toMatchObject({code: 'FEED_UNREACHABLE', message: expect.stringContaining('404')})
    const empty = path.join(mkdtemp(), 'empty.json')
    fs.writeFileSync(empty, '\n\n')
    const noMessages = await runCli(['ingest', root, '--source', 'ndjson', '--url', 'ws://127.0.0.1:1', '--subscribe-file', empty, '--json'])
    expect(noMessages.code).toBe(2)
    expect(JSON.parse(noMessages.stdout).error).toMatchObject({code: 'EMPTY_SUBSCRIBE_FILE'})
    const notLive = await runCli(['ingest', root, '--source', 'ndjson', '--subscribe-file', empty, '--json'])
    expect(notLive.code).toBe(2)
    expect(JSON.parse(notLive.stdout).error).toMatchObject({code: 'SUBSCRIBE_WITHOUT_FEED'})
    expect(fs.existsSync(path.join(root, 'raw'))).toBe(false)
  })
})

describe('compressed segments', {timeout: 240_000}, () => {
  it('a crash while compressing neither loses nor duplicates a segment', async () => {
    const root = mkdtemp()
    const active = path.join(root, 'raw/active/coinbase')
    const ready = path.join(root, 'raw/ready/coinbase')
    fs.mkdirSync(active, {recursive: true})
    fs.mkdirSync(ready, {recursive: true})
    const lines = advancedTradeFrames().slice(0, 15)
    // Segment 5 was compressed into ready/ and the crash came before its plain copy was removed.
    const five = lines.slice(0, 10).join('\n') + '\n'
    fs.writeFileSync(path.join(active, 'segment_20260809T21_5.ndjson'), five)
    fs.writeFileSync(path.join(ready, 'segment_20260809T21_5.ndjson.zst'), zlib.zstdCompressSync(five))
    // Segment 6 was being compressed (a partial file) with a torn last line in the plain one.
    fs.writeFileSync(path.join(active, 'segment_20260809T21_6.ndjson'), lines.slice(10).join('\n') + '\n{"channel":"tick')
    fs.writeFileSync(path.join(active, 'segment_20260809T21_6.ndjson.zst.partial'), zlib.zstdCompressSync('{"chan'))
    const run = await runInProcess<IngestResult>(['ingest', root, '--source', 'coinbase', '--file', '/dev/null', '--compress', 'zstd', '--json'])
    expect(run.exitCode).toBe(0)
    expect(run.result!.segments).toEqual([expect.objectContaining({key: 'raw/ready/coinbase/segment_20260809T21_6.ndjson.zst', lines: 5, reason: 'recovered'})])
    expect(fs.readdirSync(active)).toEqual([])
    expect(fs.readdirSync(ready).sort()).toEqual(['segment_20260809T21_5.ndjson.zst', 'segment_20260809T21_6.ndjson.zst'])
    expect(readyLines(root)).toEqual(lines)
  })

  it('etl loads .ndjson.gz and .ndjson.zst segments with the same counts as .ndjson', async () => {
    const file = path.join(mkdtemp(), 'frames.ndjson')
    const frames = advancedTradeFrames()
    fs.writeFileSync(file, frames.join('\n') + '\n')
    const totals: Record<string, EtlResult['totals']> = {}
    const records: Record<string, Record<string, number>> = {}
    for (const compress of ['none', 'gzip', 'zstd']) {
      const root = mkdtemp()
      const ingested = await runInProcess<IngestResult>(['ingest', root, '--source', 'coinbase', '--file', file, '--rotate-size', '200KB', '--compress', compress, '--json'])
      expect(ingested.exitCode).toBe(0)
      const suffix = {none: '.ndjson', gzip: '.ndjson.gz', zstd: '.ndjson.zst'}[compress]!
      const names = fs.readdirSync(path.join(root, 'raw/ready/coinbase'))
      expect(names.length).toBeGreaterThan(1)
      for (const name of names) expect(name.endsWith(suffix) && (compress !== 'none' || !/\.(gz|zst)$/.test(name))).toBe(true)
      if (compress !== 'none') for (const segment of ingested.result!.segments) expect(segment.storedBytes!).toBeLessThan(segment.bytes / 2)
      expect(readyLines(root)).toEqual(frames)
      const etl = await runInProcess<EtlResult>(['etl', root, '--source', 'coinbase', '--to', path.join(root, 'out'), '--json'])
      expect(etl.exitCode).toBe(0)
      totals[compress] = etl.result!.totals
      records[compress] = {}
      for (const segment of etl.result!.segments) for (const [channel, rows] of Object.entries(segment.records)) records[compress][channel] = (records[compress][channel] ?? 0) + rows
      // Parquet named after the segment, without its compression suffix.
      const outputs = etl.result!.segments.flatMap((segment) => segment.outputs ?? []).map((output) => output.key)
      expect(outputs.length).toBeGreaterThan(0)
      for (const key of outputs) expect(key).toMatch(/part_segment_\d{8}T\d{2}_\d+\d*\.parquet$/)
      expect(fs.readdirSync(path.join(root, 'raw/ready/coinbase'))).toEqual([])
    }
    expect(totals.gzip).toEqual(totals.none)
    expect(totals.zstd).toEqual(totals.none)
    expect(totals.none).toMatchObject({lines: frames.length, quarantined: 0, failed: 0})
    expect(records.gzip).toEqual(records.none)
    expect(records.zstd).toEqual(records.none)
    expect(records.none).toMatchObject(expectedCounts(frames))
  })
})
