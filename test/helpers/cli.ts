import {runCommand} from '@oclif/test'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

// In-process runs load the built dist/, as the spawned CLI does: with NODE_ENV=test, oclif would otherwise map
// commands and hooks to src/*.ts (once the `typescript` package can read tsconfig.json), and a command's modules from
// src beside a hook's from dist make two copies of each class (an `instanceof` across them fails).
;(globalThis as {oclif?: Record<string, unknown>}).oclif ??= {}
;(globalThis as {oclif?: Record<string, unknown>}).oclif!.enableAutoTranspile = false

/** The repository root (where package.json and bin/ are). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The built CLI entry. Tests run after `npm run build` (npm test does that). */
export const BIN = path.join(ROOT, 'bin', 'run.js')

/** Result of a command run: its stdout, stderr and exit code. */
export interface CliRun {
  stdout: string
  stderr: string
  code: number
}

/** Spawns the built CLI as a user would, with extra environment; resolves when it exits. */
export function runCli(args: string[], options: {env?: Record<string, string | undefined>; cwd?: string; input?: string; timeoutMs?: number} = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {cwd: options.cwd ?? ROOT, env: {...process.env, ...options.env}, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({stdout, stderr, code: code ?? (signal ? 128 : 1)})
    })
    child.stdin.end(options.input ?? '')
  })
}

/** Runs a command in this process (oclif's runCommand), capturing output; restores process.exitCode. */
export async function runInProcess<T = unknown>(args: string[]): Promise<{stdout: string; stderr: string; result?: T; error?: Error & {oclif?: {exit?: number}}; exitCode: number}> {
  const before = process.exitCode
  process.exitCode = undefined
  // runCommand joins the arguments with spaces and splits them again: quote those holding whitespace.
  const quoted = args.map((arg) => (/\s/.test(arg) && !arg.includes('"') ? `"${arg}"` : arg))
  const out = await runCommand<T>(quoted, {root: ROOT})
  const exitCode = Number(process.exitCode ?? out.error?.oclif?.exit ?? (out.error ? 1 : 0))
  process.exitCode = before
  return {...out, exitCode}
}
