// Decode throughput of the bustimes source against the reference (ast.literal_eval / json.loads + json.dumps per
// vehicle, the parse-and-serialise part of ../shared/bench/reference_convert.py), on the same realistic archive,
// interleaved over several rounds; prints medians and the ratio. Only decoding is measured: no I/O, no gzip.
//
//   npm run bench:decode [-- --count 200 --rounds 5 --dir /tmp/bt]
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bench = path.resolve(root, '..', 'shared', 'bench')
const {values} = parseArgs({options: {count: {type: 'string', default: '200'}, rounds: {type: 'string', default: '5'}, dir: {type: 'string'}, worker: {type: 'string'}}})

function keysOf(dir) {
  const raw = existsSync(path.join(dir, 'raw')) ? readdirSync(path.join(dir, 'raw')).map((name) => `raw/${name}`) : []
  return [...readdirSync(dir).filter((name) => name.startsWith('bustimes__')), ...raw].sort()
}

// One timed pass in a fresh process (after one warm-up pass), so rounds are independent.
if (values.worker) {
  const {toJsonLines, decodeVehicles} = await import(path.join(root, 'dist', 'plugins', 'bustimes', 'index.js'))
  const dir = values.worker
  const keys = keysOf(dir)
  const bodies = keys.map((key) => readFileSync(path.join(dir, key)))
  const pass = (decode) => {
    let records = 0
    const start = process.hrtime.bigint()
    const cpu = process.cpuUsage()
    for (let i = 0; i < keys.length; i++) records += decode(bodies[i], keys[i])
    const used = process.cpuUsage(cpu)
    return {records, seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: (used.user + used.system) / 1e6}
  }
  const lines = (body, key) => toJsonLines(body, key).records
  const objects = (body, key) => {
    const records = decodeVehicles(body, key)
    for (const record of records) JSON.stringify(record)
    return records.length
  }
  pass(lines)
  const fast = pass(lines)
  const slow = pass(objects)
  // The synthetic generator over the same span of time (one object a minute).
  const {generateBustimes} = await import(path.join(root, 'dist', 'plugins', 'bustimes', 'index.js'))
  const generate = async () => {
    let count = 0
    for await (const object of generateBustimes({range: {from: new Date('2021-11-10T05:00:00Z'), to: new Date(Date.parse('2021-11-10T05:00:00Z') + keys.length * 60_000)}, seed: 1})) {
      count += toJsonLines(Buffer.from(object.body), object.key).records
    }
    return count
  }
  await generate() // warm-up, as for decoding
  const cpu = process.cpuUsage()
  const generated = await generate()
  const generateCpu = process.cpuUsage(cpu)
  process.stdout.write(JSON.stringify({records: fast.records, lines: fast.seconds, linesCpu: fast.cpuSeconds, objects: slow.seconds, bytes: bodies.reduce((sum, body) => sum + body.length, 0), generated, generateCpu: (generateCpu.user + generateCpu.system) / 1e6}))
  process.exit(0)
}

const REFERENCE = String.raw`
import ast, json, os, sys, time
CUTOFF = 'raw/bustimes__2021-11-10__07-15-05.json'
d = sys.argv[1]
keys = sorted([k for k in os.listdir(d) if k.startswith('bustimes__')] + ['raw/' + k for k in os.listdir(os.path.join(d, 'raw'))])
bodies = [open(os.path.join(d, k)).read() for k in keys]
t = time.perf_counter(); c = time.process_time(); n = 0
for k, body in zip(keys, bodies):
    data = ast.literal_eval(body) if k <= CUTOFF else json.loads(body)
    if isinstance(data, dict):
        data = data['resultSet']['vehicle']
    stamp = 'T'.join(k.split('__')[1:3])
    for v in data:
        v['snapshot_time'] = stamp
        json.dumps(v)
        n += 1
print(json.dumps({'records': n, 'seconds': time.perf_counter() - t, 'cpuSeconds': time.process_time() - c}))
`

if (!existsSync(path.join(root, 'dist', 'plugins', 'bustimes', 'index.js'))) {
  console.error('Run `npm run build` first.')
  process.exit(1)
}
let dir = values.dir
const scratch = dir ? undefined : mkdtempSync(path.join(os.tmpdir(), 'bw-bench-decode-'))
if (!dir) {
  dir = scratch
  // 2021-11-10 05:00 onwards crosses the repr→JSON cutoff at 07:15:05; a few root-level keys and API envelopes.
  execFileSync('python3', [path.join(bench, 'make_bustimes.py'), dir, '--start', '2021-11-10T05:00:00', '--count', values.count, '--every', '60', '--root-level', '3', '--envelope-every', '7'], {stdio: 'inherit'})
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ours = []
const objects = []
const reference = []
const cpuRatios = []
const cpuRates = []
const generateRates = []
let records = 0
let bytes = 0
for (let round = 0; round < Number(values.rounds); round++) {
  const node = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--worker', dir], {encoding: 'utf8'}))
  const python = spawnSync('python3', ['-c', REFERENCE, dir], {encoding: 'utf8'})
  if (python.status !== 0) throw new Error(python.stderr)
  const ref = JSON.parse(python.stdout)
  if (ref.records !== node.records) throw new Error(`record counts differ: reference ${ref.records}, bucketwright ${node.records}`)
  records = node.records
  bytes = node.bytes
  ours.push(records / node.lines)
  objects.push(records / node.objects)
  reference.push(records / ref.seconds)
  cpuRatios.push(ref.cpuSeconds / node.linesCpu)
  cpuRates.push(records / node.linesCpu)
  generateRates.push(node.generated / node.generateCpu)
  console.error(`round ${round + 1}: toJsonLines ${Math.round(records / node.lines)} records/s, decode+stringify ${Math.round(records / node.objects)} records/s, reference ${Math.round(records / ref.seconds)} records/s`)
}
const result = {
  objects: keysOf(dir).length,
  records,
  megabytes: Math.round(bytes / 1e5) / 10,
  toJsonLinesRecordsPerSecond: Math.round(median(ours)),
  toJsonLinesMegabytesPerSecond: Math.round((median(ours) * bytes) / records / 1e6),
  decodeAndStringifyRecordsPerSecond: Math.round(median(objects)),
  referenceRecordsPerSecond: Math.round(median(reference)),
  ratio: Math.round((median(ours) / median(reference)) * 10) / 10,
  ratioPerRound: ours.map((rate, i) => Math.round((rate / reference[i]) * 10) / 10),
  // CPU seconds rather than wall time: steadier on a shared, busy machine.
  toJsonLinesRecordsPerCpuSecond: Math.round(median(cpuRates)),
  cpuRatio: Math.round(median(cpuRatios) * 10) / 10,
  // generate() then toJsonLines() of what it made, per CPU second.
  generateAndDecodeRecordsPerCpuSecond: Math.round(median(generateRates)),
}
console.log(JSON.stringify(result, null, 2))
if (scratch) rmSync(scratch, {recursive: true, force: true})
