import {createHash} from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, describe, expect, it} from 'vitest'

import {openStorage, type Storage} from '../../src/plugins/core/index.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {DryRunStorage} from '../../src/plugins/core/storage/dry-run.js'
import '../helpers/memory-storage.js'
import {createTestBucket, s3Servers, testS3Client, useS3Env} from '../helpers/s3.js'

const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((dir) => fs.rm(dir, {recursive: true, force: true}))))

const backends: {name: string; open: () => Promise<Storage>}[] = [
  {
    name: 'local disk',
    open: async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-dry-'))
      dirs.push(dir)
      return new LocalStorage(dir)
    },
  },
  {name: 'memory', open: () => openStorage(`mem://bw-dry-${process.pid}/root/`)},
  ...s3Servers().map(({name, endpoint}) => ({
    name: `S3 (${name})`,
    open: async () => {
      useS3Env(endpoint)
      return openStorage(`s3://${await createTestBucket('bw-dry', testS3Client(endpoint))}/root/`, {endpoint, retryBaseMs: 5})
    },
  })),
]

/** Every object of a storage with its bytes' digest: what "unchanged" means. */
async function snapshot(storage: Storage): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for await (const info of storage.list())
    out[info.key] = createHash('sha256')
      .update(await storage.readBytes(info.key))
      .digest('hex')
  return out
}

describe.each(backends)('DryRunStorage over $name', ({open}) => {
  it('records writes, deletes, copies and moves without making them; reads and listings see the store', async () => {
    const store = await open()
    try {
      await store.write('a/one.txt', 'one')
      await store.write('a/two.txt', 'two')
      const before = await snapshot(store)
      const dry = new DryRunStorage(store)

      const written = await dry.write('a/one.txt', Readable.from([Buffer.from('new '), Buffer.from('body')]))
      expect(written).toMatchObject({key: 'a/one.txt', size: 8, md5: createHash('md5').update('new body').digest('hex'), sha256: createHash('sha256').update('new body').digest('base64')})
      await dry.write('b/three.txt', 'three')
      expect(await dry.delete(['a/two.txt'])).toEqual({deleted: ['a/two.txt'], errors: []})
      await dry.copy('a/one.txt', 'c/copy.txt')
      await dry.move('a/two.txt', 'c/moved.txt')
      await dry.sub('a/').delete(['one.txt'])

      expect(dry.planned).toEqual([
        {operation: 'write', key: 'a/one.txt'},
        {operation: 'write', key: 'b/three.txt'},
        {operation: 'delete', key: 'a/two.txt'},
        {operation: 'copy', key: 'c/copy.txt', from: 'a/one.txt'},
        {operation: 'move', key: 'c/moved.txt', from: 'a/two.txt'},
        {operation: 'delete', key: 'a/one.txt'},
      ])
      // Nothing changed, seen through the decorator and directly.
      expect(await snapshot(dry)).toEqual(before)
      expect(await snapshot(store)).toEqual(before)
      expect((await dry.readBytes('a/one.txt')).toString()).toBe('one')
      expect(await dry.head('b/three.txt')).toBeUndefined()
      // Capabilities are the store's: plans price its requests, readers use its files in place.
      expect(dry.stats).toBe(store.stats)
      expect(dry.localPath?.('a/one.txt')).toBe(store.localPath?.('a/one.txt'))
      expect(dry.uri).toBe(store.uri)
    } finally {
      await store.close()
    }
  })
})
