/**
 * The benchmarks' shared harness, so that every figure they print means the same thing: how many rounds (one knob,
 * `ROUNDS`), in which order the contenders run (interleaved, the order rotated each round), how one run is measured
 * (wall time, and the user + system CPU seconds it cost, which a shared machine disturbs far less), how runs are
 * summarised (true medians) and how two contenders are compared (labels that name who is faster, and by how much).
 */
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** The built CLI, as users run it. */
export const BIN = path.join(ROOT, 'bin', 'run.js')
/**
 * Another checkout of bucketwright, built (`BASELINE=/path/to/checkout`: its `bin/run.js`), run as one more contender
 * in the same interleaved rounds: "did this change make it slower?" answered on one machine at one time.
 */
export const BASELINE_BIN = process.env.BASELINE ? path.join(path.resolve(process.env.BASELINE), 'bin', 'run.js') : undefined
/**
 * The peers' kit (rclone/AWS CLI set-up, the original Python converter): `SHARED_BENCH` when set, else the nearest
 * `shared/bench` beside the repository or one of its parents (a git worktree sits a level deeper than the clone).
 * Benchmarks use it only when it is there, and say so when it is not.
 */
export const SHARED_BENCH = process.env.SHARED_BENCH ?? findSharedBench(ROOT)

function findSharedBench(from: string): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'bench')
    if (existsSync(candidate)) return candidate
    if (path.dirname(dir) === dir) return path.resolve(from, '..', 'shared', 'bench')
  }
}

/** A progress line on stderr, time-stamped; results go to stdout. */
export function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

/** The built library (dist/, what users run), typed from its sources: `loadBuilt<typeof import('../src/…')>('…')`. */
export async function loadBuilt<T>(relative: string): Promise<T> {
  const file = path.join(ROOT, 'dist', relative)
  if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run \`npm run build\` first (every \`npm run bench:*\` does).`)
  return (await import(pathToFileURL(file).href)) as T
}

// ---------------------------------------------------------------------------------------------------- rounds

/** Names the rounds knob had before it was one; still read, with a line saying so. */
const OLD_ROUND_KNOBS = ['RUNS', 'BENCH_ROUNDS', 'LIST_ROUNDS'] as const

/**
 * Rounds per comparison: `ROUNDS` (default 5). The old names (RUNS, BENCH_ROUNDS, LIST_ROUNDS) still work when
 * ROUNDS is unset, with a deprecation line; the old `--rounds` argument is refused with the new spelling.
 */
export function benchRounds(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2), warn: (line: string) => void = log): number {
  if (argv.some((arg) => arg === '--rounds' || arg.startsWith('--rounds='))) throw new Error('--rounds is gone: set ROUNDS instead, e.g. `ROUNDS=3 npm run bench:decode`.')
  let text = env.ROUNDS
  for (const old of OLD_ROUND_KNOBS) {
    if (env[old] === undefined) continue
    if (text === undefined) {
      warn(`${old} is deprecated: use ROUNDS=${env[old]} (read as ROUNDS this time).`)
      text = env[old]
    } else {
      warn(`${old} is deprecated and ignored: ROUNDS=${text} is set.`)
    }
  }
  if (text === undefined || text === '') return 5
  const rounds = Number(text)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`ROUNDS must be a whole number of rounds, 1 or more (got "${text}").`)
  return rounds
}

/**
 * The order of the contenders in a round: rotated by one each round (A B C, B C A, C A B, …), so that over the rounds
 * each contender runs in each position equally often and none always runs first (cold caches) or last (a tired machine).
 */
export function roundOrder<T>(contenders: readonly T[], round: number): T[] {
  const n = contenders.length
  return contenders.map((_, i) => contenders[(i + round) % n])
}

/** The median: the middle value, or the mean of the two middle values for an even count. NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

// ---------------------------------------------------------------------------------------------------- labels

/** A ratio ≥ 1 as printed: two decimals below 10, one above. */
export function formatFactor(factor: number): string {
  return `${factor < 10 ? factor.toFixed(2) : factor.toFixed(1)}×`
}

/**
 * Who is faster and by how much, from the two contenders' throughputs (higher is faster) or, equivalently for the
 * same work, the inverse of their times: "rclone 1.30× faster than bucketwright", never "0.77× faster".
 */
export function fasterLabel(a: {name: string; rate: number}, b: {name: string; rate: number}): string {
  if (!(a.rate > 0) || !(b.rate > 0)) return `${a.name} vs ${b.name}: no figure`
  const [fast, slow] = a.rate >= b.rate ? [a, b] : [b, a]
  const factor = formatFactor(fast.rate / slow.rate)
  return factor === '1.00×' ? `${a.name} and ${b.name} equally fast (1.00×)` : `${fast.name} ${factor} faster than ${slow.name}`
}

/** Who needs less CPU per MB and by how much: "bucketwright 1.30× less CPU per MB than rclone". */
export function cpuLabel(a: {name: string; cpuPerMb: number}, b: {name: string; cpuPerMb: number}): string {
  if (!(a.cpuPerMb > 0) || !(b.cpuPerMb > 0)) return `${a.name} vs ${b.name} CPU: no figure`
  const [lean, heavy] = a.cpuPerMb <= b.cpuPerMb ? [a, b] : [b, a]
  const factor = formatFactor(heavy.cpuPerMb / lean.cpuPerMb)
  return factor === '1.00×' ? `${a.name} and ${b.name} equal CPU per MB (1.00×)` : `${lean.name} ${factor} less CPU per MB than ${heavy.name}`
}

/** The winner's share of a label, for compact per-round lists: "rclone 1.30×", "even". */
function shortFaster(a: {name: string; rate: number}, b: {name: string; rate: number}): string {
  if (!(a.rate > 0) || !(b.rate > 0)) return '–'
  const [fast, slow] = a.rate >= b.rate ? [a, b] : [b, a]
  const factor = formatFactor(fast.rate / slow.rate)
  return factor === '1.00×' ? 'even' : `${fast.name} ${factor}`
}

// ---------------------------------------------------------------------------------------------------- measuring

/** One timed run of one contender. */
export interface Measurement {
  /** Wall seconds of the timed work. */
  seconds: number
  /** User + system CPU seconds the contender spent on it: its processes and threads (what "its own" means is said by each bench). */
  cpuSeconds: number
  /** CPU seconds a server spent serving this run (the S3 server), shown apart: in production that is someone else's machine. */
  serverCpuSeconds?: number
  /** Peak resident memory of the contender's largest process, in MiB (2^20 bytes), when measured. */
  peakRssMb?: number
  /** Work done, when it differs from the comparison's: bytes and items (records, files, rows). */
  bytes?: number
  items?: number
}

/** How the CPU of a child process is counted: GNU time's rusage of the child (with peak RSS), else /proc/self/stat. */
export type CpuAccounting = 'time' | 'proc'

/** GNU time when installed (it also gives the peak RSS); otherwise the CPU of reaped children from /proc/self/stat. */
export const defaultAccounting: CpuAccounting = existsSync('/usr/bin/time') ? 'time' : 'proc'

let clockTicks: number | undefined
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses): index 0 is field 3. */
function statFields(pid: number | 'self'): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

/** User + system CPU seconds a live process has used so far (a server's, sampled before and after a run). */
export function processCpuSeconds(pid: number): number {
  const fields = statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
}

/** User + system CPU seconds of this process's children that have exited and been reaped. */
function reapedChildrenCpuSeconds(): number {
  const fields = statFields('self')
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond()
}

/** A child process's run: its measurement, exit status and output. */
export interface ChildRun extends Measurement {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs a command to its end and measures it: wall time from spawn to exit, and the user + system CPU of the process
 * and every child it waited for (so `bin/run.js` re-running itself on Node 24 is counted whole). With GNU time also
 * the peak RSS of the largest process in that tree. Without GNU time, the CPU of every child this process reaps
 * meanwhile: so measure one child at a time. Never throws for a non-zero exit: the caller checks `status`.
 */
export function measureChild(command: string, args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string; accounting?: CpuAccounting} = {}): Promise<ChildRun> {
  const accounting = options.accounting ?? defaultAccounting
  const statsDir = accounting === 'time' ? mkdtempSync(path.join(os.tmpdir(), 'bw-bench-time-')) : undefined
  const statsFile = statsDir && path.join(statsDir, 'rusage')
  const [file, argv] = statsFile ? ['/usr/bin/time', ['-f', '%U %S %M', '-o', statsFile, command, ...args]] : [command, args]
  return new Promise((resolve, reject) => {
    const childrenBefore = accounting === 'proc' ? reapedChildrenCpuSeconds() : 0
    const started = process.hrtime.bigint()
    const child = spawn(file, argv, {cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe']})
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', (error) => {
      if (statsDir) rmSync(statsDir, {recursive: true, force: true})
      reject(error)
    })
    child.on('close', (status, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const run: ChildRun = {seconds, cpuSeconds: Number.NaN, status, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8')}
      if (statsFile) {
        // GNU time writes "Command exited with non-zero status N" first when the command failed: the figures are last.
        const last = existsSync(statsFile) ? readFileSync(statsFile, 'utf8').trim().split('\n').pop() : undefined
        const match = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)$/.exec(last ?? '')
        if (match) Object.assign(run, {cpuSeconds: Number(match[1]) + Number(match[2]), peakRssMb: Number(match[3]) / 1024})
        rmSync(statsDir!, {recursive: true, force: true})
      } else {
        run.cpuSeconds = reapedChildrenCpuSeconds() - childrenBefore
      }
      resolve(run)
    })
  })
}

/** Runs work in this process and measures it: wall time, and the CPU of this whole process (all its threads) meanwhile. */
export async function measureInProcess<T>(work: () => Promise<T>): Promise<Measurement & {value: T}> {
  const cpu = process.cpuUsage()
  const started = process.hrtime.bigint()
  const value = await work()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const used = process.cpuUsage(cpu)
  return {seconds, cpuSeconds: (used.user + used.system) / 1e6, value}
}

// ---------------------------------------------------------------------------------------------------- comparing

/** One side of a comparison: a name and a timed run (set-up and checks inside `run` are its own business; `round` is negative for warm-up runs). */
export interface Contender {
  name: string
  run(round: number): Promise<Measurement>
}

/** What one run of each contender does (unless a measurement says otherwise: then each run's own figures count). */
export interface Work {
  bytes?: number
  items?: number
  /** What an item is, plural: "records", "files", "rows". */
  itemUnit?: string
}

/** A comparison to run: contenders doing the same work, rounds interleaved. */
export interface Comparison {
  title: string
  work: Work
  contenders: Contender[]
  /** Pairs to label, as [ours, peer] names; default the first contender against each of the others. */
  pairs?: [string, string][]
  /** Uncounted runs of each contender before the first round (compile caches, a cold server). */
  warmup?: number
  rounds?: number
  /** Where each run's line goes as it ends (default stderr). */
  log?: (line: string) => void
}

/** The figures of one run, derived from its measurement and the work. */
export interface RunFigures {
  round: number
  seconds: number
  cpuSeconds: number
  cpuPerMb: number
  mbPerSecond: number
  itemsPerSecond?: number
  serverCpuPerMb?: number
  peakRssMb?: number
}

/** A contender's runs and their medians. */
export interface ContenderSummary {
  name: string
  runs: RunFigures[]
  failures: string[]
  seconds: number
  cpuPerMb: number
  mbPerSecond: number
  itemsPerSecond?: number
  serverCpuPerMb?: number
  peakRssMb?: number
}

/** The outcome of a comparison: per contender, and the labelled ratios of the pairs (medians and per round). */
export interface ComparisonResult {
  title: string
  work: Work
  rounds: number
  contenders: ContenderSummary[]
  pairs: {ours: string; peer: string; faster: string; cpu: string; perRound: string[]; medianOfRounds: string}[]
}

const mb = (bytes: number) => bytes / 1e6
const fixed = (value: number | undefined, digits: number) => (value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits))
/** A count or rate: whole numbers from 100 up, three significant digits below (0.342 files/s, not 0). */
const whole = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '–' : value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3))
/** CPU-s/MB with three significant digits: figures range from 0.001 (gzip'd reads) to 1+ (Python). */
const perMb = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '–' : value.toPrecision(3))

function figuresOf(round: number, measurement: Measurement, work: Work): RunFigures {
  const bytes = measurement.bytes ?? work.bytes ?? Number.NaN
  const items = measurement.items ?? work.items
  return {
    round,
    seconds: measurement.seconds,
    cpuSeconds: measurement.cpuSeconds,
    cpuPerMb: measurement.cpuSeconds / mb(bytes),
    mbPerSecond: mb(bytes) / measurement.seconds,
    itemsPerSecond: items === undefined ? undefined : items / measurement.seconds,
    serverCpuPerMb: measurement.serverCpuSeconds === undefined ? undefined : measurement.serverCpuSeconds / mb(bytes),
    peakRssMb: measurement.peakRssMb,
  }
}

function runLine(name: string, figures: RunFigures, work: Work, width: number): string {
  const parts = [`${name.padEnd(width)} ${figures.seconds.toFixed(2).padStart(7)} s`, `${perMb(figures.cpuPerMb)} CPU-s/MB`, `${fixed(figures.mbPerSecond, 1)} MB/s`]
  if (figures.itemsPerSecond !== undefined) parts.push(`${whole(figures.itemsPerSecond)} ${work.itemUnit ?? 'items'}/s`)
  if (figures.serverCpuPerMb !== undefined) parts.push(`server ${perMb(figures.serverCpuPerMb)} CPU-s/MB`)
  if (figures.peakRssMb !== undefined) parts.push(`peak RSS ${whole(figures.peakRssMb)} MiB`)
  return parts.join('  ')
}

/** Runs a comparison: optional warm-up, then `rounds` rounds in rotated order; each run logged on stderr as it ends. */
export async function compare(comparison: Comparison): Promise<ComparisonResult> {
  const rounds = comparison.rounds ?? benchRounds()
  const {contenders, work} = comparison
  const say = comparison.log ?? log
  const width = Math.max(...contenders.map((contender) => contender.name.length))
  const runs = new Map<string, RunFigures[]>(contenders.map((contender) => [contender.name, []]))
  const failures = new Map<string, string[]>(contenders.map((contender) => [contender.name, []]))
  for (let warm = 0; warm < (comparison.warmup ?? 0); warm++) {
    for (const contender of roundOrder(contenders, warm)) {
      say(`${comparison.title} · warm-up (not counted) · ${contender.name}`)
      await contender.run(-1 - warm)
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const contender of roundOrder(contenders, round)) {
      try {
        const figures = figuresOf(round + 1, await contender.run(round), work)
        runs.get(contender.name)!.push(figures)
        say(`${comparison.title} · round ${round + 1}/${rounds} · ${runLine(contender.name, figures, work, width)}`)
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        failures.get(contender.name)!.push(`round ${round + 1}: ${message}`)
        say(`${comparison.title} · round ${round + 1}/${rounds} · ${contender.name} FAILED: ${message}`)
        process.exitCode = 1
      }
    }
  }
  const summaries = contenders.map((contender): ContenderSummary => {
    const list = runs.get(contender.name)!
    const pick = (get: (figures: RunFigures) => number | undefined) => {
      const values = list.map(get).filter((value): value is number => value !== undefined)
      return values.length > 0 ? median(values) : undefined
    }
    return {
      name: contender.name,
      runs: list,
      failures: failures.get(contender.name)!,
      seconds: median(list.map((figures) => figures.seconds)),
      cpuPerMb: median(list.map((figures) => figures.cpuPerMb)),
      mbPerSecond: median(list.map((figures) => figures.mbPerSecond)),
      itemsPerSecond: pick((figures) => figures.itemsPerSecond),
      serverCpuPerMb: pick((figures) => figures.serverCpuPerMb),
      peakRssMb: pick((figures) => figures.peakRssMb),
    }
  })
  const byName = new Map(summaries.map((summary) => [summary.name, summary]))
  // A pair naming a contender that is not there (a peer that is not installed) is left out.
  const wanted = comparison.pairs ?? contenders.slice(1).map((contender): [string, string] => [contenders[0].name, contender.name])
  const pairs = wanted
    .filter(([ours, peer]) => byName.has(ours) && byName.has(peer))
    .map(([ours, peer]) => {
      const a = byName.get(ours)!
      const b = byName.get(peer)!
      // Round by round: the two runs of a round sit side by side, so the machine's drift between rounds cancels out.
      const perRound: string[] = []
      const ratios: number[] = []
      for (const run of a.runs) {
        const other = b.runs.find((candidate) => candidate.round === run.round)
        if (!other) continue
        perRound.push(shortFaster({name: ours, rate: run.mbPerSecond}, {name: peer, rate: other.mbPerSecond}))
        ratios.push(run.mbPerSecond / other.mbPerSecond)
      }
      return {
        ours,
        peer,
        faster: fasterLabel({name: ours, rate: a.mbPerSecond}, {name: peer, rate: b.mbPerSecond}),
        cpu: cpuLabel({name: ours, cpuPerMb: a.cpuPerMb}, {name: peer, cpuPerMb: b.cpuPerMb}),
        perRound,
        medianOfRounds: fasterLabel({name: ours, rate: median(ratios)}, {name: peer, rate: 1}),
      }
    })
  return {title: comparison.title, work, rounds, contenders: summaries, pairs}
}

/** The result as text for stdout: medians per contender, each run, and the labelled ratios. */
export function formatResult(result: ComparisonResult): string {
  const {work} = result
  const width = Math.max(10, ...result.contenders.map((contender) => contender.name.length))
  const items = work.items === undefined ? '' : `${work.items.toLocaleString('en-US')} ${work.itemUnit ?? 'items'}, `
  const size = work.bytes === undefined ? '' : `${mb(work.bytes).toFixed(1)} MB per run; `
  const lines = [`${result.title}: ${items}${size}${result.rounds} round${result.rounds === 1 ? '' : 's'}, order rotated each round; medians (MB = 10^6 bytes)`]
  const hasItems = result.contenders.some((contender) => contender.itemsPerSecond !== undefined)
  const hasServer = result.contenders.some((contender) => contender.serverCpuPerMb !== undefined)
  const hasRss = result.contenders.some((contender) => contender.peakRssMb !== undefined)
  const header = ['  ' + 'contender'.padEnd(width), '  wall s', ' CPU-s/MB', '   MB/s']
  if (hasItems) header.push(`  ${(work.itemUnit ?? 'items') + '/s'}`.padStart(14))
  if (hasServer) header.push(' server CPU-s/MB')
  if (hasRss) header.push(' peak RSS MiB')
  lines.push(header.join(' '))
  for (const contender of result.contenders) {
    const row = ['  ' + contender.name.padEnd(width), fixed(contender.seconds, 2).padStart(8), perMb(contender.cpuPerMb).padStart(9), fixed(contender.mbPerSecond, 1).padStart(7)]
    if (hasItems) row.push(whole(contender.itemsPerSecond).padStart(14))
    if (hasServer) row.push(perMb(contender.serverCpuPerMb).padStart(16))
    if (hasRss) row.push(whole(contender.peakRssMb).padStart(12))
    lines.push(row.join(' ') + (contender.failures.length > 0 ? `   (${contender.failures.length} failed run${contender.failures.length === 1 ? '' : 's'})` : ''))
  }
  lines.push('  per round (wall s / CPU-s/MB):')
  for (const contender of result.contenders) {
    const cells = contender.runs.map((run) => `${run.round}: ${run.seconds.toFixed(2)} / ${perMb(run.cpuPerMb)}`)
    lines.push(`    ${contender.name.padEnd(width)} ${cells.join('   ') || 'no run'}`)
  }
  for (const contender of result.contenders) {
    for (const failure of contender.failures) lines.push(`  FAILED ${contender.name}, ${failure.split('\n')[0].slice(0, 300)}`)
  }
  for (const pair of result.pairs) {
    lines.push(`  ${pair.faster}; ${pair.cpu}`)
    if (pair.perRound.length > 1) lines.push(`    faster per round: ${pair.perRound.join(', ')}; median of the rounds' ratios: ${pair.medianOfRounds}`)
  }
  return lines.join('\n')
}

/** A line about the machine, for the head of a report: cores, load, how child CPU is counted. */
export function machineLine(): string {
  return `machine: ${os.availableParallelism()} cores, load ${os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}; Node ${process.version}; child CPU counted by ${defaultAccounting === 'time' ? '/usr/bin/time (rusage of the child and its children)' : '/proc/self/stat (reaped children)'}`
}

/** Writes the results as JSON to BENCH_JSON when set, for tools that collect figures across runs. */
export function saveResults(bench: string, results: unknown): void {
  const file = process.env.BENCH_JSON
  if (!file) return
  writeFileSync(file, JSON.stringify({bench, at: new Date().toISOString(), machine: machineLine(), results}, null, 2) + '\n')
  log(`results written to ${file}`)
}
