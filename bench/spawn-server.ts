import {spawn} from 'node:child_process'
import path from 'node:path'

import {ROOT} from '../test/helpers/cli.js'

/**
 * Starts a loopback S3 server in its own process (see s3-server-process.ts): `fauxqs`, the test server, or
 * `indexed`, the benchmark listing server whose listings cost what S3's do (listing-server.ts).
 */
export async function startServerProcess(kind: 'fauxqs' | 'indexed' = 'fauxqs'): Promise<{endpoint: string; stop: () => Promise<void>}> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 's3-server-process.ts'), kind], {cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit']})
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('\n')) resolve(out.split('\n')[0].trim())
    })
    child.on('exit', (code) => reject(new Error(`${kind} S3 server exited with ${code}`)))
  })
  return {
    endpoint,
    stop: async () => {
      child.stdin.end()
      await new Promise((resolve) => child.on('exit', resolve))
    },
  }
}

/** Starts the fault proxy in front of `target` in its own process (proxy-process.ts), `latency` ms added per request. */
export async function startProxyProcess(target: string, latency: number): Promise<{endpoint: string; reset: () => Promise<void>; count: () => Promise<number>; stop: () => Promise<void>}> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'proxy-process.ts'), target, String(latency)], {cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit']})
  const replies: ((line: string) => void)[] = []
  let buffered = ''
  const endpoint = await new Promise<string>((resolve, reject) => {
    replies.push(resolve)
    child.stdout.on('data', (chunk) => {
      buffered += chunk
      let newline
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline).trim()
        buffered = buffered.slice(newline + 1)
        replies.shift()?.(line)
      }
    })
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}`)))
  })
  const ask = (command: string) =>
    new Promise<string>((resolve) => {
      replies.push(resolve)
      child.stdin.write(command + '\n')
    })
  return {
    endpoint,
    reset: async () => void (await ask('reset')),
    count: async () => Number(await ask('count')),
    stop: async () => {
      child.stdin.end()
      await new Promise((resolve) => child.on('exit', resolve))
    },
  }
}
