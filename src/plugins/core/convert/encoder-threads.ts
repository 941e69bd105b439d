/**
 * Convert's encoder threads, started early: `bin/run.js` starts them for `convert` before the CLI framework loads
 * (through command/prestart.ts, {@link prestartForConvert}),
 * so the ~150 ms a thread takes to boot and load its modules overlap oclif's own start instead of following it.
 * Such a thread waits for its source; the command's {@link EncoderPool} takes them over, or starts its own.
 */
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'

/** The compiled worker script: beside this module in dist/, or in dist/ when this module runs from src/ (tests). */
export function workerScript(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'encode-worker.js')
  const root = path.resolve(path.dirname(here), '..', '..', '..', '..')
  return path.join(root, 'dist', 'plugins', 'core', 'convert', 'encode-worker.js')
}

/** Default number of encoder threads: one per core. */
export function defaultWorkers(): number {
  return os.availableParallelism()
}

/**
 * Encoder threads for a requested number (`--threads`): one per core by default, never more than the cores —
 * encoding is CPU-bound, so more threads only share the cores and each costs memory.
 */
export function encoderThreads(requested?: number): number {
  return Math.min(requested ?? defaultWorkers(), defaultWorkers())
}

/**
 * Detaches a throwaway ArrayBuffer. V8 optimises typed-array code on the promise that no ArrayBuffer was ever
 * detached in the thread (its "detaching protector"); the first transfer of a buffer to or from an encoder thread
 * breaks that promise and throws away every such optimised function — the decoder's hot loops, the GET path — which
 * then compile a second time. Breaking it at a thread's start, before anything is hot, saves that: about 8% of a
 * convert run's time, measured (interleaved runs, 9 of 10 faster).
 */
export function settleDetachProtector(): void {
  const buffer = new ArrayBuffer(1)
  structuredClone(buffer, {transfer: [buffer]})
}

let early: {workers: Worker[]; failed: boolean} | undefined

/**
 * Starts `count` encoder threads that wait for their source (sent by {@link EncoderPool.start}). They do not keep the
 * process alive: a command that ends without taking them (bad flags, a failure, `--dry-run`) still exits.
 */
export function prestartEncoders(count = defaultWorkers()): number[] {
  settleDetachProtector()
  discardPrestarted()
  const started = {workers: [] as Worker[], failed: false}
  for (let i = 0; i < count; i++) {
    const worker = new Worker(workerScript(), {workerData: {}})
    worker.unref()
    // Until taken, a thread's failure only means the pool starts fresh ones.
    worker.once('error', () => (started.failed = true))
    worker.once('exit', () => (started.failed = true))
    started.workers.push(worker)
  }
  early = started
  return started.workers.map((worker) => worker.threadId)
}

/**
 * convert's prestart (command/prestart.ts), given the command line after `convert`: starts the encoder threads unless
 * the run will encode nothing (help, a dry run) or starts its own number of them (`--threads`; `--workers` is download concurrency).
 */
export function prestartForConvert(argv: readonly string[]): void {
  const end = argv.indexOf('--')
  const flags = end === -1 ? argv : argv.slice(0, end)
  if (flags.some((arg) => ['--help', '-h', '--dry-run', '--threads'].includes(arg.split('=')[0]!))) return
  prestartEncoders()
}

/**
 * The early threads when there are exactly `count` of them and all are alive, else `undefined` (any others are
 * stopped). Each is taken once, and then keeps the process alive like a thread the pool started itself.
 */
export function takePrestarted(count: number): Worker[] | undefined {
  const taken = early
  early = undefined
  if (!taken) return undefined
  if (taken.failed || taken.workers.length !== count) {
    for (const worker of taken.workers) void worker.terminate()
    return undefined
  }
  for (const worker of taken.workers) {
    worker.removeAllListeners('error')
    worker.removeAllListeners('exit')
    worker.ref()
  }
  return taken.workers
}

/** Stops early threads nobody took. */
export function discardPrestarted(): void {
  takePrestarted(-1)
}
