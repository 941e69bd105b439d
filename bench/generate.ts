/**
 * npm run bench:generate — `generate` for wydot-bsm: the generator alone, and the whole command path (the generator
 * plus concurrent writes through LocalStorage, which fsyncs and digests every object) on tmpfs when there is one.
 * Both in this process (CPU = this process, all threads); rounds interleaved, order rotated, medians.
 * MB = bytes generated. Env: ROUNDS (5), HOURS (5: the span of time generated).
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {benchRounds, compare, type Contender, formatResult, loadBuilt, machineLine, measureInProcess, saveResults} from './harness.js'

const ROUNDS = benchRounds()
const HOURS = Number(process.env.HOURS ?? 5)
const {LocalStorage} = await loadBuilt<typeof import('../src/plugins/core/storage/local.js')>('plugins/core/storage/local.js')
const {writeGenerated} = await loadBuilt<typeof import('../src/plugins/core/generate/generate.js')>('plugins/core/generate/generate.js')
const {wydotBsmSource} = await loadBuilt<typeof import('../src/plugins/wydot-bsm/index.js')>('plugins/wydot-bsm/index.js')
const source = wydotBsmSource()
const from = new Date('2019-03-01T00:00:00Z')
const range = {from, to: new Date(from.getTime() + HOURS * 3_600_000)}
const scratchRoot = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()

let expected: {records: number; bytes: number} | undefined
/** Both ways must make the same records and bytes (same seed, same range). */
function same(who: string, made: {records: number; bytes: number}) {
  expected ??= made
  if (made.records !== expected.records || made.bytes !== expected.bytes) throw new Error(`${who} made ${made.records} records in ${made.bytes} bytes, another run ${expected.records} in ${expected.bytes}`)
  return {items: made.records, bytes: made.bytes}
}

const contenders: Contender[] = [
  {
    name: 'generator alone',
    async run() {
      const measured = await measureInProcess(async () => {
        let records = 0
        let bytes = 0
        for await (const object of source.generate!({range, seed: 1})) {
          records += object.records ?? 0
          bytes += typeof object.body === 'string' ? Buffer.byteLength(object.body) : object.body.length
        }
        return {records, bytes}
      })
      return {...measured, ...same(this.name, measured.value)}
    },
  },
  {
    name: `generate to ${scratchRoot}`,
    async run() {
      const dir = mkdtempSync(path.join(scratchRoot, 'bw-bench-gen-'))
      try {
        const measured = await measureInProcess(() => writeGenerated(source, new LocalStorage(dir), {range, seed: 1}))
        return {...measured, ...same(this.name, {records: measured.value.records ?? 0, bytes: measured.value.bytes})}
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    },
  },
]

// The work's size is known after the first run: each run reports its own bytes and records.
const result = await compare({title: `generate wydot-bsm, ${HOURS} h from ${from.toISOString().slice(0, 10)}`, work: {itemUnit: 'records'}, contenders, rounds: ROUNDS})
console.log([machineLine(), `${formatResult(result)}\n  every run made ${expected?.records.toLocaleString('en-US')} records, ${((expected?.bytes ?? 0) / 1e6).toFixed(1)} MB`].join('\n\n'))
saveResults('generate', result)
