import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {Logger} from '../../src/plugins/core/index.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

describe('Logger.buffered: the lines of one turn of the event loop in one write', () => {
  it('holds the lines logged in one turn and writes them once, in order, with their levels; close writes the rest', async () => {
    const writes: string[] = []
    const {logger, close} = new Logger({stream: {write: (text: string) => writes.push(text)}}).buffered()
    logger.info('first')
    logger.warn('second')
    logger.debug('not shown')
    logger.error('third')
    expect(writes).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toHaveLength(1)
    expect(
      writes[0]
        .split('\n')
        .slice(0, -1)
        .map((line) => line.replace(/^\[[^\]]+\] /, '')),
    ).toEqual(['INFO first', 'WARN second', 'ERROR third'])
    logger.info('fourth')
    close()
    expect(writes).toHaveLength(2)
    expect(writes[1]).toMatch(/INFO fourth\n$/)
    // After close nothing is held back: a line logged then still goes out (next turn), none is lost.
    logger.info('fifth')
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes.join('')).toContain('INFO fifth')
  })

  it('writes a burst at once when it grows past its limit, never dropping or reordering a line', () => {
    const writes: string[] = []
    const {logger, close} = new Logger({stream: {write: (text: string) => writes.push(text)}, format: 'json'}).buffered()
    for (let i = 0; i < 2000; i++) logger.info(`line ${i}`, {i})
    expect(writes.length).toBeGreaterThan(0)
    close()
    const lines = writes
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {i: number})
    expect(lines.map((line) => line.i)).toEqual(Array.from({length: 2000}, (_, i) => i))
  })

  it('writes what it holds when the process exits before close (process.exit in the same turn)', () => {
    const script = `
      import {Logger} from './dist/plugins/core/index.js'
      const {logger} = new Logger().buffered()
      for (let i = 0; i < 3; i++) logger.info('held ' + i)
      process.exit(3)
    `
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {cwd: ROOT, encoding: 'utf8'})
    expect(run.status).toBe(3)
    expect(run.stderr.match(/INFO held \d/g)).toEqual(['INFO held 0', 'INFO held 1', 'INFO held 2'])
  })
})
