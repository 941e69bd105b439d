#!/usr/bin/env node
// A local WebSocket feed for trying `bucketwright ingest --url` without the internet: serves the lines of NDJSON
// files (e.g. coinbase segments from `bucketwright generate`) as frames to each client once it has subscribed.
//
//   node scripts/replay-feed.mjs FILE... [--port 8765] [--per-second 500]
//
// Each connection gets every line once, in order, after its first message; then the connection stays open (pings
// are answered), so the client sees no silence. Stop it with Ctrl-C.
import {readFileSync} from 'node:fs'
import {WebSocketServer} from 'ws'

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const at = args.indexOf(name)
  if (at === -1) return fallback
  const [, value] = args.splice(at, 2)
  return Number(value)
}
const port = option('--port', 8765)
const perSecond = option('--per-second', 500)
if (args.length === 0) {
  console.error('usage: node scripts/replay-feed.mjs FILE... [--port 8765] [--per-second 500]')
  process.exit(2)
}
const frames = args.flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0),
)

const server = new WebSocketServer({host: '127.0.0.1', port})
server.on('listening', () => console.error(`replaying ${frames.length} frames on ws://127.0.0.1:${port} at ${perSecond}/s`))
server.on('connection', (socket) => {
  socket.on('error', () => {})
  socket.once('message', async (message) => {
    console.error(`client subscribed: ${message.toString().slice(0, 200)}`)
    const batch = Math.max(1, Math.round(perSecond / 10))
    for (let i = 0; i < frames.length && socket.readyState === socket.OPEN; i += batch) {
      for (const frame of frames.slice(i, i + batch)) socket.send(frame)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    console.error(`sent ${frames.length} frames; the connection stays open`)
  })
})
