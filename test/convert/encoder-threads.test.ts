import {execFileSync} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'

import {EncoderPool} from '../../src/plugins/core/convert/encoder-pool.js'
import {prestart} from '../../src/plugins/core/command/prestart.js'
import {defaultWorkers, discardPrestarted, prestartEncoders, takePrestarted} from '../../src/plugins/core/convert/encoder-threads.js'
import {linesSource, tempDir} from './helpers.js'

const body = (lines: object[]) => new Uint8Array(Buffer.from(lines.map((line) => JSON.stringify(line)).join('\n') + '\n'))

describe('encoder threads started early', () => {
  afterEach(() => discardPrestarted())

  it('are taken over by the pool, which sends them the source and encodes with them', async () => {
    const {source, loader} = await linesSource()
    const early = prestartEncoders(2)
    const pool = await EncoderPool.start(source, loader, 2)
    try {
      expect(pool.threadIds).toEqual(early)
      const time = Date.parse('2021-11-13T00:00:00Z')
      const results = await Promise.all(
        [0, 1, 2].map((id) => pool.encode({id, objects: [{key: `events/2021-11-13/0${id}-00-00.ndjson`, size: 1, time, body: body([{id, speed: 1}])}], compression: 'none', level: 6, validate: false})),
      )
      expect(results.map((result) => [result.records, JSON.parse(Buffer.from(result.data).toString('utf8')).id])).toEqual([
        [1, 0],
        [1, 1],
        [1, 2],
      ])
      // Taken once: a second pool starts threads of its own.
      const second = await EncoderPool.start(source, loader, 2)
      expect(second.threadIds.some((id) => early.includes(id))).toBe(false)
      await second.close()
    } finally {
      await pool.close()
    }
  })

  it('are stopped, not used, when the pool wants another number of them', async () => {
    const {source, loader} = await linesSource()
    const early = prestartEncoders(1)
    const pool = await EncoderPool.start(source, loader, 2)
    try {
      expect(pool.threadIds.some((id) => early.includes(id))).toBe(false)
      expect(takePrestarted(1)).toBeUndefined()
      const result = await pool.encode({
        id: 0,
        objects: [{key: 'events/2021-11-13/00-00-00.ndjson', size: 1, time: Date.parse('2021-11-13T00:00:00Z'), body: body([{id: 7, speed: 1}])}],
        compression: 'gzip',
        level: 6,
        validate: false,
      })
      expect(result.records).toBe(1)
    } finally {
      await pool.close()
    }
  })
})

// bin/run.js hands every command line to the prestart registry before oclif loads; only convert starts threads, and
// only when the run will encode with the default number of them.
describe('the prestart registry (bin/run.js → command/prestart.ts → convert)', () => {
  afterEach(() => discardPrestarted())

  it('starts one encoder thread per core for a convert that will encode', async () => {
    for (const argv of [
      ['convert', 'raw/', 'out/', '--source', 'bustimes'],
      // After `--` everything is an argument, not a flag.
      ['convert', '--source', 'bustimes', '--', 'raw/', '--dry-run'],
      // --workers is the old converter's download concurrency, not threads.
      ['convert', 'raw/', 'out/', '--workers', '32'],
    ]) {
      await prestart(argv)
      const taken = takePrestarted(defaultWorkers())
      expect(taken, argv.join(' ')).toHaveLength(defaultWorkers())
      await Promise.all(taken!.map((worker) => worker.terminate()))
    }
  })

  it('starts nothing for help, a dry run, --threads, another command, or a name that is not a command', async () => {
    for (const argv of [
      ['convert', '--help'],
      ['convert', 'raw/', 'out/', '-h'],
      ['convert', 'raw/', 'out/', '--dry-run'],
      ['convert', 'raw/', 'out/', '--threads', '2'],
      ['convert', 'raw/', 'out/', '--threads=2'],
      ['verify', 'out/'],
      ['constructor'],
      ['__proto__'],
      [],
    ]) {
      await prestart(argv)
      expect(takePrestarted(defaultWorkers()), argv.join(' ')).toBeUndefined()
    }
  })
})

describe('settleDetachProtector', () => {
  it('keeps optimised typed-array code optimised when a buffer is later transferred', async () => {
    const dir = await tempDir()
    try {
      const script = path.join(dir, 'detach.mjs')
      const threads = pathToFileURL(path.resolve('dist/plugins/core/convert/encoder-threads.js')).href
      await fs.writeFile(
        script,
        `const {settleDetachProtector} = await import(${JSON.stringify(threads)})
        if (process.argv.includes('--settle')) settleDetachProtector()
        function sum(bytes) { let total = 0; for (let i = 0; i < bytes.length; i++) total += bytes[i]; return total }
        const bytes = new Uint8Array(64);
        %PrepareFunctionForOptimization(sum); sum(bytes); sum(bytes); %OptimizeFunctionOnNextCall(sum); sum(bytes)
        const optimised = () => (%GetOptimizationStatus(sum) & 16) !== 0
        const before = optimised()
        const buffer = new ArrayBuffer(8)
        new MessageChannel().port1.postMessage(buffer, [buffer])
        console.log(JSON.stringify({before, after: optimised()}))
        process.exit(0)`,
      )
      const run = (...args: string[]) => JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', script, ...args], {encoding: 'utf8'})) as {before: boolean; after: boolean}
      // Without it, the first transfer throws the optimised function away; with it, nothing is lost.
      expect(run()).toEqual({before: true, after: false})
      expect(run('--settle')).toEqual({before: true, after: true})
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})
