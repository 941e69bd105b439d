import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {excludeMatcher, isTemporaryName, printableName, scanRoot} from '../../src/plugins/core/upload-daemon/scan.js'
import {makeRoot} from './helpers.js'

describe('scan: names and globs', () => {
  it('temporary names: the usual writers’ in-progress names, and nothing else', () => {
    for (const name of ['a.partial', 'b.crdownload', 'c.swp', 'd.swx', '#e#', '.~lock.f.odt#', 'g.tmp', 'h.part', 'i~', '.hidden']) expect(isTemporaryName(name), name).toBe(true)
    for (const name of ['a.csv', 'partial', 'swp', 'x.swp.gz', '#', 'a#b#', 'report.parts', 'tmp']) expect(isTemporaryName(name), name).toBe(false)
  })

  it('--exclude follows rclone: unanchored globs match at any depth, / anchors at the root, /** and / prune directories', () => {
    const match = excludeMatcher(['*.log', '/b/top.csv', 'scratch/**', 'cache/', '{x,y}.tmp2', 'd?.bin'])!
    expect(match.file('b/a.log')).toBe(true)
    expect(match.file('b/deep/er/a.log')).toBe(true)
    expect(match.file('b/.hidden.log')).toBe(true) // * matches dotfiles, as in rclone
    expect(match.file('b/a.log.gz')).toBe(false)
    expect(match.file('b/top.csv')).toBe(true)
    expect(match.file('b/sub/top.csv')).toBe(false)
    expect(match.file('c/top.csv')).toBe(false)
    expect(match.file('b/scratch/x/y.txt')).toBe(true)
    expect(match.file('b/y.tmp2')).toBe(true)
    expect(match.file('b/d1.bin')).toBe(true)
    expect(match.file('b/d12.bin')).toBe(false)
    expect(match.directory('b/scratch')).toBe(true)
    expect(match.directory('b/x/cache')).toBe(true)
    expect(match.directory('b/cachet')).toBe(false)
    // A file glob never prunes a directory that happens to match it.
    expect(match.directory('b/dir.log')).toBe(false)
    expect(excludeMatcher([])).toBeUndefined()
  })

  it('names that are not UTF-8 print with \\xNN for the bad bytes, valid characters kept', () => {
    expect(printableName(Buffer.concat([Buffer.from('a'), Buffer.from([0xff]), Buffer.from('é.txt')]))).toBe('a\\xffé.txt')
    expect(printableName(Buffer.from([0xe2, 0x82]))).toBe('\\xe2\\x82') // a cut-off sequence
    expect(printableName(Buffer.from('日本.csv'))).toBe('日本.csv')
  })
})

describe('scan: entries that vanish while it walks', () => {
  it('never throws while files and directories are removed and made again around it; reports what vanished', async () => {
    const root = await makeRoot()
    const make = (d: number) => {
      mkdirSync(path.join(root, 'b', `d${d}`, 'sub'), {recursive: true})
      for (let f = 0; f < 5; f++) writeFileSync(path.join(root, 'b', `d${d}`, 'sub', `f${f}.txt`), 'x')
    }
    for (let d = 0; d < 20; d++) make(d)
    let vanished = 0
    let churning = true
    // Between the scan's awaits (one per directory listing), remove directories it has listed but not read yet.
    const churn = () => {
      if (!churning) return
      const d = Math.floor(Math.random() * 20)
      rmSync(path.join(root, 'b', `d${d}`), {recursive: true, force: true})
      if (Math.random() < 0.5) make(Math.floor(Math.random() * 20))
      setImmediate(churn)
    }
    setImmediate(churn)
    try {
      for (let i = 0; i < 40; i++) {
        const result = await scanRoot(root, {stabilitySeconds: 0, includeTemp: false})
        vanished += result.skipped.vanished
        expect(result.problems).toEqual([])
        for (const candidate of result.candidates) expect(candidate.key).toMatch(/^d\d+\/sub\/f\d\.txt$/)
      }
    } finally {
      churning = false
    }
    // The path under test was taken (by a wide margin on any machine: 40 scans, a removal between each listing).
    expect(vanished).toBeGreaterThan(0)
  })
})
