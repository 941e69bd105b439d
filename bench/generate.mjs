// Benchmark of `generate` for wydot-bsm: records/s of the generator alone and of the whole command path (generator
// + concurrent writes through LocalStorage, which fsyncs and digests every object), on tmpfs when there is one.
// Medians of ROUNDS runs; wall time and CPU time both, since this machine is shared and wall time is noisy.
// Usage: npm run build && npm run bench:generate [-- --hours 5 --rounds 5]
import {mkdtempSync, rmSync, existsSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {parseArgs} from 'node:util'

const {values} = parseArgs({options: {hours: {type: 'string', default: '5'}, rounds: {type: 'string', default: '5'}}})
const {LocalStorage, writeGenerated} = await import('../dist/plugins/core/index.js')
const {wydotBsmSource} = await import('../dist/plugins/wydot-bsm/index.js')
const source = wydotBsmSource()
const from = new Date('2019-03-01T00:00:00Z')
const range = {from, to: new Date(from.getTime() + Number(values.hours) * 3_600_000)}
const scratchRoot = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()

async function measure(work) {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const records = await work()
  const wall = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  return {records, wallRate: records / wall, cpuRate: records / ((used.user + used.system) / 1e6)}
}

const generatorOnly = () =>
  measure(async () => {
    let records = 0
    for await (const object of source.generate({range, seed: 1})) records += object.records
    return records
  })

const endToEnd = () =>
  measure(async () => {
    const dir = mkdtempSync(path.join(scratchRoot, 'bw-bench-gen-'))
    try {
      return (await writeGenerated(source, new LocalStorage(dir), {range, seed: 1})).records
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = {generator: [], generate: []}
for (let round = 0; round < Number(values.rounds); round++) {
  // Interleaved, so both see the same machine load.
  results.generator.push(await generatorOnly())
  results.generate.push(await endToEnd())
}
for (const [name, runs] of Object.entries(results)) {
  console.log(
    `${name.padEnd(10)} ${runs[0].records} records/run  median ${Math.round(median(runs.map((r) => r.wallRate)))} records/s wall, ${Math.round(median(runs.map((r) => r.cpuRate)))} records/s per CPU-second  (${runs.length} rounds, load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs)`,
  )
}
