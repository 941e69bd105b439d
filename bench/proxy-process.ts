// The fault proxy in a process of its own, so that a listing benchmark's client CPU is the client's alone.
// Usage: proxy-process.ts <target endpoint> <latency ms>. Prints its endpoint on the first stdout line; then answers
// each stdin line: `count` → the number of requests seen since the last `reset`, `reset` → `ok`. Stops when stdin closes.
import readline from 'node:readline'

import {FaultProxy} from '../test/helpers/fault-proxy.js'

const [target, latency] = process.argv.slice(2)
const proxy = await new FaultProxy(target).start()
proxy.latencyMs = Number(latency)
process.stdout.write(proxy.endpoint + '\n')
const lines = readline.createInterface({input: process.stdin})
lines.on('line', (line) => {
  if (line === 'reset') {
    proxy.requests.length = 0
    process.stdout.write('ok\n')
  } else if (line === 'count') {
    process.stdout.write(`${proxy.requests.length}\n`)
  }
})
lines.on('close', () => void proxy.stop().then(() => process.exit(0)))
