import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {LocalStorage} from '../../src/plugins/core/storage/local.js'

const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map((dir) => fs.rm(dir, {recursive: true, force: true}))))

/** A small seeded generator (mulberry32), so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('LocalStorage.list passes over entries by name: the same keys as filtering the whole listing', () => {
  it('random trees, prefixes and startAfter values (names around "/" in byte order: "-", ".", "0")', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-local-list-'))
    dirs.push(root)
    const next = random(20261204)
    const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)]
    const parts = ['a', 'a-', 'a.', 'a0', 'b', 'ab', 'day=1', 'day=10', 'x']
    const keys = new Set<string>()
    while (keys.size < 120) {
      const depth = 1 + Math.floor(next() * 3)
      const key = Array.from({length: depth}, () => pick(parts)).join('/')
      // A key and a folder of the same name cannot both exist on disk.
      if ([...keys].some((other) => other.startsWith(key + '/') || key.startsWith(other + '/'))) continue
      keys.add(key)
    }
    for (const key of keys) {
      await fs.mkdir(path.dirname(path.join(root, key)), {recursive: true})
      await fs.writeFile(path.join(root, key), key)
    }
    const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const storage = new LocalStorage(root)
    const listed = async (prefix: string, startAfter?: string) => {
      const out: string[] = []
      for await (const info of storage.list(prefix, {startAfter})) out.push(info.key)
      return out
    }
    expect(await listed('')).toEqual(sorted)
    const candidates = ['', 'a', 'a/', 'a-', 'a/a', 'a/b/', 'ab/', 'day=1', 'day=1/', 'x/x', 'zz', ...sorted.slice(0, 40)]
    for (let round = 0; round < 300; round++) {
      const prefix = pick(candidates)
      const cut = next() < 0.3 ? undefined : pick([...sorted, ...candidates])
      const chopped = cut === undefined ? undefined : cut.slice(0, Math.floor(next() * (cut.length + 1)))
      const expected = sorted.filter((key) => key.startsWith(prefix) && (chopped === undefined || key > chopped))
      expect(await listed(prefix, chopped), `prefix ${JSON.stringify(prefix)} startAfter ${JSON.stringify(chopped)}`).toEqual(expected)
    }
  })
})
