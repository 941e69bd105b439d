/**
 * npm run bench:decode — decode throughput of the bustimes source against the reference's way (ast.literal_eval /
 * json.loads + json.dumps per vehicle: the parse-and-serialise part of the original converter, inline below), on
 * the same archive (made by the project's generator across the repr→JSON cutoff). Only decoding is measured: no
 * I/O, no gzip. Each run is a fresh process that reads the bodies, makes a warm-up pass (Node; CPython has no JIT),
 * then one timed pass, and reports its wall and CPU time. Rounds interleaved, order rotated, medians. MB = bytes of
 * the raw bodies.
 * Also the generator: generate() then toJsonLines() of what it made, over as many objects.
 *
 *   ROUNDS=5 OBJECTS=200 npm run bench:decode     (ARCHIVE=DIR: an existing archive instead of a generated one)
 *   npx tsx bench/decode.ts --worker DIR [--pass lines|objects|generate]     one timed pass, for profiling
 */
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {writeBustimesArchive} from './data.js'
import {benchRounds, compare, type Contender, formatResult, loadBuilt, log, machineLine, measureChild, saveResults} from './harness.js'

// `rounds` only so that benchRounds() can say it is now ROUNDS, instead of parseArgs refusing an unknown option.
const {values} = parseArgs({options: {worker: {type: 'string'}, pass: {type: 'string', default: 'lines'}, rounds: {type: 'string'}}})

/** Keys of an archive folder: legacy root-level ones and raw/ ones, sorted. */
function keysOf(dir: string): string[] {
  const raw = readdirSync(path.join(dir, 'raw')).map((name) => `raw/${name}`)
  return [...readdirSync(dir).filter((name) => name.startsWith('bustimes__')), ...raw].sort()
}

/** What a worker reports for its timed pass. */
interface PassReport {
  records: number
  bytes: number
  seconds: number
  cpuSeconds: number
}

async function worker(dir: string, pass: string): Promise<PassReport> {
  const bustimes = await loadBuilt<typeof import('../src/plugins/bustimes/index.js')>('plugins/bustimes/index.js')
  const keys = keysOf(dir)
  const bodies = keys.map((key) => readFileSync(path.join(dir, key)))
  const bytes = bodies.reduce((sum, body) => sum + body.length, 0)
  const timed = async (work: () => Promise<number> | number) => {
    await work() // warm-up: the optimising compiler has seen the loops once
    const cpu = process.cpuUsage()
    const started = process.hrtime.bigint()
    const records = await work()
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const used = process.cpuUsage(cpu)
    return {records, seconds, cpuSeconds: (used.user + used.system) / 1e6}
  }
  if (pass === 'lines') {
    return {bytes, ...(await timed(() => keys.reduce((sum, key, i) => sum + bustimes.toJsonLines(bodies[i], key).records, 0)))}
  }
  if (pass === 'objects') {
    return {
      bytes,
      ...(await timed(() => {
        let records = 0
        for (let i = 0; i < keys.length; i++) {
          const vehicles = bustimes.decodeVehicles(bodies[i], keys[i])
          for (const vehicle of vehicles) JSON.stringify(vehicle)
          records += vehicles.length
        }
        return records
      })),
    }
  }
  if (pass === 'generate') {
    // The generator over the same span of time (one object a minute), each object decoded as the source would.
    const from = new Date('2021-11-10T05:00:00Z')
    const range = {from, to: new Date(from.getTime() + keys.length * 60_000)}
    let generatedBytes = 0
    const run = await timed(async () => {
      let records = 0
      generatedBytes = 0
      for await (const object of bustimes.generateBustimes({range, seed: 1})) {
        const body = typeof object.body === 'string' ? Buffer.from(object.body) : object.body
        generatedBytes += body.length
        records += bustimes.toJsonLines(body, object.key).records
      }
      return records
    })
    return {...run, bytes: generatedBytes}
  }
  throw new Error(`unknown --pass ${pass}: lines, objects or generate`)
}

if (values.worker) {
  process.stdout.write(JSON.stringify(await worker(values.worker, values.pass!)) + '\n')
  process.exit(0)
}

/** The reference's decoding, as reference_convert.py does it per object, timed in Python for one pass (CPython has no JIT to warm up). */
const REFERENCE = String.raw`
import ast, json, os, sys, time
CUTOFF = 'raw/bustimes__2021-11-10__07-15-05.json'
d = sys.argv[1]
keys = sorted([k for k in os.listdir(d) if k.startswith('bustimes__')] + ['raw/' + k for k in os.listdir(os.path.join(d, 'raw'))])
bodies = [open(os.path.join(d, k)).read() for k in keys]
def decode():
    n = 0
    for k, body in zip(keys, bodies):
        data = ast.literal_eval(body) if k <= CUTOFF else json.loads(body)
        if isinstance(data, dict):
            data = data['resultSet']['vehicle']
        stamp = 'T'.join(k.split('__')[1:3])
        for v in data:
            v['snapshot_time'] = stamp
            json.dumps(v)
            n += 1
    return n
t = time.perf_counter(); c = time.process_time()
n = decode()
print(json.dumps({'records': n, 'bytes': sum(len(b.encode()) for b in bodies), 'seconds': time.perf_counter() - t, 'cpuSeconds': time.process_time() - c}))
`

const ROUNDS = benchRounds()
const OBJECTS = Number(process.env.OBJECTS ?? 200)
const self = fileURLToPath(import.meta.url)
const scratch = process.env.ARCHIVE ? undefined : mkdtempSync(path.join(os.tmpdir(), 'bw-bench-decode-'))
const dir = process.env.ARCHIVE ?? scratch!
try {
  if (scratch) {
    // 2021-11-10 05:00 onwards, one a minute: crosses the repr→JSON cutoff at 07:15:05, some JSON objects as API envelopes.
    log(`generating a ${OBJECTS}-object bustimes archive in ${dir}`)
    await writeBustimesArchive(dir, {start: '2021-11-10T05:00:00', count: OBJECTS, everySeconds: 60})
  }
  let records: number | undefined
  /** A run in a fresh process whose last stdout line is its {@link PassReport}. */
  const pass = (name: string, command: string, args: string[], checkRecords = true): Contender => ({
    name,
    async run() {
      const out = await measureChild(command, args)
      if (out.status !== 0) throw new Error(`${name} exited ${out.status}: ${out.stderr.slice(-2000)}`)
      const report = JSON.parse(out.stdout.trim().split('\n').pop()!) as PassReport
      if (checkRecords) {
        records ??= report.records
        if (report.records !== records) throw new Error(`${name} decoded ${report.records} records, another run ${records}`)
      }
      return {seconds: report.seconds, cpuSeconds: report.cpuSeconds, bytes: report.bytes, items: report.records}
    },
  })
  const tsx = (passName: string) => ['--import', 'tsx', self, '--worker', dir, '--pass', passName]
  const lines = 'bucketwright toJsonLines'
  const objects = 'bucketwright decode + JSON.stringify'
  const reference = 'Python reference'
  const bytes = keysOf(dir).reduce((sum, key) => sum + readFileSync(path.join(dir, key)).length, 0)
  const result = await compare({
    title: `decode ${keysOf(dir).length} bustimes objects (one pass)`,
    work: {bytes, itemUnit: 'records'},
    contenders: [
      pass(lines, process.execPath, tsx('lines')),
      pass(objects, process.execPath, tsx('objects')),
      pass(reference, 'python3', ['-c', REFERENCE, dir]),
      pass('bucketwright generate + toJsonLines', process.execPath, tsx('generate'), false),
    ],
    pairs: [
      [lines, reference],
      [objects, reference],
    ],
    rounds: ROUNDS,
  })
  console.log(
    [
      machineLine(),
      `${formatResult(result)}\n  Python reference = ast.literal_eval (before the cutoff) or json.loads, then json.dumps of each vehicle, as reference_convert.py decodes\n  wall and CPU of one timed pass only, as each process measured it (Node after a warm-up pass); generate + toJsonLines: the generator's own bytes and records over the same span`,
    ].join('\n\n'),
  )
  saveResults('decode', result)
} finally {
  if (scratch) rmSync(scratch, {recursive: true, force: true})
}
